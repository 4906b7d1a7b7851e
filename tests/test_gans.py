"""The adversarial family beyond gan_mnist: cGAN, DCGAN, WGAN-GP (the recipes' robustness is in
test_reliability.py)."""

import keras
import numpy as np
import pytest
from conftest import numpy

from zoo.models.cgan import CGAN
from zoo.models.dcgan import DCGAN
from zoo.models.wgan import WGANGP


def tiny_cgan():
    return CGAN(image_shape=(4, 4, 1), num_classes=2, latent_dim=8, g_units=(32, 32), d_units=(32,), seed=0)


def test_a_cgan_draws_the_class_it_is_asked_for():
    """Class 0: dark 4x4 images, class 1: bright ones. After training, the generator
    draws dark images for label 0 and bright ones for label 1."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 128)
    x = np.where(y[:, None, None, None] == 0, rng.integers(0, 56, (256, 4, 4, 1)),
                 rng.integers(200, 256, (256, 4, 4, 1))).astype("uint8")
    model = tiny_cgan()
    adam = lambda: keras.optimizers.Adam(2e-3, beta_1=0.5)  # noqa: E731
    model.compile(g_optimizer=adam(), d_optimizer=adam())
    model.fit(x, y, batch_size=32, epochs=20, verbose=0)
    dark, bright = model.generate(labels=[0] * 64, seed=0), model.generate(labels=[1] * 64, seed=0)
    assert dark.mean() < 100 < 150 < bright.mean()


def test_cgan_input_errors_are_named():
    model = tiny_cgan()
    model.compile()
    with pytest.raises(ValueError, match=r"labels must be class ids in \[0, 1\].*; got \[2\]"):
        model.generate(labels=[0, 2])
    with pytest.raises(ValueError, match="labels must be class ids"):
        model.generate(labels=[0.5, 1.0])  # refused, not rounded
    with pytest.raises(ValueError, match="num is 3 but 2 labels"):
        model.generate(3, labels=[0, 1])
    with pytest.raises(ValueError, match=r"fit it with \(images, labels\)"):
        model.fit(np.zeros((8, 4, 4, 1), "uint8"), batch_size=8, epochs=1, verbose=0)
    assert model.generate(5, seed=0).shape == (5, 4, 4, 1)  # labels 0, 1, 0, 1, 0


def test_dcgan_trains_on_the_anime_fixture(tmp_path):
    from zoo import data
    from conftest import FIXTURES

    x = data.load_images(FIXTURES / "anime_tiny.npz")
    model = DCGAN(width=4, seed=0)
    model.compile()
    before = [numpy(v).copy() for v in model.trainable_variables]
    history = model.fit(x, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"]).all()
    assert all(not np.allclose(b, numpy(v)) for b, v in zip(before, model.trainable_variables))
    images = model.generate(3, seed=0)
    assert images.shape == (3, 64, 64, 3) and images.dtype == np.uint8
    with pytest.raises(ValueError, match="square with a side of 4"):
        DCGAN(image_shape=(48, 48, 3))


def test_wgan_gp_makes_n_critic_updates_per_generator_update():
    x = np.random.default_rng(0).integers(0, 256, (32, 16, 16, 3)).astype("uint8")
    model = WGANGP(image_shape=(16, 16, 3), width=4, n_critic=3, seed=0)
    model.compile()
    assert not any("batch_norm" in layer.name for layer in model.discriminator.layers)
    history = model.fit(x, batch_size=8, epochs=2, verbose=0)
    assert int(numpy(model.optimizer["g"].iterations)) == 8
    assert int(numpy(model.optimizer["d"].iterations)) == 24
    for name in ("d_loss", "g_loss", "wasserstein", "gradient_penalty"):
        assert np.isfinite(history.history[name]).all()
    assert history.history["gradient_penalty"][0] > 0


@pytest.mark.parametrize("make", [
    lambda: WGANGP(image_shape=(16, 16, 3), width=4, seed=0),
    lambda: DCGAN(image_shape=(16, 16, 3), width=4, seed=0, label_smoothing=0.1),
    tiny_cgan,
], ids=["wgan_gp", "dcgan", "cgan"])
def test_every_adversarial_model_saves_as_a_preset_and_loads_back(make, tmp_path):
    import zoo

    model = make()
    path = zoo.save_preset(model, tmp_path / "preset", dataset="none")
    loaded = zoo.load(path)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.generate(4, seed=0), model.generate(4, seed=0))
