"""StyleGAN2: its parts (demodulation, R1), its training step on every backend, and its
generation API (truncation, style mixing, interpolation), on a tiny 8x8 model."""

import keras
import numpy as np
import pytest
from conftest import next_backend, numpy, run

import zoo
from zoo.models.adversarial import LazyR1
from zoo.models.stylegan import ModulatedConv2D, StyleGAN, minibatch_std
from zoo.tasks import OptionError


def tiny(**kwargs):
    return StyleGAN(image_shape=(8, 8, 3), latent_dim=16, w_dim=16, channel_base=64, channel_max=16, seed=0,
                    **kwargs)


def red_faces(n=64, seed=0):
    """8x8 images of one colour, (200, 40, 40), with a little noise."""
    noise = np.random.default_rng(seed).integers(-10, 11, (n, 8, 8, 3))
    return np.clip(np.array([200, 40, 40]) + noise, 0, 255).astype("uint8")


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    model = tiny()
    model.compile()
    before = {"g": [numpy(v).copy() for v in model.generator.trainable_variables],
              "d": [numpy(v).copy() for v in model.discriminator.trainable_variables],
              "ema": [numpy(v).copy() for v in model.ema_generator.weights]}
    start = model.generate(64, seed=0, truncation_psi=1.0)
    history = model.fit(np.tile(red_faces(), (24, 1, 1, 1)), batch_size=16, epochs=1, verbose=0)  # 96 steps
    return model, before, start, history.history


def test_stylegan_learns_the_colour_of_a_tiny_set(trained):
    """The EMA generator's images start grey and end near the training colour."""
    model, _, start, history = trained
    target = np.array([200, 40, 40])
    end = model.generate(64, seed=0, truncation_psi=1.0)
    before = np.abs(start.reshape(-1, 3).mean(0) - target).mean()
    after = np.abs(end.reshape(-1, 3).mean(0) - target).mean()
    assert before > 50 and after < before / 2.5, (before, after)
    for name in ("d_loss", "g_loss", "d_real", "d_fake"):
        assert np.isfinite(history[name]).all()


def test_one_step_carries_both_optimizers_the_ema_and_w_avg(trained):
    """Everything the step changes comes out of it (on JAX: out of the jitted, stateless step)."""
    model, before, _, history = trained
    steps = 96
    assert int(numpy(model.optimizer["g"].iterations)) == steps == int(numpy(model.optimizer["d"].iterations))
    for key, variables in (("g", model.generator.trainable_variables),
                           ("d", model.discriminator.trainable_variables)):
        assert all(not np.allclose(b, numpy(v)) for b, v in zip(before[key], variables)), key
    ema = [numpy(v) for v in model.ema_generator.weights]
    trainable = [v.trainable for v in model.generator.weights]
    moved = [not np.allclose(b, e) for b, e, t in zip(before["ema"], ema, trainable) if t]
    assert all(moved)
    # the EMA lags the generator: equal to neither its start nor its end
    assert any(not np.allclose(e, numpy(v)) for e, v in zip(ema, model.generator.weights))
    assert np.abs(numpy(model.w_avg)).sum() > 0
    # lazy R1: steps 0, 16, ... regularize, and their penalty is logged
    assert history["r1_penalty"][0] > 0


def test_demodulation_keeps_unit_variance_for_unit_input():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 16, 16, 32)).astype("float32")
    w = 3.0 * rng.standard_normal((64, 24)).astype("float32")  # large, uneven styles
    variances = {}
    for demodulate in (True, False):
        conv = ModulatedConv2D(48, demodulate=demodulate, activate=False)
        y = numpy(conv(x, w))[:, 1:-1, 1:-1]  # away from the zero padding
        variances[demodulate] = y.var()
    assert 0.9 < variances[True] < 1.1, variances
    assert not 0.5 < variances[False] < 2.0, variances  # without it the styles set the scale


def test_r1_is_the_squared_input_gradient_of_a_hand_computed_case():
    """D(x) = sum(a x^2) per image: grad = 2 a x, so R1 = mean_n sum (2 a x_n)^2."""
    x = np.random.default_rng(0).standard_normal((4, 3, 3, 2)).astype("float32")
    a = 0.7
    D = lambda t: a * keras.ops.sum(t ** 2, axis=(1, 2, 3))  # noqa: E731
    loss = LazyR1(gamma=0.5, interval=16)
    expected = np.mean(np.sum((2 * a * x) ** 2, axis=(1, 2, 3)))
    regularizer, r1 = loss.regularizer(tiny(), D, keras.ops.convert_to_tensor(x))
    np.testing.assert_allclose(numpy(r1), expected, rtol=1e-5)
    np.testing.assert_allclose(numpy(regularizer), 0.5 * 0.5 * 16 * expected, rtol=1e-5)


def test_minibatch_std_of_groups():
    x = np.zeros((6, 2, 2, 1), "float32")
    x[0], x[2] = 1.0, 3.0  # group 0 holds samples 0, 2, 4 (n mod 3 with groups of 2: 0 and 3, ...)
    y = numpy(minibatch_std(keras.ops.convert_to_tensor(x), group=2))
    assert y.shape == (6, 2, 2, 2)
    # groups of 2 over 6 samples: m = 3 groups, sample n in group n mod 3: (0, 3), (1, 4), (2, 5)
    np.testing.assert_allclose(y[:, 0, 0, 1], [0.5, 0, 1.5, 0.5, 0, 1.5], atol=1e-3)


def test_truncation_psi_zero_draws_the_average_face_for_every_seed(trained):
    model = trained[0]
    same = model.generate(6, seed=3, truncation_psi=0.0)
    assert (same == same[:1]).all()
    varied = model.generate(6, seed=3, truncation_psi=1.0)
    assert not (varied == varied[:1]).all()
    for bad, message in ((float("nan"), "finite"), (5.0, r"in \[-1, 2\]"), ("0.5", "a number")):
        with pytest.raises(OptionError, match=f"truncation_psi must be (a )?{message}"):
            model.generate(2, truncation_psi=bad)


def test_style_mixing_at_crossover_0_or_all_layers_gives_the_two_sources(trained):
    model = trained[0]
    a, b = [1, 2, 3], [4, 5, 6]
    image_a = model.decode(model.latents_of_seeds(a))
    image_b = model.decode(model.latents_of_seeds(b))
    np.testing.assert_array_equal(model.mix_styles(a, b, 0), image_b)
    np.testing.assert_array_equal(model.mix_styles(a, b, model.num_ws), image_a)
    mixed = model.mix_styles(a, b, 2)
    assert not np.array_equal(mixed, image_a) and not np.array_equal(mixed, image_b)
    assert model.style_layers() == {"coarse": (0, 4), "middle": (4, 4), "fine": (4, 4)}  # 8x8: no 16 px layers
    figure, nrow = model.mixing_figure([1, 2, 3], [4, 5], "coarse")
    assert figure.shape == (12, 8, 8, 3) and nrow == 4
    np.testing.assert_array_equal(figure[1:4], image_a)  # the top row: the column sources
    with pytest.raises(OptionError, match=r"crossover must be in \[0, 4\]; got 7"):
        model.mix_styles(a, b, 7)
    with pytest.raises(OptionError, match="the same length; got 3 and 2"):
        model.mix_styles(a, b[:2], 1)
    with pytest.raises(OptionError, match="unknown crossover 'hair'"):
        model.mix_styles(a, b, "hair")


def test_interpolation_runs_between_the_two_seeds_images(trained):
    model = trained[0]
    ends = model.decode(model.latents_of_seeds([7, 8]))
    for space in ("w", "z"):
        path = model.interpolate(7, 8, steps=5, space=space)
        assert path.shape == (5, 8, 8, 3)
        np.testing.assert_allclose(path[[0, -1]].astype(int), ends.astype(int), atol=1)
    with pytest.raises(OptionError, match="unknown space 'x'"):
        model.interpolate(7, 8, space="x")
    with pytest.raises(OptionError, match="steps must be in"):
        model.interpolate(7, 8, steps=1)
    with pytest.raises(ValueError, match=r"synthesizes float w of shape \(N, 16\)"):
        model.synthesize(np.zeros((2, 5), "float32"))


SAVED_OUTPUTS = """
import sys, numpy as np, keras, zoo
m = zoo.load(sys.argv[1])
z = np.load(sys.argv[2])
np.savez(sys.argv[3], image=keras.ops.convert_to_numpy(m.decode_batch(z)),
         logit=keras.ops.convert_to_numpy(m.discriminator(m.decode_batch(z))))
"""


def test_a_save_here_loads_on_another_backend_with_equal_outputs(trained, backend, tmp_path):
    """On the next backend (conftest.next_backend): over CI's three suites, each backend's save is
    loaded on another; test_presets checks every pair on a small GAN."""
    model = trained[0]
    path = zoo.save_preset(model, tmp_path / "tiny_stylegan", dataset="red squares")
    z = model.sample_noise(8, seed=4)
    np.save(tmp_path / "z.npy", z)
    here = {"image": numpy(model.decode_batch(z)), "logit": numpy(model.discriminator(model.decode_batch(z)))}
    other = next_backend(backend)
    out = tmp_path / f"{other}.npz"
    run(["-c", SAVED_OUTPUTS, str(path), str(tmp_path / "z.npy"), str(out)], backend=other)
    for key, value in np.load(out).items():
        np.testing.assert_allclose(value, here[key], atol=1e-4, err_msg=f"{key}: {backend} -> {other}")


def test_zoo_sample_takes_the_declared_truncation_flag(trained, tmp_path, capsys):
    from PIL import Image

    from zoo import cli

    path = zoo.save_preset(trained[0], tmp_path / "tiny_stylegan", dataset="red squares")
    out = tmp_path / "average.png"
    assert cli.main(["sample", str(path), "--num", "4", "--truncation-psi", "0", "--out", str(out)]) == 0
    image = np.asarray(Image.open(out))
    assert image.std() > 10
    assert cli.main(["sample", str(path), "--truncation-psi", "nan", "--out", str(out)]) == 2
    assert "truncation_psi must be a finite number" in capsys.readouterr().err.strip().splitlines()[-1]


def test_bad_configurations_are_refused():
    with pytest.raises(ValueError, match="power-of-2 side of at least 8"):
        tiny().__class__(image_shape=(24, 24, 3))
    with pytest.raises(ValueError, match="decodes float latent vectors of shape"):
        tiny().decode(np.zeros((2, 3), "float32"))
