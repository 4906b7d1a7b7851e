"""DDPM: denoising diffusion probabilistic models (Ho et al. 2020), sampled with DDPM or
DDIM (Song et al. 2021).

Presets `ddpm_mnist`, `ddpm_fashion` (28x28 grayscale) and `ddpm_anime` (32x32 RGB).

* Forward process: q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I), t = 0 .. T-1, with
  abar_t the cumulative product of 1 - beta_t; beta from a linear (1e-4 .. 0.02, Ho et al.)
  or cosine (Nichol & Dhariwal 2021) schedule.
* Model: a UNet eps(x_t, t) (zoo/layers.py), trained to predict the added noise (MSE):
  one `train_step`. An exponential moving average of its weights (`ema_network`) is
  kept up to date every step, shipped, and used for sampling.
* Samplers, one generic update: from x_t, predict x_0 = (x_t - sqrt(1 - abar_t) eps) /
  sqrt(abar_t) (clipped to [-1, 1]), then
      x_s = sqrt(abar_s) x_0 + sqrt(1 - abar_s - sigma^2) eps + sigma z,
      sigma = eta sqrt((1 - abar_s) / (1 - abar_t)) sqrt(1 - abar_t / abar_s).
  DDIM walks a subsequence of `steps` timesteps, deterministic for eta = 0. Over all T
  steps with eta = 1 the update is DDPM's ancestral step (posterior mean, variance
  beta~_t), so `sampler="ddpm"` is that.
  The model's `eta` (config) is the one used when a call gives none, as a diffusers
  scheduler config does: the recipe ships 1.0, because on these briefly trained UNets
  deterministic DDIM-50 (eta = 0) oversaturates colours and more than triples the FID of
  ddpm_anime, while eta = 1 comes close to DDPM-1000 (see the cards and the README).
  The loop runs in compiled chunks (`keras.ops.fori_loop` inside
  `backend.compile_inference`: one XLA / tf.function program per chunk size) with a
  progress bar between chunks; noise inside the loop is keyed by (seed, step).
"""

import math

import keras
import numpy as np
from keras import ops

from zoo.core import ZooModel, backend
from zoo.layers import build_unet


# -- schedules -----------------------------------------------------------------------
def beta_schedule(kind, timesteps):
    """beta_t for t = 0 .. T-1 (float64 numpy)."""
    if kind == "linear":  # Ho et al., scaled for T other than 1000 (clipped at 0.999 for tiny T)
        scale = 1000 / timesteps
        return np.clip(np.linspace(scale * 1e-4, scale * 0.02, timesteps, dtype=np.float64), 0, 0.999)
    if kind == "cosine":  # Nichol & Dhariwal, s = 0.008, beta clipped at 0.999
        s = 0.008
        f = np.cos((np.arange(timesteps + 1) / timesteps + s) / (1 + s) * math.pi / 2) ** 2
        return np.clip(1 - f[1:] / f[:-1], 0, 0.999)
    raise ValueError(f"unknown beta schedule {kind!r}; use 'linear' or 'cosine'")


# -- the model -----------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="zoo")
class DDPM(ZooModel):
    family = "diffusion"
    samplers = ("ddim", "ddpm")

    def __init__(self, image_shape=(28, 28, 1), widths=(32, 64, 128), blocks=1, attention=(2,),
                 dropout=0.0, schedule="linear", timesteps=1000, ema_decay=0.999, eta=0.0, seed=None,
                 **kwargs):
        kwargs.setdefault("name", "ddpm")
        super().__init__(**kwargs)
        self.image_shape, self.widths, self.blocks = tuple(image_shape), tuple(widths), int(blocks)
        self.attention, self.dropout = tuple(attention), float(dropout)
        self.schedule, self.timesteps, self.ema_decay, self.seed = schedule, int(timesteps), float(ema_decay), seed
        self.eta = float(eta)  # DDIM's eta when a call gives none
        if self.eta < 0:
            raise ValueError(f"eta must be >= 0; got {eta}")
        self.betas = beta_schedule(schedule, self.timesteps)
        self.alphas_cumprod = np.cumprod(1.0 - self.betas)
        unet = dict(image_shape=self.image_shape, widths=self.widths, blocks=self.blocks,
                    attention=self.attention, dropout=self.dropout)
        self.network = build_unet(**unet, name="unet")
        self.ema_network = build_unet(**unet, name="ema_unet")
        self.ema_network.set_weights(self.network.get_weights())
        self.ema_network.trainable = False
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.add_trackers("loss")
        self._compiled = {}
        self.build()

    def get_config(self):
        return {**super().get_config(), "image_shape": self.image_shape, "widths": self.widths,
                "blocks": self.blocks, "attention": self.attention, "dropout": self.dropout,
                "schedule": self.schedule, "timesteps": self.timesteps, "ema_decay": self.ema_decay,
                "eta": self.eta, "seed": self.seed}

    def call(self, inputs, training=False):
        """[x_t, t] -> the predicted noise (the trained network, not the EMA)."""
        return self.network(inputs, training=training)

    def compile(self, optimizer=None, **kwargs):
        super().compile(optimizer=optimizer or keras.optimizers.AdamW(1e-3, weight_decay=1e-4, clipnorm=1.0),
                        **kwargs)

    # -- the forward process ---------------------------------------------------------
    def q_sample(self, x0, t, noise):
        """x_t ~ q(x_t | x_0) in closed form, for integer timesteps t (batch,)."""
        abar = ops.take(ops.convert_to_tensor(self.alphas_cumprod, "float32"), t)[:, None, None, None]
        return ops.sqrt(abar) * x0 + ops.sqrt(1.0 - abar) * noise

    # -- training --------------------------------------------------------------------
    def _loss(self, data, training):
        x0 = self.images_in(data, self.image_shape)
        batch = ops.shape(x0)[0]
        t = keras.random.randint((batch,), 0, self.timesteps, seed=self.seed_generator)
        noise = keras.random.normal(ops.shape(x0), seed=self.seed_generator)
        x_t = self.q_sample(x0, t, noise)
        return lambda: ops.mean(ops.square(self.network([x_t, t], training=training) - noise))

    def train_step(self, data):
        variables = self.trainable_variables
        loss, grads = self.value_and_grad(self._loss(data, training=True), variables)
        self.optimizer.apply(grads, variables)
        # EMA with the usual warm-up: decay min(d, (1 + n) / (10 + n)) after n steps
        n = ops.cast(self.optimizer.iterations, "float32")
        decay = ops.minimum(self.ema_decay, (1.0 + n) / (10.0 + n))
        backend.moving_average(self.ema_network.weights, self.network.weights, decay)
        return self.update_trackers(loss=loss)

    def test_step(self, data):
        return self.update_trackers(loss=self._loss(data, training=False)())

    # -- sampling --------------------------------------------------------------------
    def schedule_for(self, sampler="ddim", steps=None, eta=None):
        """(t, abar_t, abar_s, sigma) per step, float32 arrays from the first (noisiest) step.
        `steps=None`: 50 for ddim (or T if smaller), T for ddpm; `eta=None`: the model's."""
        eta = self.eta if eta is None else float(eta)
        if sampler not in self.samplers:
            raise ValueError(f"unknown sampler {sampler!r}; use one of {', '.join(self.samplers)}")
        if sampler == "ddpm":
            if steps not in (None, self.timesteps):
                raise ValueError(f"the ddpm sampler takes all T={self.timesteps} steps; for fewer, "
                                 f"use sampler='ddim' with eta=1")
            steps, eta = self.timesteps, 1.0
        steps = int(min(50, self.timesteps) if steps is None else steps)
        if not 1 <= steps <= self.timesteps:
            raise ValueError(f"steps must be in 1..{self.timesteps}; got {steps}")
        if eta < 0:
            raise ValueError(f"eta must be >= 0; got {eta}")
        # evenly spaced timesteps ending at T-1 ("trailing" spacing), noisiest first
        t = np.round(np.linspace(self.timesteps, 0, steps, endpoint=False)).astype(np.int64) - 1
        abar = self.alphas_cumprod[t]
        abar_prev = np.append(self.alphas_cumprod[t[1:]], 1.0)
        sigma = eta * np.sqrt((1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev))
        return t.astype("float32"), abar.astype("float32"), abar_prev.astype("float32"), sigma.astype("float32")

    def _chunk_fn(self, length):
        """Compiled: `length` sampler steps from step `start` on a batch x."""
        if length not in self._compiled:
            network = self.ema_network

            def run(x, start, seed, t, abar, abar_prev, sigma):
                def body(i, x):
                    k = start + i
                    t_k, a, a_prev, s = t[k], abar[k], abar_prev[k], sigma[k]
                    eps = network([x, ops.broadcast_to(t_k, (ops.shape(x)[0],))], training=False)
                    x0 = ops.clip((x - ops.sqrt(1.0 - a) * eps) / ops.sqrt(a), -1.0, 1.0)
                    eps = (x - ops.sqrt(a) * x0) / ops.sqrt(1.0 - a)
                    z = backend.stateless_normal(ops.shape(x), seed, k)
                    direction = ops.sqrt(ops.maximum(1.0 - a_prev - s * s, 0.0)) * eps
                    return ops.sqrt(a_prev) * x0 + direction + s * z

                return ops.fori_loop(0, length, body, x)

            self._compiled[length] = backend.compile_inference(run, network.variables)
        return self._compiled[length]

    def sample_noise(self, num_samples, seed=None):
        """x_T: standard-normal images from numpy's generator (the same on every backend)."""
        return np.random.default_rng(seed).standard_normal((int(num_samples), *self.image_shape)).astype("float32")

    def denoise(self, x_T, sampler="ddim", steps=None, eta=None, seed=0, chunks=20, progress=None, trajectory=False,
                stop_after=None):
        """Runs the sampler from x_T (numpy, one batch); returns images in [-1, 1] (numpy), and
        with `trajectory=True` also x at every chunk boundary (chunks + 1 of them).
        `stop_after=k` stops after k chunks (e.g. to compile the loop before timing it)."""
        tables = self.schedule_for(sampler, steps, eta)
        steps = len(tables[0])
        length = max(1, math.ceil(steps / chunks))
        x = ops.convert_to_tensor(np.asarray(x_T, "float32"))
        path = [ops.convert_to_numpy(x)] if trajectory else None
        tensors = [ops.convert_to_tensor(a) for a in tables]
        seed = ops.convert_to_tensor(np.int32(seed % (2**31 - 1)))
        for start in range(0, steps, length)[:stop_after]:
            n = min(length, steps - start)
            x = self._chunk_fn(n)(x, ops.convert_to_tensor(np.int32(start)), seed, *tensors)
            if trajectory:
                path.append(ops.convert_to_numpy(x))
            if progress is not None:
                progress.add(n)
        x = np.clip(ops.convert_to_numpy(x), -1.0, 1.0)
        return (x, path) if trajectory else x

    def generate(self, num_samples, seed=None, sampler="ddim", steps=None, eta=None, batch_size=64,
                 progress=True):
        """`num_samples` images, numpy uint8 (N, H, W, C). `sampler="ddim"` with `steps`
        (any number from 1 to T; default 50) and `eta` (0: deterministic given x_T; None: the
        model's `eta`), or
        "ddpm" (all T steps, ancestral). The same seed gives the same images on the same backend."""
        from zoo.core.model import to_uint8

        if int(num_samples) < 0:
            raise ValueError(f"num_samples must be >= 0; got {num_samples}")
        total = len(self.schedule_for(sampler, steps, eta)[0])
        x_T = self.sample_noise(num_samples, seed)
        bar = keras.utils.Progbar(total * math.ceil(len(x_T) / batch_size), unit_name="step") \
            if progress and len(x_T) else None
        base = 0 if seed is None else int(seed)
        images = [to_uint8(self.denoise(x_T[i:i + batch_size], sampler, steps, eta, seed=base * 7919 + i,
                                        progress=bar))
                  for i in range(0, len(x_T), batch_size)]
        return np.concatenate(images) if images else np.zeros((0, *self.image_shape), np.uint8)
