"""The VAE family: learning, the API's shapes, interpolation, and the shipped presets."""

import keras
import numpy as np
import pytest
from conftest import numpy

import zoo
from zoo.models.vae import VAE, gaussian_kl, gaussian_log_density

PRESETS = ("vae_mnist", "beta_vae_mnist", "vae_mnist_2d", "vae_fashion")


def small_vae(**kwargs):
    return VAE(latent_dim=4, units=32, seed=0, **kwargs)


def test_the_elbo_improves_on_a_tiny_set(digits):
    vae = small_vae()
    vae.compile()
    before = vae.negative_elbo(digits, binarize_seed=0)["negative_elbo"].mean()
    history = vae.fit(digits, batch_size=30, epochs=6, verbose=0)
    after = vae.negative_elbo(digits, binarize_seed=0)["negative_elbo"].mean()
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert after < 0.6 * before
    for name in ("loss", "reconstruction_loss", "kl_loss"):
        assert np.isfinite(history.history[name]).all()


def test_residual_blocks_add_layers_and_learn(digits):
    vae = small_vae(blocks=1)
    assert vae.get_config()["blocks"] == 1
    plain = small_vae(blocks=0)
    assert vae.decoder.count_params() > plain.decoder.count_params()
    vae.compile()
    before = vae.negative_elbo(digits, binarize_seed=0)["negative_elbo"].mean()
    vae.fit(digits, batch_size=30, epochs=4, verbose=0)
    assert vae.negative_elbo(digits, binarize_seed=0)["negative_elbo"].mean() < 0.6 * before
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="residual blocks per resolution, an integer >= 0"):
            small_vae(blocks=bad)


def test_importance_weighted_bound_tightens_the_elbo(digits):
    vae = small_vae()
    vae.compile()
    vae.fit(digits, batch_size=30, epochs=4, verbose=0)
    x = digits[:100]
    elbo = vae.negative_elbo(x, binarize_seed=0)["negative_elbo"].mean()
    k1 = vae.importance_weighted_nll(x, k=1, binarize_seed=0).mean()
    k50 = vae.importance_weighted_nll(x, k=50, binarize_seed=0).mean()
    # k = 1 is the one-sample -ELBO (other noise): close; many samples: a tighter (lower) bound
    assert abs(k1 - elbo) < 0.05 * elbo
    assert k50 < k1 - 0.5 and k50 > 0
    np.testing.assert_array_equal(vae.importance_weighted_nll(x[:10], k=5, seed=3, binarize_seed=0),
                                  vae.importance_weighted_nll(x[:10], k=5, seed=3, binarize_seed=0))
    with pytest.raises(ValueError, match="k is the number of samples, an integer >= 1"):
        vae.importance_weighted_nll(x, k=0)


def test_the_gaussian_log_density_matches_its_closed_form():
    z = np.array([[0.0, 1.0]])
    # log N(z; 0, 1) summed: -(2 log 2pi + 0 + 1) / 2; with mean z and variance e^2 per dim: -(2 log 2pi + 4) / 2
    np.testing.assert_allclose(gaussian_log_density(z, 0.0, 0.0), [-(2 * np.log(2 * np.pi) + 1) / 2])
    np.testing.assert_allclose(gaussian_log_density(z, z, np.full_like(z, 2.0)), [-(2 * np.log(2 * np.pi) + 4) / 2])


def test_beta_weights_the_kl_term(digits):
    vae = small_vae(beta=4.0)
    vae.compile()
    logs = vae.evaluate(digits[:60], batch_size=60, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], logs["reconstruction_loss"] + 4.0 * logs["kl_loss"], rtol=1e-4)


def test_the_kl_term_matches_its_closed_form():
    mean = np.array([[0.0, 0.0], [1.0, -2.0]], "float32")
    log_var = np.array([[0.0, 0.0], [np.log(4.0), 0.0]], "float32")
    # KL(N(m, s^2) || N(0, 1)) = (s^2 + m^2 - 1 - log s^2) / 2, summed over dimensions
    expected = [0.0, (4 + 1 - 1 - np.log(4)) / 2 + (1 + 4 - 1 - 0) / 2]
    kl = gaussian_kl(keras.ops.convert_to_tensor(mean), keras.ops.convert_to_tensor(log_var))
    np.testing.assert_allclose(numpy(kl), expected, rtol=1e-5)


def test_encode_decode_reconstruct_generate_shapes(digits):
    vae = small_vae()
    mean, log_var = vae.encode(digits[:5])
    assert mean.shape == log_var.shape == (5, 4) and mean.dtype == np.float32
    for images in (vae.decode(mean), vae.reconstruct(digits[:5]), vae.generate(5, seed=0)):
        assert images.shape == (5, 28, 28, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(vae.generate(5, seed=0), vae.generate(5, seed=0))
    with pytest.raises(ValueError, match=r"shape \(N, 28, 28, 1\)"):
        vae.encode(np.zeros((2, 32, 32, 1), np.uint8))


def test_interpolation_ends_at_the_endpoints_reconstructions(digits):
    vae = small_vae()
    vae.compile()
    vae.fit(digits, batch_size=30, epochs=3, verbose=0)
    strip = vae.interpolate(digits[0], digits[1], steps=7)
    assert strip.shape == (7, 28, 28, 1)
    ends = vae.reconstruct(digits[:2])
    assert np.abs(strip[0].astype(int) - ends[0]).max() <= 1
    assert np.abs(strip[-1].astype(int) - ends[1]).max() <= 1
    assert np.abs(strip[3].astype(int) - ends[0]).mean() > 0  # the middle is neither end


@pytest.mark.parametrize("name", PRESETS)
def test_shipped_vaes_load_and_carry_their_test_elbo(name, digits):
    vae = zoo.load(name)
    assert vae.generate(4, seed=0).shape == (4, 28, 28, 1)
    card = zoo.info(name)
    nats = card["test_metrics"]["test_negative_elbo_nats"]
    assert 0 < nats < 400
    if "test_iwae_nll_nats" in card["test_metrics"]:  # the importance-weighted bound is the tighter one
        assert 0 < card["test_metrics"]["test_iwae_nll_nats"] < nats
    if name == "vae_mnist":
        # the measured card numbers hold on the 300 fixture digits too (same binarization rule)
        here = vae.negative_elbo(digits, binarize_seed=0)["negative_elbo"].mean()
        assert abs(here - nats) < 15
        iwae = vae.importance_weighted_nll(digits, k=20, binarize_seed=0).mean()
        assert iwae < here and abs(iwae - card["test_metrics"]["test_iwae_nll_nats"]) < 15


def test_keras_full_model_round_trip_with_its_optimizer(digits, tmp_path):
    import keras

    vae = small_vae(beta=2.0)
    vae.compile()
    vae.fit(digits[:60], batch_size=30, epochs=1, verbose=0)
    vae.save(tmp_path / "vae.keras")
    loaded = keras.saving.load_model(tmp_path / "vae.keras")
    assert loaded.beta == 2.0 and int(numpy(loaded.optimizer.iterations)) == 2
    np.testing.assert_array_equal(loaded.reconstruct(digits[:4]), vae.reconstruct(digits[:4]))
