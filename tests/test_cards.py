"""Model cards: every shipped preset's README.md parses as a Hugging Face model card and says
what its metadata.json measured; save_preset writes one; the card lists every file's sha256."""

import json

import pytest
from conftest import FIXTURES, small_gan, zoo_cli

import zoo
from zoo import cards
from zoo.registry import PRESETS_DIR
from zoo.io import sha256

SHIPPED = sorted(p.parent.name for p in PRESETS_DIR.glob("*/metadata.json"))
PIPELINES = {"unconditional-image-generation", "image-generation", "text-generation", "image-feature-extraction",
             "text-to-image", "zero-shot-image-classification"}


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_card_has_front_matter_and_the_measured_numbers(name):
    pytest.importorskip("yaml", reason="PyYAML (the dev extra) reads the front matter")
    folder = PRESETS_DIR / name
    text = (folder / "README.md").read_text(encoding="utf-8")
    meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    front = cards.parse_front_matter(text)
    assert front["library_name"] == "keras"
    assert front["pipeline_tag"] in PIPELINES
    assert front["license"] in ("mit", "cc-by-sa-3.0", "other") and isinstance(front["tags"], list)
    assert isinstance(front["datasets"], list)
    if meta["dataset"]["name"] == "anime_faces":
        assert front["license"] == "other" and front["license_name"] == "research-only"
    assert meta["recipe"] in text and meta["machine"] in text
    for result in meta.get("evaluation", {}).values():
        assert f"{result['fid']:.2f}" in text
    if (folder / "sample.png").exists():
        assert "](sample.png)" in text
    for filename, digest in meta["files"].items():
        assert sha256(folder / filename) == digest, f"{name}/{filename} differs from its card"
    assert {"README.md", "config.json", "model.weights.h5"} <= set(meta["files"])


def test_save_preset_writes_a_card_that_a_card_update_rewrites(tmp_path):
    path = zoo.save_preset(small_gan(seed=0), tmp_path / "mine", dataset="mnist", description="a test GAN",
                           recipe="python recipes/gan_mnist.py --epochs 1")
    text = (path / "README.md").read_text()
    assert "a test GAN" in text and "python recipes/gan_mnist.py --epochs 1" in text and "MNIST" in text
    zoo.publish.update_card(path, {"test_metrics": {"fid_like": 12.5}})
    text = (path / "README.md").read_text()
    assert "12.5" in text
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["files"]["README.md"] == sha256(path / "README.md")


def test_a_fine_tuned_preset_has_its_own_name_its_base_and_the_strictest_licence(tmp_path, capsys):
    """`zoo train dcgan_anime --init dcgan_anime --data my_faces/` wrote `license: mit` for
    weights derived from a research-only preset, titled with the shipped name and telling the
    reader `zoo.load("dcgan_anime")`; a Python save_preset wrote "recipe None", "backend None"
    and a "." description."""
    status, _, err = zoo_cli(capsys, "train", "gan_mnist", "--init", "gan_mnist", "--data", FIXTURES / "mnist_tiny.npz",
                             "--epochs", "1", "--workdir", tmp_path / "run", "--verbose", "0")
    assert status in (0, None), err
    preset = tmp_path / "run" / "preset"
    card, text = cards.read_card(preset), (preset / "README.md").read_text(encoding="utf-8")
    front = cards.parse_front_matter(text) if _yaml() else {}
    assert card["name"] == "gan_mnist_mnist_tiny" and "# gan_mnist_mnist_tiny" in text
    assert card["base_model"] == {"name": "gan_mnist", "sha256": zoo.info("gan_mnist")["weights_sha256"],
                                  "license": "cc-by-sa-3.0"}
    assert 'zoo.load("path/to/gan_mnist_mnist_tiny")' in text and 'zoo.load("gan_mnist")' not in text
    assert "Trained further from `gan_mnist`" in text and "research only, as the data's owner's terms" in text
    if front:  # a file zoo does not know: its owner's terms, stricter than MNIST's cc-by-sa-3.0
        assert front["license"] == "other" and front["base_model"] == "gan_mnist"
    # from Python, after more training of a loaded shipped preset
    model = zoo.load("gan_mnist")
    saved = zoo.save_preset(model, tmp_path / "mine", dataset="mnist")
    card, text = cards.read_card(saved), (saved / "README.md").read_text(encoding="utf-8")
    assert card["backend"] and card["machine"].endswith(card["machine"].split(", Python ")[-1])
    assert ", Python 3." in card["machine"] and "None" not in text and "\n.\n" not in text
    assert "| recipe | none recorded (saved with `zoo.save_preset` from Python) |" in text
    assert card["base_model"]["name"] == "gan_mnist" and cards.license_of(card) == "cc-by-sa-3.0"


def _yaml():
    import importlib.util

    return importlib.util.find_spec("yaml") is not None
