"""The training core, on whatever backend KERAS_BACKEND names (CI runs all three)."""

import keras
import numpy as np
import pytest
from conftest import numpy, small_gan
from keras import ops

from zoo.core import ZooModel


class Batches(keras.callbacks.Callback):
    """Keeps the logs of every batch."""

    def on_train_begin(self, logs=None):
        self.logs = []

    def on_train_batch_end(self, batch, logs=None):
        self.logs.append({k: numpy(v).copy() for k, v in logs.items()})


def fit_small_gan(digits, steps=4, **fit_kwargs):
    gan = small_gan()
    gan.compile()
    gan.fit(digits[: 16 * steps], batch_size=16, epochs=1, shuffle=False, **fit_kwargs)
    return gan


def test_jax_runs_the_jitted_stateless_trainer(digits, backend):
    gan = fit_small_gan(digits, verbose=0)
    assert not gan.run_eagerly
    if backend == "jax":
        assert gan.jit_compile is True


def test_two_optimizers_in_one_step_are_both_carried_by_fit(digits):
    gan = small_gan()
    gan.compile()
    g0 = [numpy(v).copy() for v in gan.generator.trainable_variables]
    d0 = [numpy(v).copy() for v in gan.discriminator.trainable_variables]
    gan.fit(digits[:64], batch_size=16, epochs=1, verbose=0)
    g_opt, d_opt = gan.optimizer["g"], gan.optimizer["d"]
    # Both counters advanced once per batch: their state came back out of the step.
    assert int(numpy(g_opt.iterations)) == 4 and int(numpy(d_opt.iterations)) == 4
    ids = {id(v) for v in gan.optimizer.variables}
    assert {id(v) for v in g_opt.variables + d_opt.variables} <= ids
    # Adam's first moments are non-zero for both parts, and both parts moved.
    for opt in (g_opt, d_opt):
        moments = [v for v in opt.variables if "momentum" in v.path]
        assert moments and all(np.abs(numpy(m)).sum() > 0 for m in moments)
    for before, v in zip(g0, gan.generator.trainable_variables):
        assert not np.allclose(before, numpy(v))
    for before, v in zip(d0, gan.discriminator.trainable_variables):
        assert not np.allclose(before, numpy(v))


def test_batchnorm_moving_statistics_update_in_training(digits):
    gan = small_gan()
    gan.compile()
    stats = [v for v in gan.generator.non_trainable_variables if "moving" in v.path]
    assert len(stats) == 2  # one BatchNormalization: moving mean and variance
    before = [numpy(v).copy() for v in stats]
    gan.fit(digits[:64], batch_size=16, epochs=1, verbose=0)
    for b, v in zip(before, stats):
        assert np.abs(b - numpy(v)).max() > 1e-4


class NoiseProbe(ZooModel):
    """Fits w to the mean of noise drawn from the model's SeedGenerator."""

    def __init__(self, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.w = self.add_weight(shape=(4,), initializer="zeros", name="w")
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.add_trackers("loss")
        self.build()

    def train_step(self, data):
        noise = keras.random.normal((8, 4), seed=self.seed_generator)
        loss, grads = self.value_and_grad(lambda: ops.mean((self.w - noise) ** 2), [self.w])
        self.optimizer.apply(grads, [self.w])
        return {**self.update_trackers(loss=loss), "noise": noise}


def noise_run(seed, steps=4):
    model = NoiseProbe(seed=seed)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    probe = Batches()
    model.fit(np.zeros((steps, 1), "float32"), batch_size=1, epochs=1, verbose=0, callbacks=[probe])
    return [logs["noise"] for logs in probe.logs], numpy(model.w)


def test_seed_generator_noise_differs_every_step_and_repeats_with_the_seed():
    noise, w = noise_run(seed=1)
    assert len(noise) == 4
    for i in range(4):
        for j in range(i):
            assert not np.allclose(noise[i], noise[j]), f"steps {j} and {i} drew the same noise"
    again, w_again = noise_run(seed=1)
    np.testing.assert_array_equal(np.stack(noise), np.stack(again))
    np.testing.assert_array_equal(w, w_again)
    other, _ = noise_run(seed=2)
    assert not np.allclose(np.stack(noise), np.stack(other))


def test_losses_are_tracked_and_shown_in_the_progress_bar(digits, capsys):
    gan = small_gan()
    gan.compile()
    history = gan.fit(digits[:64], batch_size=16, epochs=2, verbose=1)
    shown = capsys.readouterr().out
    for name in ("d_loss", "g_loss", "d_real", "d_fake"):
        assert name in shown
        assert len(history.history[name]) == 2 and np.isfinite(history.history[name]).all()


class Regression(ZooModel):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(1)
        self.dense.build((None, 2))
        self.add_trackers("loss")
        self.build()

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        x, y = data
        loss, grads = self.value_and_grad(
            lambda: ops.mean((self.dense(x) - y) ** 2), self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return self.update_trackers(loss=loss)

    def test_step(self, data):
        x, y = data
        return self.update_trackers(loss=ops.mean((self.dense(x) - y) ** 2))


def test_a_model_learns_and_evaluates_with_its_own_steps():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 2)).astype("float32")
    y = x @ np.array([[3.0], [-2.0]], "float32") + 1.0
    model = Regression()
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    start = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    history = model.fit(x, y, batch_size=32, epochs=15, verbose=0)
    end = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert end < 0.01 * start


class Critic(ZooModel):
    """A linear critic f(x) = x . w and the WGAN-GP penalty (||grad_x f|| - 1)^2."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.w = self.add_weight(shape=(3, 1), initializer="glorot_uniform", name="w")
        self.add_trackers("gp")
        self.build()

    def train_step(self, data):
        x = data

        def penalty():
            g = self.input_gradient(lambda x_: ops.sum(ops.matmul(x_ * x_, self.w)), x)
            norms = ops.sqrt(ops.sum(g ** 2, axis=1))
            return ops.mean((norms - 1.0) ** 2)

        gp, grads = self.value_and_grad(penalty, [self.w])
        return {**self.update_trackers(gp=gp), "grad": grads[0]}


def test_gradient_of_a_gradient_matches_the_hand_computed_penalty():
    # f(x) = sum_i x_i^2 w_i  =>  grad_x f = 2 x * w,  gp = mean_n (||2 x_n * w|| - 1)^2
    # d gp / d w_i = mean_n 2 (||g_n|| - 1) * (4 x_ni^2 w_i) / ||g_n||
    x = np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]], "float32")
    model = Critic()
    model.compile(optimizer="sgd")
    w = numpy(model.w)[:, 0].astype("float64")
    probe = Batches()
    model.fit(x, batch_size=2, epochs=1, verbose=0, callbacks=[probe])
    g = 2 * x * w
    norms = np.linalg.norm(g, axis=1)
    gp = np.mean((norms - 1) ** 2)
    dw = np.mean(2 * (norms - 1)[:, None] * 4 * x ** 2 * w / norms[:, None], axis=0)
    np.testing.assert_allclose(probe.logs[0]["gp"], gp, rtol=1e-5)
    np.testing.assert_allclose(probe.logs[0]["grad"][:, 0], dw, rtol=1e-4, atol=1e-6)


def test_a_batch_of_the_wrong_shape_is_refused_by_name_and_loses_nothing(digits):
    gan = small_gan()
    gan.compile()
    before = gan.generate(4, seed=0)
    with pytest.raises(ValueError, match=r"shape \(batch, 28, 28, 1\)"):
        gan.fit(np.zeros((32, 32, 32, 3), "uint8"), batch_size=16, epochs=1, verbose=0)
    np.testing.assert_array_equal(gan.generate(4, seed=0), before)  # the weights are still there
    gan.fit(digits[:32], batch_size=16, epochs=1, verbose=0)
    assert int(numpy(gan.optimizer["g"].iterations)) == 2


def test_a_gan_learns_a_tiny_distribution():
    """Data: 4x4 images with pixels uniform in [200, 255]. An untrained generator draws
    mid-grey (about 127); after 160 steps its samples lie in the data's range."""
    from zoo.models.gan import GAN

    x = np.random.default_rng(0).integers(200, 256, size=(256, 4, 4, 1)).astype("uint8")
    gan = GAN(image_shape=(4, 4, 1), latent_dim=8, g_units=(32, 32), d_units=(32,), seed=0)
    adam = lambda: keras.optimizers.Adam(2e-3, beta_1=0.5)  # noqa: E731
    gan.compile(g_optimizer=adam(), d_optimizer=adam())
    assert gan.generate(256, seed=0).mean() < 150
    gan.fit(x, batch_size=32, epochs=20, verbose=0)
    assert 200 <= gan.generate(256, seed=0).mean() <= 255


def test_a_checkpoint_restores_both_optimizers(digits, tmp_path, recwarn):
    gan = small_gan()
    gan.compile()
    gan.fit(digits[:48], batch_size=16, epochs=1, verbose=0)
    gan.save_weights(tmp_path / "ckpt.weights.h5")  # what the recipes' checkpoints write
    again = small_gan(seed=9)
    again.compile()
    again.optimizer.build()
    again.load_weights(tmp_path / "ckpt.weights.h5")
    assert not [w for w in recwarn if "Skipping variable loading" in str(w.message)]
    for key in ("g", "d"):
        saved, loaded = gan.optimizer[key].variables, again.optimizer[key].variables
        assert len(saved) == len(loaded) and int(numpy(again.optimizer[key].iterations)) == 3
        for a, b in zip(saved, loaded):
            np.testing.assert_array_equal(numpy(a), numpy(b))


def test_clipnorm_clips_each_gradient_as_keras_does():
    """zoo's optimizers (on torch: two fused `_foreach` calls) clip each gradient to norm <= clipnorm
    exactly as Keras' own per-gradient clip: g * c / max(||g||, c), zero gradients kept."""
    import keras

    from zoo.core import backend

    optimizer = keras.optimizers.AdamW(1e-3, clipnorm=1.0)
    keras_clip = optimizer._clip_gradients
    backend.prepare_optimizer(optimizer)
    rng = np.random.default_rng(0)
    grads = [keras.ops.convert_to_tensor(rng.standard_normal(shape).astype("float32") * scale)
             for shape, scale in [((3, 3, 4, 8), 1.0), ((8,), 0.01), ((100,), 0.0), ((5, 5), 10.0)]]
    ours, theirs = optimizer._clip_gradients(grads), keras_clip(grads)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(numpy(a), numpy(b), atol=1e-7)
    norms = [float(np.linalg.norm(numpy(g))) for g in ours]
    assert norms[1] == pytest.approx(float(np.linalg.norm(numpy(grads[1]))), rel=1e-6) and norms[2] == 0.0
    assert norms[0] == pytest.approx(1.0, rel=1e-6) and norms[3] == pytest.approx(1.0, rel=1e-6)
