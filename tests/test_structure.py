"""The package's structure: imports run down the layers (zoo.tools.check_layers), models
register themselves where they are defined, and every private Keras API zoo touches is listed
(zoo.core.private_api) under a pinned Keras."""

import pathlib
import re

import pytest

from zoo.tools import check_layers

ROOT = pathlib.Path(__file__).resolve().parents[1]
ONCE = pytest.mark.once_under("tensorflow", "reads source files only: the same on every backend")


@ONCE
def test_imports_run_down_the_layers_on_main():
    assert check_layers.problems() == []


def _tree(tmp_path, files):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@ONCE
def test_an_import_up_the_layers_or_a_loop_is_found(tmp_path):
    root = _tree(tmp_path, {
        "zoo/__init__.py": "", "zoo/models/__init__.py": "", "zoo/core/__init__.py": "",
        "zoo/cards.py": "def f():\n    from zoo import evaluation\n",      # presets -> uses, inside a function
        "zoo/evaluation.py": "from zoo.cards import f\n",
        "zoo/models/gan.py": "from zoo.registry import load\n",            # models -> presets
        "zoo/registry.py": "import zoo.models.gan\n",
        "zoo/io.py": "from zoo.core import model\n",                       # foundation -> core
        "zoo/core/model.py": "from zoo import io\n",
        "recipes/a.py": "", "benchmarks/b.py": "from zoo.recipes.a import x\n"})
    found = "\n".join(check_layers.problems(root))
    assert "zoo/cards.py:2: zoo.cards (presets) imports zoo.evaluation (uses), a layer above it" in found
    assert "zoo.models.gan (models) imports zoo.registry (presets)" in found
    assert "zoo.io (foundation) imports zoo.core.model (core)" in found
    assert "benchmarks.b imports the recipe zoo.recipes.a" in found
    assert "import loop of 2 modules (each reaches the others): zoo.cards, zoo.evaluation" in found
    assert "zoo.core.model, zoo.io" in found


@ONCE
def test_a_loop_through_a_packages_init_is_found(tmp_path):
    """`from zoo.core import guard` inside zoo.core runs zoo/core/__init__.py, which imports
    zoo.core.model, which imports guard: a loop of three, though no module names another's
    file."""
    root = _tree(tmp_path, {
        "zoo/__init__.py": "", "zoo/core/__init__.py": "from zoo.core.model import ZooModel\n",
        "zoo/core/model.py": "from zoo.core import guard\n", "zoo/core/guard.py": "from zoo.core import backend\n",
        "zoo/core/backend.py": "", "recipes/a.py": "", "benchmarks/b.py": ""})
    assert check_layers.problems(root) == [
        "import loop of 3 modules (each reaches the others): zoo.core, zoo.core.guard, zoo.core.model"]
    (root / "zoo/core/guard.py").write_text("import zoo.core.backend as backend\n")
    (root / "zoo/core/model.py").write_text("import zoo.core.guard as guard\n")
    assert check_layers.problems(root) == []


@ONCE
def test_every_private_keras_api_in_zoo_is_listed_with_why():
    from zoo.core.private_api import PRIVATE

    listed = {entry["name"] for entry in PRIVATE}
    assert all(entry["why"] and (ROOT / entry["where"]).is_file() for entry in PRIVATE)
    used = {}
    for path in (ROOT / "zoo").rglob("*.py"):
        if path.name == "private_api.py":
            continue
        text = path.read_text(encoding="utf-8")
        names = re.findall(r"\bkeras\.src(?:\.\w+)*", text)
        names = [n.rsplit(".", 1)[0] if n.count(".") > 4 else n for n in names]  # the module, not its member
        names += [n for owner, n in re.findall(r"(\w+|\))\.(_[a-z]\w*)\b", text) if owner not in ("self", "cls")]
        names += re.findall(r"getattr\(\w+, \"(_[a-z]\w*)\"", text)
        names += re.findall(r"\b\w+\.(apply) = ", text)  # a public method replaced on an instance
        for name in names:
            used.setdefault(name, path.relative_to(ROOT).as_posix())
    ours = {"_zoo_adapted", "_trackers"}  # zoo's own attributes
    missing = {n: where for n, where in used.items() if n not in listed and n not in ours}
    assert not missing, f"private APIs used but not listed in zoo/core/private_api.py: {missing}"


@ONCE
def test_keras_is_pinned_below_the_next_minor_version_and_the_installed_one_fits():
    import keras

    text = (ROOT / "pyproject.toml").read_text()
    low, high = re.search(r'"keras>=([\d.]+),<([\d.]+)"', text).groups()
    version = tuple(int(p) for p in keras.__version__.split(".")[:3] if p.isdigit())
    as_tuple = lambda v: tuple(int(p) for p in v.split("."))  # noqa: E731
    assert as_tuple(low) <= version < as_tuple(high)
    assert as_tuple(high)[:2] == (as_tuple(low)[0], as_tuple(low)[1] + 1)  # one minor version at a time


def test_a_model_class_registers_where_it_is_defined():
    import keras

    from zoo.models import MODELS
    from zoo.tasks import ImageGenerator, register_model

    assert {"zoo>GAN", "zoo>DiffusionModel", "zoo>TextToImage"} <= set(MODELS)
    assert not re.search(r"^from zoo\.models\.\w+ import", (ROOT / "zoo/models/__init__.py").read_text(), re.M)

    @register_model
    class TinyFamily(ImageGenerator):
        family = "tiny"

    try:
        assert MODELS["zoo>TinyFamily"] is TinyFamily
        assert keras.saving.get_registered_object("zoo>TinyFamily") is TinyFamily
        assert TinyFamily.declarations({"class": "TinyFamily"})["tags"] == [
            "keras", "zoo", "image-generation", "tiny", "tinyfamily"]
        with pytest.raises(ValueError, match="two zoo models are registered as TinyFamily"):
            register_model(type("TinyFamily", (ImageGenerator,), {}))
    finally:
        MODELS.pop("zoo>TinyFamily")
