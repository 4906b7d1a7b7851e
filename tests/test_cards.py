"""Model cards: every shipped preset's README.md parses as a Hugging Face model card and says
what its metadata.json measured; save_preset writes one; the card lists every file's sha256."""

import json

import pytest
from conftest import small_gan

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
