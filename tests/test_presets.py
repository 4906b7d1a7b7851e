"""Presets: save, load, checks, the shipped gan_mnist, and weights across backends."""

import json
import shutil

import keras
import numpy as np
import pytest
from conftest import BACKENDS, numpy, run, small_gan

import zoo
from zoo.errors import PresetError, UnknownModelError
from zoo.registry import PRESETS_DIR
from zoo.io import sha256


@pytest.fixture
def preset(tmp_path, digits):
    gan = small_gan(seed=5)
    gan.compile()
    gan.fit(digits[:64], batch_size=16, epochs=1, verbose=0)  # BatchNorm stats move off 0/1
    return gan, zoo.save_preset(gan, tmp_path / "tiny_gan", dataset="fixture")


def test_a_saved_preset_loads_with_equal_outputs(preset):
    gan, path = preset
    assert sorted(p.name for p in path.iterdir()) == ["README.md", "config.json", "metadata.json", "model.weights.h5"]
    loaded = zoo.load(path)
    z = gan.sample_noise(8, seed=1)
    np.testing.assert_allclose(numpy(loaded(z)), numpy(gan(z)), atol=1e-6)
    np.testing.assert_array_equal(loaded.generate(8, seed=1), gan.generate(8, seed=1))
    meta = zoo.info(path)
    assert meta["dataset"]["name"] == "fixture" and meta["parameters"]["generator"] > 0
    assert len(meta["weights_sha256"]) == 64


def test_weights_saved_here_load_on_every_other_backend_with_equal_outputs(preset, backend, tmp_path):
    gan, path = preset
    z = gan.sample_noise(16, seed=2)
    np.save(tmp_path / "z.npy", z)
    here = numpy(gan(z))
    script = ("import sys, numpy as np, keras, zoo; m = zoo.load(sys.argv[1]); "
              "np.save(sys.argv[3], keras.ops.convert_to_numpy(m(np.load(sys.argv[2]))))")
    for other in BACKENDS:
        if other == backend:
            continue
        out = tmp_path / f"out_{other}.npy"
        run(["-c", script, str(path), str(tmp_path / "z.npy"), str(out)], backend=other)
        np.testing.assert_allclose(np.load(out), here, atol=1e-4, err_msg=f"{backend} -> {other}")


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_a_damaged_weights_file_is_refused_clearly(preset, damage):
    _, path = preset
    weights = path / "model.weights.h5"
    if damage == "flip":
        data = bytearray(weights.read_bytes())
        data[len(data) // 2] ^= 0x01
        weights.write_bytes(bytes(data))
        match = "corrupt or was modified"
    elif damage == "truncate":
        weights.write_bytes(weights.read_bytes()[:1000])
        match = "corrupt or was modified"
    else:
        weights.unlink()
        match = "lacks model.weights.h5"
    with pytest.raises(PresetError, match=match):
        zoo.load(path)


def test_a_config_that_is_not_a_zoo_model_is_refused(preset):
    _, path = preset
    config = json.loads((path / "config.json").read_text())
    config["registered_name"] = "builtins>eval"
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(PresetError, match="config.json is corrupt or was modified"):
        zoo.load(path)  # the card's sha256 of config.json
    meta = json.loads((path / "metadata.json").read_text())
    meta["files"]["config.json"] = sha256(path / "config.json")  # the card rewritten to match
    (path / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(PresetError, match="not describe a zoo model"):
        zoo.load(path)


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(UnknownModelError, match="gan_mnist") as e:
        zoo.load("no_such_model")
    assert "no_such_model" in str(e.value)


def test_keras_full_model_save_round_trip(preset, tmp_path):
    gan, _ = preset
    gan.save(tmp_path / "gan.keras")
    loaded = keras.saving.load_model(tmp_path / "gan.keras")
    z = gan.sample_noise(4, seed=3)
    np.testing.assert_allclose(numpy(loaded(z)), numpy(gan(z)), atol=1e-6)
    # The compiled state comes back too: both optimizers, with their step counts.
    for key in ("g", "d"):
        assert int(numpy(loaded.optimizer[key].iterations)) == int(numpy(gan.optimizer[key].iterations)) == 4


# -- the shipped preset ------------------------------------------------------------
def test_gan_mnist_is_shipped_and_draws_digits_of_the_right_shape():
    assert "gan_mnist" in zoo.list_models()
    model = zoo.load("gan_mnist")
    images = model.generate(16, seed=0)
    assert images.shape == (16, 28, 28, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, model.generate(16, seed=0))
    assert not np.array_equal(images, model.generate(16, seed=1))
    # Digits: mostly dark background, some bright strokes, and not all the same image.
    assert (images < 50).mean() > 0.6 and (images > 200).mean() > 0.05
    assert np.abs(images[0].astype(int) - images[1:].astype(int)).mean() > 10


def test_gan_mnist_card_states_how_it_was_made():
    meta = zoo.info("gan_mnist")
    for key in ("dataset", "recipe", "backend", "steps", "epochs", "wall_time_s", "machine",
                "parameters", "final_epoch_metrics", "weights_sha256"):
        assert meta.get(key) not in (None, ""), key
    assert meta["recipe"].split()[1:3] == ["python", "recipes/gan_mnist.py"]
    assert (PRESETS_DIR / "gan_mnist" / "sample.png").is_file()


def test_the_shipped_preset_fine_tunes_with_fit(digits, tmp_path):
    shutil.copytree(PRESETS_DIR / "gan_mnist", tmp_path / "gan_mnist")
    model = zoo.load(tmp_path / "gan_mnist", compile=True)
    before = [numpy(v).copy() for v in model.generator.trainable_variables]
    history = model.fit(digits[:64], batch_size=32, epochs=1, verbose=0)
    assert np.isfinite(history.history["g_loss"]).all()
    changed = [not np.allclose(b, numpy(v)) for b, v in zip(before, model.generator.trainable_variables)]
    assert all(changed)
    assert np.isfinite(numpy(model(model.sample_noise(4, seed=0)))).all()


SHIPPED_OUTPUTS = """
import sys, numpy as np, keras, zoo
out = {}
for name in zoo.list_models():
    m = zoo.load(name)
    if m.family == "text":  # logits for a fixed sequence of token ids
        y = m(np.arange(2 * m.block_size).reshape(2, -1) % m.vocab_size)
    elif m.family == "features":  # features of fixed images
        y = m.features(np.random.default_rng(0).integers(0, 256, (4, *m.image_shape)).astype("uint8"))
    elif m.family == "diffusion":  # the EMA network's noise prediction at a few timesteps
        y = m.ema_network([m.sample_noise(4, seed=0), np.array([0, 10, 500, 999])[:4] % m.timesteps])
    elif m.family == "text-to-image":  # the same, for the empty prompt and two one-word prompts
        words = ["", *m.tokenizer.vocabulary[1:3]]
        y = m.ema_network([m.sample_noise(3, seed=0), np.array([10, 500, 999]), *m.encode_prompts(words)])
    elif m.family == "clip":  # scores of fixed images against two one-word prompts
        y = m.score(np.random.default_rng(0).integers(0, 256, (4, *m.image_shape)).astype("uint8"),
                    m.tokenizer.vocabulary[1:3])
    else:
        z = m.sample_noise(4, seed=0)
        y = m([z, np.arange(4)]) if hasattr(m, "num_classes") else m.decode_batch(z)
    out[name] = keras.ops.convert_to_numpy(y)
np.savez(sys.argv[1], **out)
"""


@pytest.mark.once_under("torch", "it compares all three backends in subprocesses")
def test_every_shipped_preset_gives_equal_outputs_on_every_backend(backend, tmp_path):
    """Loads every shipped preset on all three backends (in subprocesses) and compares them
    all: the same work whichever backend runs pytest, so it runs once, under torch."""
    outputs = {}
    for b in BACKENDS:
        run(["-c", SHIPPED_OUTPUTS, str(tmp_path / f"{b}.npz")], backend=b)
        outputs[b] = dict(np.load(tmp_path / f"{b}.npz"))
    assert sorted(outputs[backend]) == zoo.list_models()
    for b in BACKENDS:
        for name, value in outputs[b].items():
            np.testing.assert_allclose(value, outputs[backend][name], atol=1e-4, err_msg=f"{name}: {backend} vs {b}")


def test_the_readme_lists_every_shipped_preset():
    from conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    for name in zoo.list_models():
        assert f"| `{name}` |" in readme, name


def test_every_card_names_the_recipe_file_that_made_it():
    from conftest import ROOT

    for name in zoo.list_models():
        words = zoo.info(name)["recipe"].split()
        assert words[1] == "python" and (ROOT / words[2]).is_file(), (name, words[:3])
        assert f"--out zoo/presets/{name}" in " ".join(words), name
