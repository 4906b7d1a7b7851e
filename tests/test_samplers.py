"""Samplers, one update rule each: checked on a problem with a known answer, and inside
the diffusion model (DPM-Solver++'s first-order step is DDIM's, guidance, conditions)."""

import keras
import numpy as np
import pytest
from conftest import numpy

from zoo.diffusion.samplers import SAMPLERS
from zoo.diffusion.schedule import NoiseSchedule
from zoo.models.diffusion import DiffusionModel
from zoo.networks.unet import build_unet

SCALE = 0.5  # the toy data: x_0 ~ N(0, SCALE^2 I)


def ideal_eps(x, abar):
    """E[eps | x_t] when x_0 ~ N(0, s^2 I): the exact noise predictor of Gaussian data."""
    return np.sqrt(1 - abar) * x / (abar * SCALE ** 2 + 1 - abar)


def solve(name, steps, x_T, schedule, last=None, **settings):
    """Runs a sampler's update rule in a plain loop with the ideal noise predictor (its
    first `last` steps only, if given)."""
    sampler = SAMPLERS[name]()
    settings = {"clip_x0": "none", "clipped_eps": False, "eta": 0.0, **settings}
    tables = sampler.tables(schedule, steps, settings)
    state = sampler.init(keras.ops.convert_to_tensor(x_T))
    for k in range(steps if last is None else last):
        row = {key: keras.ops.convert_to_tensor(value[k]) for key, value in tables.items()}
        eps = ideal_eps(numpy(state[0]), tables["abar"][k])
        state = sampler.step(state, keras.ops.convert_to_tensor(eps.astype("float32")), row, None, settings)
    return numpy(state[0])


def test_the_deterministic_samplers_solve_the_ode_of_gaussian_data_and_dpm_solver_is_second_order():
    """For Gaussian data the probability-flow ODE keeps x_t / sqrt(abar_t s^2 + 1 - abar_t)
    constant. DDIM (eta 0) is a first-order solver of that ODE and DPM-Solver++(2M) a
    second-order one: at the last timestep before x_0 its error is smaller at every step
    count and falls faster as the steps double. (The last step, to x_0 itself, takes the
    posterior mean in both.)"""
    schedule = NoiseSchedule("linear", 1000)
    x_T = np.random.default_rng(0).standard_normal((64, 2, 2, 1)).astype("float32")
    std = lambda abar: np.sqrt(abar * SCALE ** 2 + 1 - abar)  # noqa: E731
    error = {}
    for steps in (5, 10, 20):
        t = schedule.timesteps_for(steps)[0]
        exact = x_T * std(schedule.alphas_cumprod[t[-1]]) / std(schedule.alphas_cumprod[-1])
        for name in ("ddim", "dpmpp_2m"):
            error[name, steps] = np.abs(solve(name, steps, x_T, schedule, last=steps - 1) - exact).max()
    print(error)
    for steps in (5, 10, 20):
        assert error["dpmpp_2m", steps] < error["ddim", steps], error
    assert error["dpmpp_2m", 20] < error["ddim", 20] / 3, error
    assert error["dpmpp_2m", 10] / error["dpmpp_2m", 20] > error["ddim", 10] / error["ddim", 20], error


def test_dpm_solver_with_two_steps_is_ddim_with_the_networks_eps():
    """Its first step is first order, and so is its last (to x_0): with two steps it is
    DDIM (eta 0) that keeps the network's eps."""
    schedule = NoiseSchedule("linear", 1000)
    x_T = np.random.default_rng(1).standard_normal((8, 2, 2, 1)).astype("float32")
    np.testing.assert_allclose(solve("dpmpp_2m", 2, x_T, schedule), solve("ddim", 2, x_T, schedule), atol=1e-5)


def test_dynamic_thresholding_scales_an_image_down_to_its_percentile():
    from zoo.diffusion.samplers.base import predict_x0

    x = keras.ops.convert_to_tensor(np.stack([np.full((10, 10, 1), 0.5), np.linspace(-4, 4, 100).reshape(10, 10, 1)])
                                    .astype("float32"))
    x0 = numpy(predict_x0(x, keras.ops.zeros_like(x), 1.0, "dynamic"))
    np.testing.assert_allclose(x0[0], 0.5)  # within [-1, 1]: left alone
    assert np.abs(x0[1]).max() <= 1.0 and x0[1].max() > 0.99  # scaled by its 99.5th percentile
    np.testing.assert_allclose(numpy(predict_x0(x, keras.ops.zeros_like(x), 1.0, "clip"))[1].max(), 1.0)


@pytest.fixture(scope="module")
def two_classes():
    """Class 0: dark 4x4 images, class 1: bright ones; a class-conditional model trained on
    them (640 steps)."""
    rng = np.random.default_rng(0)
    labels = np.arange(256) % 2
    images = np.where(labels[:, None, None, None] == 0, rng.integers(0, 40, (256, 4, 4, 1)),
                      rng.integers(215, 256, (256, 4, 4, 1))).astype("uint8")
    keras.utils.set_random_seed(0)
    model = DiffusionModel(image_shape=(4, 4, 1), widths=(8, 16), attention=(1,), timesteps=50, num_classes=2,
                           cond_dropout=0.2, guidance_scale=2.0, seed=0, ema_decay=0.9)
    model.compile(keras.optimizers.Adam(3e-3))
    model.fit(images, labels, batch_size=32, epochs=80, verbose=0)
    return model


def test_a_class_conditional_model_draws_the_class_asked_for_and_guidance_sharpens_it(two_classes):
    model = two_classes
    share = {}  # the share of bright images among 32 drawn for a label
    for scale in (1.0, 4.0):
        for label in (0, 1):
            images = model.generate(labels=[label] * 32, seed=0, steps=10, guidance_scale=scale, progress=False)
            share[scale, label] = float((images.reshape(32, -1).mean(1) > 128).mean())
    assert share[1.0, 0] <= 0.25 and share[1.0, 1] >= 0.75, share
    assert share[4.0, 1] - share[4.0, 0] >= share[1.0, 1] - share[1.0, 0] and share[4.0, 1] - share[4.0, 0] >= 0.9, share
    # generate(num) takes the classes in turn; a grid shows one class per column
    images = model.generate(4, seed=0, steps=5, progress=False)
    assert images[0::2].mean() < images[1::2].mean() and model.grid_columns == 2


def test_guidance_is_a_batch_of_both_halves_and_off_at_scale_1(two_classes):
    """eps = eps_u + s (eps_c - eps_u): s = 1 is the conditional prediction alone (and any
    s <= 1 turns guidance off), s = 0 the unconditional one (the null class's)."""
    model = two_classes
    x_T = model.sample_noise(4, seed=3)
    run = lambda **kw: model.denoise(x_T, "ddim", 5, eta=0.0, **kw)  # noqa: E731
    conditional, guided = run(labels=[1, 1, 0, 0], guidance_scale=1.0), run(labels=[1, 1, 0, 0], guidance_scale=2.5)
    assert not np.allclose(conditional, guided, atol=1e-3)
    np.testing.assert_allclose(run(labels=[1, 1, 0, 0], guidance_scale=0.5), conditional, atol=1e-6)
    null = np.full(4, 2)  # the null class: what s = 0 would predict
    unconditional = model.denoise(x_T, "ddim", 5, eta=0.0, condition=[null])
    assert not np.allclose(unconditional, conditional, atol=1e-3)


def test_labels_are_checked_by_the_contract(two_classes):
    from zoo.tasks import OptionError

    with pytest.raises(OptionError, match=r"labels must be class ids in \[0, 1\].*; got \[2\]"):
        two_classes.generate(labels=[0, 2], steps=2, progress=False)
    with pytest.raises(OptionError, match="num is 3 but 2 labels were given"):
        two_classes.generate(3, labels=[0, 1], steps=2, progress=False)
    with pytest.raises(ValueError, match="class-conditional: fit it with"):
        two_classes.fit(np.zeros((4, 4, 4, 1), "uint8"), epochs=1, verbose=0)


def test_cross_attention_reads_the_real_tokens_of_the_context_and_skips_padding():
    net = build_unet((8, 8, 1), widths=(8, 16), attention=(1,), cond_dim=6, context_dim=5, context_length=4,
                     cross_attention=(1,), film=True)
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((2, 8, 8, 1)).astype("float32"), np.array([3.0, 7.0], "float32")
    cond, context = rng.standard_normal((2, 6)).astype("float32"), rng.standard_normal((2, 4, 5)).astype("float32")
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 0]], "float32")
    # the output layer starts at zero: give it weights so that the output shows the inputs' effect
    last = net.layers[-1]
    last.kernel.assign(rng.standard_normal(last.kernel.shape).astype("float32"))
    out = numpy(net([x, t, cond, context, mask]))
    other = context.copy()
    other[0, 3] += 5.0  # a padding token of the first example
    np.testing.assert_allclose(numpy(net([x, t, cond, other, mask])), out, atol=1e-5)
    other[0, 0] += 5.0  # a real one
    assert np.abs(numpy(net([x, t, cond, other, mask]))[0] - out[0]).max() > 1e-3
    assert np.abs(numpy(net([x, t, cond + 1.0, context, mask])) - out).max() > 1e-3  # the pooled condition
