"""Diffusion models (Ho et al. 2020): a UNet noise predictor, a noise schedule and
samplers, tied together with an EMA of the weights, a compiled chunked sampling loop and
classifier-free guidance (Ho & Salimans 2022).

Presets `ddpm_mnist`, `ddpm_fashion` (28x28 grayscale) and `ddpm_anime` (32x32 RGB).

* Schedule (zoo/diffusion/schedule.py): q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I),
  linear or cosine betas.
* Network (zoo/networks/unet.py): eps(x_t, t[, condition]), trained to predict the added
  noise (MSE) in one `train_step`. An exponential moving average of its weights
  (`ema_network`) is kept up to date every step, shipped, and used for sampling.
* Condition (`num_classes`): a class label enters the UNet's time embedding (FiLM);
  during training it is replaced by the null class with probability `cond_dropout`, so
  the same network also predicts unconditionally, and sampling mixes the two:
  eps = eps_u + s (eps_c - eps_u) for `guidance_scale` s > 1 (one batch holding both
  halves, as keras-hub's SD3 does). Subclasses with other conditions (text) override
  the three `condition_*` hooks.
* Samplers (zoo/diffusion/samplers/): DDIM (and DDPM, its full-length eta = 1 case) and
  DPM-Solver++(2M), each one update rule. The model's config holds the defaults a call
  leaves out (`sampler`, `eta`, `clip_x0`, `clipped_eps`), as a diffusers scheduler
  config does. The presets ship DDIM with eta = 1 (see the cards and the README).
* The loop runs in compiled chunks (`keras.ops.fori_loop` inside
  `backend.compile_inference`: one XLA / tf.function program per chunk size) with a
  progress bar between chunks; noise inside the loop is keyed by (seed, step).
"""

import math
import time

import keras
import numpy as np
from keras import ops

from zoo.core import backend, to_uint8
from zoo.diffusion.samplers import SAMPLERS
from zoo.diffusion.schedule import NoiseSchedule
from zoo.networks.unet import build_unet
from zoo.progress import Progress
from zoo.tasks import ImageGenerator, Option, OptionError, register_model

MAX_GUIDANCE = 20.0  # classifier-free guidance past this saturates the images (most pixels at 0 or 255)


# -- the model -----------------------------------------------------------------------
@register_model(legacy_names=("DDPM",))
class DiffusionModel(ImageGenerator):
    family = "diffusion"
    forward_passes_per_step = {"network": 3}  # forward + backward of the UNet (benchmarks' FLOPs)
    LEGACY_DEFAULTS = ("eta", "clip_x0", "clipped_eps")  # sampling defaults that configs before 0.2 name

    def __init__(self, image_shape=(28, 28, 1), widths=(32, 64, 128), blocks=1, attention=(2,),
                 dropout=0.0, schedule="linear", timesteps=1000, ema_decay=0.999, seed=None,
                 sampler="ddim", sampling_defaults=None, num_classes=None, cond_dropout=0.1,
                 guidance_scale=1.0, **kwargs):
        # a sampler's options default as the sampler declares them; a preset keeps its own
        # choices here ({"eta": 1.0}); configs of earlier versions name them as arguments
        self.sampling_defaults = dict(sampling_defaults or {})
        self.sampling_defaults.update({k: kwargs.pop(k) for k in self.LEGACY_DEFAULTS if k in kwargs})
        kwargs.setdefault("name", "diffusion")
        super().__init__(**kwargs)
        self.image_shape, self.widths, self.blocks = tuple(image_shape), tuple(widths), int(blocks)
        self.attention, self.dropout = tuple(attention), float(dropout)
        self.ema_decay, self.seed = float(ema_decay), seed
        self.schedule = NoiseSchedule(schedule, int(timesteps))
        self.sampler = sampler  # the default of a generate() call that names none (validated like the call's)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.cond_dropout, self.guidance_scale = float(cond_dropout), float(guidance_scale)
        self.check_defaults()  # refuses a config whose defaults are invalid
        self.network = self.build_network(name="unet")
        self.ema_network = self.build_network(name="ema_unet")
        self.ema_network.set_weights(self.network.get_weights())
        self.ema_network.trainable = False
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.add_trackers("loss")
        self._compiled = {}
        self.build_encoder()
        self.build()

    def build_encoder(self):
        """The condition's own encoder, if it has one (a text model's text tower)."""

    def build_network(self, name):
        conditional = dict(num_classes=self.num_classes, film=True) if self.num_classes else {}
        return build_unet(self.image_shape, self.widths, self.blocks, self.attention, self.dropout, name=name,
                          **conditional)

    def get_config(self):
        return {**super().get_config(), "image_shape": self.image_shape, "widths": self.widths,
                "blocks": self.blocks, "attention": self.attention, "dropout": self.dropout,
                "schedule": self.schedule.kind, "timesteps": self.timesteps, "ema_decay": self.ema_decay,
                "seed": self.seed, "sampler": self.sampler, "sampling_defaults": dict(self.sampling_defaults),
                "num_classes": self.num_classes,
                "cond_dropout": self.cond_dropout, "guidance_scale": self.guidance_scale}

    @property
    def timesteps(self):
        return self.schedule.timesteps

    def call(self, inputs, training=False):
        """[x_t, t, *condition] -> the predicted noise (the trained network, not the EMA)."""
        return self.network(inputs, training=training)

    def compile(self, optimizer=None, **kwargs):
        super().compile(optimizer=optimizer or keras.optimizers.AdamW(1e-3, weight_decay=1e-4, clipnorm=1.0),
                        **kwargs)

    # -- conditions (hooks: a text-conditioned subclass overrides these three) ------
    def condition_of_batch(self, data, batch):
        """The network's condition inputs for a training batch, with condition dropout."""
        if not self.num_classes:
            return []
        if not isinstance(data, (tuple, list)) or len(data) < 2 or data[1] is None:
            raise ValueError(f"{self.name} is class-conditional: fit it with (images, labels)")
        labels = ops.reshape(ops.cast(data[1], "int32"), (-1,))
        drop = self.draw(keras.random.uniform, (batch,)) < self.cond_dropout
        return [ops.where(drop, self.num_classes, labels)]

    def condition_for_sampling(self, settings, index):
        """The condition inputs (numpy) for the samples `index` (a slice) of a call."""
        return [settings["labels"][index]] if self.num_classes else []

    def null_condition(self, condition):
        """The unconditional counterpart of `condition` (classifier-free guidance)."""
        return [np.full_like(condition[0], self.num_classes)]

    def network_condition(self, condition, training):
        """`condition_of_batch`'s result -> the network's condition inputs, inside the
        differentiated loss (a text encoder trained with the UNet runs here)."""
        return condition

    def guidance_condition(self, settings, index, condition):
        """What guidance pushes away from for the samples `index`: the null condition (a
        text model may take negative prompts instead)."""
        return self.null_condition(condition)

    # -- training --------------------------------------------------------------------
    def _loss(self, data, training):
        x0 = self.images_in(data, self.image_shape)
        batch = ops.shape(x0)[0]
        t = self.draw(keras.random.randint, (batch,), minval=0, maxval=self.timesteps)
        noise = self.draw(keras.random.normal, ops.shape(x0))
        x_t = self.schedule.add_noise(x0, noise, t)
        condition = self.condition_of_batch(data, batch)
        eps = lambda: ops.cast(self.network([x_t, t, *self.network_condition(condition, training)],  # noqa: E731
                                            training=training), "float32")
        return lambda: ops.mean(ops.square(eps() - noise))

    def train_step(self, data):
        variables = self.trainable_variables
        loss, grads = self.value_and_grad(self._loss(data, training=True), variables)
        self.optimizer.apply(grads, variables)
        # EMA with the usual warm-up: decay min(d, (1 + n) / (10 + n)) after n steps (a preset's included)
        n = self.steps_done()
        decay = ops.minimum(self.ema_decay, (1.0 + n) / (10.0 + n))
        backend.moving_average(self.ema_network.weights, self.network.weights, decay)
        return self.update_trackers(loss=loss)

    def test_step(self, data):
        return self.update_trackers(loss=self._loss(data, training=False)())

    def views(self):
        return {"denoising, step by step": self.denoising_view}

    def denoising_view(self, seed, rows=4, columns=8, **options):
        """`rows` images from x_T (left) to x_0 (right), at `columns` points of the sampler's
        steps."""
        _, path = self.denoise(self.sample_noise(rows, seed), seed=seed, trajectory=True, **options)
        picks = np.linspace(0, len(path) - 1, columns).round().astype(int)
        strip = np.stack([path[i] for i in picks], axis=1)  # (rows, columns, H, W, C)
        return to_uint8(np.clip(strip, -1.0, 1.0).reshape(-1, *self.image_shape)), columns

    def serving(self):
        """The denoiser (EMA network): a sampler is a short loop around it (zoo export writes the
        schedule beside it)."""
        shape = ", ".join(map(str, self.image_shape))
        inputs = [("x_t", (None, *self.image_shape), "float32"), ("t", (None,), "int32")]
        if self.num_classes:
            inputs.append(("labels", (None,), "int32"))
        return (inputs, lambda *tensors: ops.cast(self.ema_network(list(tensors), training=False), "float32"),
                f"the denoiser: x_t float32 (N, {shape}) and t int32 (N,) in [0, {self.timesteps - 1}]"
                + (f" and labels int32 (N,) in [0, {self.num_classes - 1}]" if self.num_classes else "")
                + f" -> the predicted noise eps float32 (N, {shape}); {self.schedule.kind} schedule, "
                f"T = {self.timesteps}")

    def serving_files(self):
        """Beside an export: the noise schedule the serving code's sampler loop needs."""
        return {"schedule.json": {"kind": self.schedule.kind, "timesteps": self.schedule.timesteps,
                                  "prediction": "eps", "betas": [float(b) for b in self.schedule.betas],
                                  "alphas_cumprod": [float(a) for a in self.schedule.alphas_cumprod]}}

    # -- sampling options ------------------------------------------------------------
    def sampling_options(self):
        options = {"sampler": Option("sampler", "choice", self.sampler, choices=tuple(SAMPLERS), label="{value}-{steps}",
                                     help="the update rule: " + ", ".join(SAMPLERS)),
                   "steps": Option("steps", "int", None, low=1, high=self.timesteps, nullable=True, label="",
                                   help="sampler steps (default: the sampler's; ddpm takes all T)")}
        for name, cls in SAMPLERS.items():  # each sampler's own options, applying where it is chosen
            for option in cls().declare(self):
                if option.name in options:
                    options[option.name].when["sampler"] += (name,)
                else:
                    option.when = {"sampler": (name,)}
                    options[option.name] = option
        if self.num_classes:
            options["labels"] = Option("labels", "labels", None, high=self.num_classes - 1, nullable=True,
                                       help="the class of each image (default: 0, 1, 2, ... in turn)")
            options["guidance_scale"] = Option("guidance_scale", "float", self.guidance_scale, low=0.0,
                                               high=MAX_GUIDANCE, label="cfg {value:g}",
                                               help="classifier-free guidance; <= 1: none (past about 20 the "
                                                    "images saturate)")
        return self.with_sampling_defaults(options)

    def with_sampling_defaults(self, options):
        """The options ({name: Option}) as a list, each default replaced by the preset's
        `sampling_defaults` where it names one; a name no option has is refused."""
        unknown = sorted(set(self.sampling_defaults) - set(options))
        if unknown:
            raise OptionError(f"{self.name}: sampling_defaults names {unknown[0]!r}, which no sampler declares; "
                              f"the options: {', '.join(options)}")
        for name, value in self.sampling_defaults.items():
            options[name].default = value
        return list(options.values())

    def check_settings(self, settings, given):
        try:
            settings["steps"] = SAMPLERS[settings["sampler"]]().resolve_steps(settings["steps"], self.schedule)
        except ValueError as e:
            raise OptionError(str(e)) from None
        return settings

    def evaluation_options(self, num):
        return {"labels": np.arange(num) % self.num_classes} if self.num_classes else {}

    @property
    def grid_columns(self):
        return self.num_classes

    # -- sampling --------------------------------------------------------------------
    def sample_noise(self, num_samples, seed=None):
        """x_T: standard-normal images from numpy's generator (the same on every backend)."""
        return np.random.default_rng(seed).standard_normal((int(num_samples), *self.image_shape)).astype("float32")

    def _chunk_fn(self, sampler, settings, length, guided):
        """Compiled: `length` sampler steps from step `start` on a batch."""
        key = (sampler.name, sampler.static(settings), length, guided)
        if key not in self._compiled:
            network, n_state = self.ema_network, len(sampler.init(0.0))
            names = sorted(sampler.tables(self.schedule, 1, settings))  # the order _denoise passes them in

            def eps_of(x, t, condition, scale):
                t = ops.broadcast_to(t, (ops.shape(x)[0],))
                if not guided:  # the sampler's arithmetic in float32, also for a mixed-precision network
                    return ops.cast(network([x, t, *condition[0]], training=False), "float32")
                both = [ops.concatenate([c, u], axis=0) for c, u in zip(*condition)]
                eps = ops.cast(network([ops.concatenate([x, x], 0), ops.concatenate([t, t], 0), *both],
                                       training=False), "float32")
                eps_c, eps_u = ops.split(eps, 2, axis=0)
                return eps_u + scale * (eps_c - eps_u)

            def run(start, seed, scale, *arrays):
                state = arrays[:n_state]
                tables = dict(zip(names, arrays[n_state:n_state + len(names)]))
                rest = arrays[n_state + len(names):]
                condition = (rest[:len(rest) // 2], rest[len(rest) // 2:]) if guided else (rest,)

                def body(i, state):
                    k = start + i
                    row = {name: table[k] for name, table in tables.items()}
                    eps = eps_of(state[0], row["t"], condition, scale)
                    noise = lambda: backend.stateless_normal(ops.shape(state[0]), seed, k)  # noqa: E731
                    return tuple(sampler.step(state, eps, row, noise, settings))

                return ops.fori_loop(0, length, body, tuple(state))

            self._compiled[key] = backend.compile_inference(run, network.variables)
        return self._compiled[key]

    def denoise(self, x_T, sampler="ddim", steps=None, eta=None, seed=0, chunks=20, progress=None,
                trajectory=False, stop_after=None, condition=None, **options):
        """Runs a sampler from x_T (numpy, one batch); returns images in [-1, 1] (numpy), and
        with `trajectory=True` (images, path): `path` is a list of numpy x, x_T first, then x
        after each chunk of L = ceil(steps / chunks) steps (ceil(steps / L) + 1 entries: 18 for
        DDIM-50 in 20 chunks of 3), not clipped (the last one, clipped, is the images).
        `options`: the sampling options (`sampling_options()`); a conditional model's
        labels are one per row of x_T. `stop_after=k` stops after k chunks (e.g. to compile
        the loop before timing it)."""
        given = {"sampler": sampler, "steps": steps, **({} if eta is None else {"eta": eta}), **options}
        settings = self.resolve_options(**given)
        x_T = np.asarray(x_T, "float32")
        if condition is None:
            condition = self.condition_for_sampling(self.resolve_condition(settings, len(x_T)), slice(None))
        return self._denoise(x_T, settings, seed, condition, chunks, progress, trajectory, stop_after)

    def resolve_condition(self, settings, num):
        """Fills the per-image condition of `num` images (labels 0, 1, 2, ... by default)."""
        if self.num_classes and settings.get("labels") is None:
            settings["labels"] = (np.arange(num) % self.num_classes).astype("int32")
        self.resolve_num(num, settings)
        return settings

    def _denoise(self, x_T, settings, seed, condition, chunks=20, progress=None, trajectory=False, stop_after=None,
                 negative=None):
        sampler = SAMPLERS[settings["sampler"]]()
        tables = sampler.tables(self.schedule, settings["steps"], settings)
        steps = len(tables["t"])
        length = max(1, math.ceil(steps / chunks))
        scale = settings.get("guidance_scale") or 1.0
        guided = bool(condition) and scale > 1.0
        arrays = [ops.convert_to_tensor(tables[name]) for name in sorted(tables)]
        arrays += [ops.convert_to_tensor(c) for c in condition]
        if guided:
            negative = self.null_condition(condition) if negative is None else negative
            arrays += [ops.convert_to_tensor(c) for c in negative]
        state = sampler.init(ops.convert_to_tensor(x_T))
        path = [ops.convert_to_numpy(state[0])] if trajectory else None
        seed = ops.convert_to_tensor(np.int32(seed % (2**31 - 1)))
        scale = ops.convert_to_tensor(np.float32(scale))
        for start in range(0, steps, length)[:stop_after]:
            n = min(length, steps - start)
            state = self._chunk_fn(sampler, settings, n, guided)(
                ops.convert_to_tensor(np.int32(start)), seed, scale, *state, *arrays)
            if trajectory:
                path.append(ops.convert_to_numpy(state[0]))
            if progress is not None:
                progress.add(n)
        x = np.clip(ops.convert_to_numpy(state[0]), -1.0, 1.0)
        return (x, path) if trajectory else x

    # what `sampling_times` measures: the full-length sampler first (steps None: all T), the baseline
    timed_samplers = (("ddpm", None), ("ddim", 50), ("ddim", 20), ("ddim", 10),
                      ("dpmpp_2m", 50), ("dpmpp_2m", 20), ("dpmpp_2m", 10))

    def sampling_times(self, num=64, seed=0):
        """Seconds to draw `num` samples with each of `timed_samplers`, in one batch, keyed
        "sampler-steps" (each timed after its compiled loop has been built by running its first
        chunk on a batch of the same shape): the card's `sampling_seconds_64`."""
        times = {}
        for sampler, steps in self.timed_samplers:
            steps = min(steps or self.timesteps, self.timesteps)
            self.denoise(self.sample_noise(num, seed), sampler, steps, stop_after=1)
            start = time.perf_counter()
            self.generate(num, seed=seed, sampler=sampler, steps=steps, batch_size=num, progress=False)
            times[f"{sampler}-{steps}"] = round(time.perf_counter() - start, 2)
        return times

    def generate_images(self, num, seed, batch_size=None, progress=True, latents=None, **settings):
        """The contract's generate(): `num` images from x_T drawn with `seed` (or `latents`, the
        x_T given), in batches of `batch_size` (64), each denoised with its own noise seed."""
        batch_size = batch_size or 64
        settings = self.resolve_condition(settings, num)
        x_T = self.sample_noise(num, seed) if latents is None else latents
        bar = Progress(settings["steps"] * math.ceil(num / batch_size), label=f"{self.name}: {settings['sampler']}") \
            if progress else None
        base = 0 if seed is None else seed
        images = []
        for i in range(0, num, batch_size):
            index = slice(i, i + batch_size)
            condition = self.condition_for_sampling(settings, index)
            negative = self.guidance_condition(settings, index, condition) if condition else None
            images.append(to_uint8(self._denoise(x_T[index], settings, base * 7919 + i, condition, progress=bar,
                                                 negative=negative)))
        return np.concatenate(images)
