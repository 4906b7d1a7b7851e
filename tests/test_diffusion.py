"""Diffusion models: the objective learns, the forward process is the closed form, the samplers."""

import numpy as np
import pytest
from conftest import ROOT, numpy, run

import zoo
from zoo.diffusion.schedule import beta_schedule
from zoo.models.diffusion import DiffusionModel
from zoo.tasks import OptionError


def small_ddpm(timesteps=30, seed=0, **kwargs):
    return DiffusionModel(widths=(8, 16), attention=(1,), timesteps=timesteps, seed=seed, **kwargs)


@pytest.fixture(scope="module")
def trained(digits):
    model = small_ddpm()  # T = 30 keeps the samplers quick
    model.compile()
    history = model.fit(digits, batch_size=32, epochs=3, verbose=0)
    return model, history.history["loss"]


def test_the_noise_prediction_loss_falls_on_a_tiny_set(trained):
    _, loss = trained
    assert np.isfinite(loss).all() and loss[-1] < 0.8 * loss[0], loss


def test_the_ema_weights_follow_the_trained_weights(trained):
    model, _ = trained
    for ema, w in zip(model.ema_network.weights, model.network.weights):
        # after ~30 steps with warm-up the average is close to, but not equal to, the weights
        assert not np.array_equal(numpy(ema), numpy(w))
    assert len(model.trainable_weights) == len(model.network.trainable_weights)


def test_one_step_updates_the_ema_weights_by_the_formula(digits):
    """ema <- d * ema + (1 - d) * w with d = min(decay, (1 + n) / (10 + n)) at step n,
    applied to every weight (on torch by one fused in-place update)."""
    model = small_ddpm(ema_decay=0.9)
    model.compile()
    model.fit(digits[:16], batch_size=16, epochs=2, verbose=0)  # two steps: ema != weights
    before = [numpy(v) for v in model.ema_network.weights]
    model.fit(digits[:16], batch_size=16, epochs=1, verbose=0)
    d = min(0.9, 4 / 13)  # n counts the optimizer steps, this one included
    for old, ema, w in zip(before, model.ema_network.weights, model.network.weights):
        np.testing.assert_allclose(numpy(ema), d * old + (1 - d) * numpy(w), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_the_forward_process_matches_its_closed_form(schedule):
    """Running the Markov chain x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) z from x_0
    gives the distribution q(x_t | x_0) that add_noise draws from in one step."""
    model = small_ddpm(timesteps=200, schedule=schedule)
    rng = np.random.default_rng(0)
    x0 = np.linspace(-1, 1, 16, dtype="float32").reshape(1, 4, 4, 1).repeat(4000, axis=0)
    betas = beta_schedule(schedule, 200)
    x = x0.astype(np.float64)
    checks = {10: None, 60: None, 199: None}
    for t in range(200):
        x = np.sqrt(1 - betas[t]) * x + np.sqrt(betas[t]) * rng.standard_normal(x.shape)
        if t in checks:
            checks[t] = x.copy()
    for t, chain in checks.items():
        ts = np.full((len(x0),), t, "int32")
        closed = numpy(model.schedule.add_noise(x0, rng.standard_normal(x0.shape).astype("float32"), ts))
        abar = model.schedule.alphas_cumprod[t]
        np.testing.assert_allclose(chain.mean(0), np.sqrt(abar) * x0[0], atol=0.06)
        np.testing.assert_allclose(closed.mean(0), np.sqrt(abar) * x0[0], atol=0.06)
        np.testing.assert_allclose(chain.std(0), closed.std(0), rtol=0.06)
        np.testing.assert_allclose(chain.std(0), np.sqrt(1 - abar), rtol=0.06)


def test_cosine_and_linear_schedules_end_near_pure_noise():
    for kind in ("linear", "cosine"):
        abar = np.cumprod(1 - beta_schedule(kind, 1000))
        assert abar[0] > 0.99 and abar[-1] < 1e-3 and np.all(np.diff(abar) < 0)
    assert np.all(beta_schedule("linear", 10) <= 0.999)  # the scaled schedule stays valid for tiny T
    with pytest.raises(ValueError, match="unknown beta schedule"):
        beta_schedule("quadratic", 10)


def test_ddim_with_eta_0_is_deterministic_and_eta_1_is_not(trained):
    model, _ = trained
    x_T = model.sample_noise(4, seed=3)
    a = model.denoise(x_T, "ddim", 10, eta=0.0, seed=1)
    b = model.denoise(x_T, "ddim", 10, eta=0.0, seed=2)  # other noise seed: no noise is drawn
    np.testing.assert_array_equal(a, b)
    c = model.denoise(x_T, "ddim", 10, eta=1.0, seed=1)
    d = model.denoise(x_T, "ddim", 10, eta=1.0, seed=2)
    assert not np.allclose(c, d)
    np.testing.assert_array_equal(c, model.denoise(x_T, "ddim", 10, eta=1.0, seed=1))


def test_a_call_without_eta_uses_the_models_eta_which_a_preset_keeps(trained, tmp_path):
    model, _ = trained
    x_T = model.sample_noise(3, seed=6)
    assert model.default_of("eta") == 0.0
    deterministic = model.denoise(x_T, "ddim", 10, seed=1)
    np.testing.assert_array_equal(deterministic, model.denoise(x_T, "ddim", 10, eta=0.0, seed=1))
    stochastic = DiffusionModel.from_config({**model.get_config(), "sampling_defaults": {"eta": 1.0}})
    stochastic.set_weights(model.get_weights())
    loaded = zoo.load(zoo.save_preset(stochastic, tmp_path / "eta_1", dataset="fixture"))
    assert loaded.default_of("eta") == 1.0 and loaded.sampling_defaults == {"eta": 1.0}
    np.testing.assert_allclose(loaded.denoise(x_T, "ddim", 10, seed=1),
                               model.denoise(x_T, "ddim", 10, eta=1.0, seed=1), atol=1e-5)
    assert not np.allclose(loaded.denoise(x_T, "ddim", 10, seed=1), deterministic, atol=1e-3)
    with pytest.raises(OptionError, match=r"eta must be in \[0, 1\]; got -0.5"):
        small_ddpm(eta=-0.5)


def test_ddpm_is_ddim_over_all_steps_with_eta_1(trained):
    model, _ = trained
    x_T = model.sample_noise(3, seed=4)
    ddpm = model.denoise(x_T, "ddpm", seed=5)
    np.testing.assert_allclose(ddpm, model.denoise(x_T, "ddim", model.timesteps, eta=1.0, seed=5), atol=1e-5)


@pytest.mark.parametrize("sampler, steps", [("ddim", 1), ("ddim", 7), ("ddim", 30), ("ddpm", None)])
def test_samplers_give_uint8_images_of_the_model_shape(trained, sampler, steps):
    model, _ = trained
    images = model.generate(5, seed=0, sampler=sampler, steps=steps, batch_size=2, progress=False)
    assert images.shape == (5, 28, 28, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, model.generate(5, seed=0, sampler=sampler, steps=steps,
                                                         batch_size=2, progress=False))
    assert model.generate(0, sampler=sampler, steps=steps).shape == (0, 28, 28, 1)


def test_the_denoising_trajectory_goes_from_noise_to_an_image(trained):
    model, _ = trained
    x_T = model.sample_noise(2, seed=0)
    final, path = model.denoise(x_T, "ddim", 20, chunks=5, trajectory=True)
    assert len(path) == 6
    np.testing.assert_array_equal(path[0], x_T)
    np.testing.assert_allclose(np.clip(path[-1], -1, 1), final)


def test_bad_sampler_settings_are_refused_clearly(trained):
    model, _ = trained
    with pytest.raises(ValueError, match="unknown sampler 'euler'"):
        model.generate(1, sampler="euler")
    with pytest.raises(ValueError, match=r"steps must be in \[1, 30\]; got 31"):
        model.generate(1, steps=31)
    with pytest.raises(ValueError, match="takes all T=30 steps"):
        model.generate(1, sampler="ddpm", steps=10)
    for bad, message in [(-1.0, r"eta must be in \[0, 1\]"), (float("nan"), "eta must be a finite number"),
                         ("1", "eta must be a number; got '1' \\(str\\)")]:
        with pytest.raises(OptionError, match=message):
            model.generate(1, eta=bad)
    with pytest.raises(OptionError, match="eta applies when sampler is ddim; sampler is dpmpp_2m"):
        model.generate(1, sampler="dpmpp_2m", eta=0.5)
    with pytest.raises(OptionError, match="steps must be an integer; got 10.0"):
        model.generate(1, steps=10.0)
    with pytest.raises(OptionError, match="has no option 'labels'"):
        model.generate(1, labels=[3])
    with pytest.raises(ValueError, match=r"trains on images of shape \(batch, 28, 28, 1\)"):
        model.fit(np.zeros((4, 32, 32, 1), np.uint8), epochs=1, verbose=0)


def test_a_saved_ddpm_loads_with_its_ema_weights(trained, tmp_path):
    model, _ = trained
    path = zoo.save_preset(model, tmp_path / "tiny_ddpm", dataset="fixture")
    loaded = zoo.load(path)
    x_T = model.sample_noise(2, seed=0)
    np.testing.assert_allclose(loaded.denoise(x_T, "ddim", 5), model.denoise(x_T, "ddim", 5), atol=1e-5)
    assert loaded.get_config()["timesteps"] == 30


@pytest.mark.once_under("torch", "the recipe's pictures, card and resuming are the same on every backend; "
                                 "the model trains on every backend above, and `zoo train` resumes a "
                                 "recipe on each")
def test_the_recipe_trains_writes_pictures_and_resumes(tmp_path, backend):
    out = tmp_path / "preset"
    args = ["recipes/ddpm.py", "--variant", "ddpm_mnist", "--data", str(ROOT / "tests/fixtures/mnist_tiny.npz"),
            "--epochs", "1", "--limit", "64", "--batch-size", "32", "--widths", "8", "16", "--timesteps", "10",
            "--workdir", str(tmp_path / "run"), "--out", str(out), "--verbose", "0"]
    run(args, backend=backend, cwd=ROOT)
    for name in ("sample.png", "sample_ddpm.png", "denoising.png", "loss.png", "metadata.json"):
        assert (out / name).is_file(), name
    card = zoo.info(out)
    assert card["steps"] == 2 and set(card["sampling_seconds_64"][backend]) == {"ddpm-10", "ddim-10", "dpmpp_2m-10"}
    # run again with one more epoch: it resumes from the checkpoint (2 more steps, not 4)
    run([*args[:-4], "--verbose", "0", "--epochs", "2", "--out", str(out), "--no-ddpm-grid"], backend=backend, cwd=ROOT)
    assert zoo.info(out)["steps"] == 4 and zoo.info(out)["epochs"] == 2
    assert not (out / "sample_ddpm.png").exists()  # --no-ddpm-grid: the T-step grid skipped


def test_fine_tuning_a_preset_continues_its_ema_instead_of_starting_it_again(digits):
    """After compile() the optimizer is at step 0, and the EMA's warm-up decay (1+n)/(10+n)
    overwrote the shipped EMA within a few steps (the samples broke up): the warm-up now counts
    the steps the preset's card records, so the EMA moves at the preset's 0.999."""
    import keras

    model = zoo.load("ddpm_mnist")
    card = zoo.info("ddpm_mnist")
    assert model.steps_before == card["steps"] + card.get("init_training", {}).get("steps", 0) > 1000
    ema, net = [numpy(w).copy() for w in model.ema_network.weights], [numpy(w).copy() for w in model.network.weights]
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(digits[:64], batch_size=16, epochs=1, verbose=0)  # 4 steps
    moved = lambda before, after: sum(float(np.sum((numpy(a) - b) ** 2)) for a, b in zip(after, before))  # noqa: E731
    gap = sum(float(np.sum((a - b) ** 2)) for a, b in zip(ema, net))  # the EMA's distance from the raw weights
    # at decay 0.999 four steps move the EMA ~0.4% of that way (a squared move ~2e-5 of it); restarted,
    # the warm-up's decays 0.1..0.36 took it nearly all the way to the network's weights
    assert moved(ema, model.ema_network.weights) < 1e-3 * gap
