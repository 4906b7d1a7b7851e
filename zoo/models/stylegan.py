"""StyleGAN2 (Karras et al. 2020) at small scale, after NVlabs' stylegan2-ada-pytorch.

Preset `stylegan_anime`: anime faces from 256-d noise.

* Mapping network: z pixel-normalized, then `mapping_layers` dense layers (leaky ReLU) with
  a learning-rate multiplier of 0.01, giving w. The average w (beta 0.995) is tracked
  during training for truncation: w' = w_avg + psi (w - w_avg).
* Synthesis network: a learned 4x4 constant; per resolution two 3x3 convolutions
  (the first after a 2x bilinear upsampling, i.e. the [1, 3, 3, 1] filter), each
  *modulated* by a style (an affine map of its w; the input scaled per channel, not a
  fused per-sample grouped convolution, which Keras' TF backend runs slowly on CPU) and
  *demodulated* (the output scaled back to unit variance), with per-pixel noise of
  learned strength; a 1x1 toRGB per resolution, summed into the upsampled image (skip
  architecture). One w per layer: `num_ws` = 2 log2(resolution) - 2.
* Discriminator: residual blocks (two 3x3 convolutions, the second after 2x average
  pooling; a pooled 1x1 skip; sum times sqrt(1/2)), a minibatch standard-deviation
  channel at 4x4, two dense layers.
* Every weight is stored N(0, 1) and scaled by He's constant at run time (equalized
  learning rate), with leaky ReLU's gain sqrt(2).
* Training (`train_step`): the non-saturating logistic loss; R1 on real images every
  `r1_interval` D steps (`LazyR1`, zoo/models/adversarial.py, its gradient through
  `input_gradient`), D's Adam adjusted for the interval as the paper does; style mixing
  (a second w from a crossover layer on, with probability `style_mixing`); x-flips of
  the real images; an EMA of the generator with a half-life of `ema_kimg` thousand
  images and a ramp-up. The EMA generator is the one shipped and sampled.

Upsampling and downsampling are bilinear and box filters rather than the paper's
4-tap FIR filters with padding, and path-length regularization is off (as in
stylegan2-ada's cifar config).
"""

import math

import keras
import numpy as np
from keras import layers, ops

from zoo.core import backend, batched, to_uint8
from zoo.layers import conv2d
from zoo.models.adversarial import AdversarialModel, LazyR1
from zoo.tasks import Option, OptionError, check_int, register_model

SQRT2 = math.sqrt(2.0)


# -- blocks --------------------------------------------------------------------------
def lrelu(x):
    """Leaky ReLU (0.2) times sqrt(2), which keeps unit variance."""
    return ops.leaky_relu(x, 0.2) * SQRT2


def upsample(x):
    """2x bilinear upsampling of NHWC `x` (half-pixel centres, edges repeated): the
    [1, 3, 3, 1] / 4 filter, written with shifts so every backend gives the same numbers."""
    _, h, w, c = x.shape
    before, after = ops.concatenate([x[:, :1], x[:, :-1]], 1), ops.concatenate([x[:, 1:], x[:, -1:]], 1)
    x = ops.reshape(ops.stack([0.75 * x + 0.25 * before, 0.75 * x + 0.25 * after], axis=2), (-1, 2 * h, w, c))
    before, after = ops.concatenate([x[:, :, :1], x[:, :, :-1]], 2), ops.concatenate([x[:, :, 1:], x[:, :, -1:]], 2)
    return ops.reshape(ops.stack([0.75 * x + 0.25 * before, 0.75 * x + 0.25 * after], axis=3), (-1, 2 * h, 2 * w, c))


def downsample(x):
    """2x2 average pooling of NHWC `x`."""
    _, h, w, c = x.shape
    return ops.mean(ops.reshape(x, (-1, h // 2, 2, w // 2, 2, c)), axis=(2, 4))


def channels(resolution, base, most):
    return int(min(base // resolution, most))


class EqualDense(layers.Layer):
    """A dense layer with equalized learning rate: weights N(0, 1/lr_mul) used times
    lr_mul/sqrt(fan_in), the bias times lr_mul."""

    def __init__(self, units, bias_init=0.0, lr_mul=1.0, activate=False, **kwargs):
        super().__init__(**kwargs)
        self.units, self.bias_init, self.lr_mul, self.activate = units, float(bias_init), float(lr_mul), activate

    def build(self, input_shape):
        fan_in = input_shape[-1]
        self.gain = self.lr_mul / math.sqrt(fan_in)
        self.kernel = self.add_weight(shape=(fan_in, self.units), name="kernel",
                                      initializer=keras.initializers.RandomNormal(0.0, 1.0 / self.lr_mul))
        self.bias = self.add_weight(shape=(self.units,), name="bias",
                                    initializer=keras.initializers.Constant(self.bias_init / self.lr_mul))

    def call(self, x):
        y = ops.matmul(x, self.kernel * self.gain) + self.bias * self.lr_mul
        return lrelu(y) if self.activate else y

    def flops(self):
        """Multiply-add FLOPs of one example's forward pass (benchmarks/)."""
        return 2 * math.prod(self.kernel.shape)


class EqualConv2D(layers.Layer):
    """A stride-1 convolution with equalized learning rate, optionally after 2x average
    pooling (`down`)."""

    def __init__(self, filters, kernel_size, use_bias=True, activate=False, down=False, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size = filters, kernel_size
        self.use_bias, self.activate, self.down = use_bias, activate, down

    def build(self, input_shape):
        k, fan_in = self.kernel_size, input_shape[-1]
        self.pixels = math.prod(input_shape[1:3]) // (4 if self.down else 1)
        self.gain = 1.0 / math.sqrt(fan_in * k * k)
        self.kernel = self.add_weight(shape=(k, k, fan_in, self.filters), name="kernel",
                                      initializer=keras.initializers.RandomNormal(0.0, 1.0))
        self.bias = self.add_weight(shape=(self.filters,), name="bias", initializer="zeros") \
            if self.use_bias else None

    def call(self, x):
        y = conv2d(downsample(x) if self.down else x, self.kernel * self.gain)
        y = y + self.bias if self.bias is not None else y
        return lrelu(y) if self.activate else y

    def flops(self):
        return 2 * self.pixels * math.prod(self.kernel.shape)


class ModulatedConv2D(layers.Layer):
    """A convolution modulated by a style: styles = affine(w) (bias 1) scale the input
    channels, and with `demodulate` each output channel of each sample is divided by the
    norm of its modulated weights, rsqrt(sum_(i,k) (s_i w_iok)^2 + 1e-8), computed as
    (s^2) @ (sum_k w^2) without forming per-sample weights. With `noise_resolution`,
    per-pixel noise times a learned strength (0 at first) is added: noise given to
    `call`, or else the layer's fixed noise (`noise_const`, deterministic sampling)."""

    def __init__(self, filters, kernel_size=3, demodulate=True, activate=True, up=False, noise_resolution=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.demodulate = filters, kernel_size, demodulate
        self.activate, self.up, self.noise_resolution = activate, up, noise_resolution

    def build(self, x_shape, w_shape, noise_shape=None):
        k, fan_in = self.kernel_size, x_shape[-1]
        self.pixels = math.prod(x_shape[1:3]) * (4 if self.up else 1)
        self.gain = 1.0 / math.sqrt(fan_in * k * k)
        self.affine = EqualDense(fan_in, bias_init=1.0, name="affine")
        self.affine.build(w_shape)
        self.kernel = self.add_weight(shape=(k, k, fan_in, self.filters), name="kernel",
                                      initializer=keras.initializers.RandomNormal(0.0, 1.0))
        self.bias = self.add_weight(shape=(self.filters,), name="bias", initializer="zeros")
        if self.noise_resolution:
            r = self.noise_resolution
            self.noise_strength = self.add_weight(shape=(), name="noise_strength", initializer="zeros")
            self.noise_const = self.add_weight(shape=(r, r, 1), name="noise_const", trainable=False,
                                               initializer=keras.initializers.RandomNormal(0.0, 1.0))

    def call(self, x, w, noise=None):
        styles = self.affine(w)  # (N, in)
        weight = self.kernel * self.gain
        if self.up:
            x = upsample(x)
        y = conv2d(x * styles[:, None, None, :], weight)
        if self.demodulate:
            norms = ops.matmul(ops.square(styles), ops.sum(ops.square(weight), axis=(0, 1)))  # (N, out)
            y = y * ops.rsqrt(norms + 1e-8)[:, None, None, :]
        if self.noise_resolution:
            y = y + (self.noise_const[None] if noise is None else noise) * self.noise_strength
        y = y + self.bias
        return lrelu(y) if self.activate else y

    def flops(self):  # the convolution (the affine layer counts itself)
        return 2 * self.pixels * math.prod(self.kernel.shape)


class Mapping(layers.Layer):
    """z -> w: pixel norm, then `num_layers` dense layers with leaky ReLU (lr x `lr_mul`)."""

    def __init__(self, w_dim, num_layers, lr_mul=0.01, **kwargs):
        super().__init__(**kwargs)
        self.dense = [EqualDense(w_dim, lr_mul=lr_mul, activate=True, name=f"dense_{i}") for i in range(num_layers)]

    def call(self, z):
        x = z * ops.rsqrt(ops.mean(ops.square(z), axis=-1, keepdims=True) + 1e-8)
        for dense in self.dense:
            x = dense(x)
        return x


class Synthesis(layers.Layer):
    """ws (N, num_ws, w_dim) -> images (N, R, R, C) in about [-1, 1]. Layer i reads ws[:, i]:
    4x4: conv 0, toRGB 1; each later resolution: its two convs, then its toRGB, which
    shares its w with the next resolution's first conv."""

    def __init__(self, resolution, image_channels, w_dim, channel_base, channel_max, **kwargs):
        super().__init__(**kwargs)
        self.resolutions = [2 ** i for i in range(2, int(math.log2(resolution)) + 1)]
        ch = lambda r: channels(r, channel_base, channel_max)  # noqa: E731
        self.const = self.add_weight(shape=(4, 4, ch(4)), name="const",
                                     initializer=keras.initializers.RandomNormal(0.0, 1.0))
        self.convs, self.to_rgb = [], []
        for r in self.resolutions:
            if r > 4:
                self.convs.append(ModulatedConv2D(ch(r), up=True, noise_resolution=r, name=f"conv{r}_up"))
            self.convs.append(ModulatedConv2D(ch(r), noise_resolution=r, name=f"conv{r}"))
            self.to_rgb.append(ModulatedConv2D(image_channels, 1, demodulate=False, activate=False, name=f"torgb{r}"))
        self.num_ws = 2 * len(self.resolutions)
        self.noise_resolutions = [c.noise_resolution for c in self.convs]

    def call(self, ws, noise=None):
        """`noise`: one (N, r, r, 1) tensor per conv (`noise_resolutions`), or None for the
        layers' fixed noise."""
        noise = noise or [None] * len(self.convs)
        x = ops.broadcast_to(self.const[None], (ops.shape(ws)[0], *self.const.shape))
        image, i, c = None, 0, 0
        for r, to_rgb in zip(self.resolutions, self.to_rgb):
            for _ in range(1 if r == 4 else 2):
                x = self.convs[c](x, ws[:, i], noise[c])
                i, c = i + 1, c + 1
            rgb = to_rgb(x, ws[:, i])
            image = rgb if image is None else upsample(image) + rgb
        return image


class StyleGenerator(layers.Layer):
    """The mapping and synthesis networks: z -> image with every layer reading one w."""

    def __init__(self, resolution, image_channels, latent_dim, w_dim, mapping_layers, channel_base, channel_max,
                 **kwargs):
        super().__init__(**kwargs)
        self.mapping = Mapping(w_dim, mapping_layers, name="mapping")
        self.synthesis = Synthesis(resolution, image_channels, w_dim, channel_base, channel_max, name="synthesis")
        self.num_ws = self.synthesis.num_ws

    def call(self, z):
        w = self.mapping(z)
        return self.synthesis(ops.repeat(w[:, None], self.num_ws, axis=1))


def minibatch_std(x, group=4):
    """Appends one channel: the standard deviation of each feature over groups of `group`
    samples (sample n in group n mod N//group), averaged over features and pixels. Samples
    past the last whole group take their group's statistic; a batch smaller than `group`
    is one group."""
    n, h, w, c = ops.shape(x)
    g = min(group, n) if isinstance(n, int) else ops.minimum(group, n)
    m = n // g
    grouped = ops.reshape(x[:m * g], (g, m, h, w, c))
    std = ops.mean(ops.sqrt(ops.var(grouped, axis=0) + 1e-8), axis=(1, 2, 3))  # (m,)
    per_sample = ops.take(std, ops.arange(n) % m)
    return ops.concatenate([x, ops.broadcast_to(per_sample[:, None, None, None], (n, h, w, 1))], axis=-1)


class Discriminator(layers.Layer):
    """Residual discriminator: fromRGB, one block per resolution down to 4x4, minibatch
    standard deviation, 3x3 conv, dense, one logit."""

    def __init__(self, resolution, channel_base, channel_max, mbstd_group=4, **kwargs):
        super().__init__(**kwargs)
        ch = lambda r: channels(r, channel_base, channel_max)  # noqa: E731
        self.mbstd_group = mbstd_group
        self.from_rgb = EqualConv2D(ch(resolution), 1, activate=True, name="fromrgb")
        self.blocks = []
        r = resolution
        while r > 4:
            self.blocks.append([EqualConv2D(ch(r), 3, activate=True, name=f"conv{r}_0"),
                                EqualConv2D(ch(r // 2), 3, activate=True, down=True, name=f"conv{r}_1"),
                                EqualConv2D(ch(r // 2), 1, use_bias=False, down=True, name=f"skip{r}")])
            r //= 2
        self.conv = EqualConv2D(ch(4), 3, activate=True, name="conv4")
        self.dense = EqualDense(ch(4), activate=True, name="dense")
        self.out = EqualDense(1, name="logit")

    def call(self, image):
        x = self.from_rgb(image)
        for conv0, conv1, skip in self.blocks:
            x = (skip(x) + conv1(conv0(x))) * math.sqrt(0.5)
        x = self.conv(minibatch_std(x, self.mbstd_group))
        return self.out(self.dense(ops.reshape(x, (-1, math.prod(x.shape[1:])))))


# -- the model -----------------------------------------------------------------------
@register_model
class StyleGAN(AdversarialModel):

    def __init__(self, image_shape=(32, 32, 3), latent_dim=256, w_dim=256, mapping_layers=2, channel_base=2048,
                 channel_max=256, r1_gamma=0.01, r1_interval=16, style_mixing=0.9, ema_kimg=10.0, ema_rampup=0.05,
                 w_avg_beta=0.995, xflip=True, mbstd_group=4, learning_rate=0.0025, truncation_psi=0.7, seed=None,
                 **kwargs):
        kwargs.setdefault("name", "stylegan")
        super().__init__(**kwargs)
        image_shape = tuple(image_shape)
        r = image_shape[0]
        if image_shape[0] != image_shape[1] or r < 8 or r & (r - 1) or len(image_shape) != 3:
            raise ValueError(f"StyleGAN images are square with a power-of-2 side of at least 8 (e.g. (32, 32, 3)); "
                             f"got {image_shape}")
        self.w_dim, self.mapping_layers = int(w_dim), int(mapping_layers)
        self.channel_base, self.channel_max = int(channel_base), int(channel_max)
        self.style_mixing, self.ema_kimg, self.ema_rampup = float(style_mixing), float(ema_kimg), float(ema_rampup)
        self.w_avg_beta, self.xflip, self.learning_rate = float(w_avg_beta), bool(xflip), float(learning_rate)
        self.truncation_psi = float(truncation_psi)
        self.check_defaults()
        make = lambda name: StyleGenerator(r, image_shape[-1], latent_dim, self.w_dim, self.mapping_layers,  # noqa: E731
                                           self.channel_base, self.channel_max, name=name)
        generator, self.ema_generator = make("generator"), make("ema_generator")
        discriminator = Discriminator(r, self.channel_base, self.channel_max, mbstd_group, name="discriminator")
        self.w_avg = self.add_weight(shape=(self.w_dim,), name="w_avg", initializer="zeros", trainable=False)
        self.setup(image_shape, latent_dim, seed, generator, discriminator, LazyR1(r1_gamma, r1_interval))
        self.num_ws = generator.num_ws
        for network in (generator, self.ema_generator):
            network(ops.zeros((1, latent_dim)))  # builds every layer
        discriminator(ops.zeros((self.mbstd_group, *image_shape)))
        self.ema_generator.set_weights(generator.get_weights())
        self.ema_generator.trainable = False

    @property
    def mbstd_group(self):
        return self.discriminator.mbstd_group

    def get_config(self):
        return {**super().get_config(), "w_dim": self.w_dim, "mapping_layers": self.mapping_layers,
                "channel_base": self.channel_base, "channel_max": self.channel_max,
                "r1_gamma": self.loss_fn.gamma, "r1_interval": self.loss_fn.interval,
                "style_mixing": self.style_mixing, "ema_kimg": self.ema_kimg, "ema_rampup": self.ema_rampup,
                "w_avg_beta": self.w_avg_beta, "xflip": self.xflip, "mbstd_group": self.mbstd_group,
                "learning_rate": self.learning_rate, "truncation_psi": self.truncation_psi}

    def compile(self, g_optimizer=None, d_optimizer=None, **kwargs):
        """Adam(lr, 0, 0.99) for G; for D the lr and betas raised to k/(k+1) for R1 every
        k steps (stylegan2's lazy-regularization correction)."""
        ratio = self.loss_fn.interval / (self.loss_fn.interval + 1)
        adam = lambda r: keras.optimizers.Adam(self.learning_rate * r, beta_1=0.0, beta_2=0.99 ** r,  # noqa: E731
                                               epsilon=1e-8)
        super().compile(g_optimizer or adam(1.0), d_optimizer or adam(ratio), **kwargs)

    # -- training --------------------------------------------------------------------
    def fake_images(self, batch):
        """G's images of a training step, with style mixing and random noise; also the
        first w (for w_avg)."""
        normal = lambda shape: self.draw(keras.random.normal, shape)  # noqa: E731
        mapping = self.generator.mapping
        w = mapping(normal((batch, self.latent_dim)))
        w_mix = mapping(normal((batch, self.latent_dim)))
        mix = keras.random.uniform((), seed=self.seed_generator) < self.style_mixing
        cutoff = ops.where(mix, keras.random.randint((), 1, self.num_ws, seed=self.seed_generator), self.num_ws)
        first = (ops.arange(self.num_ws) < cutoff)[None, :, None]
        ws = ops.where(first, w[:, None], w_mix[:, None])
        noise = [normal((batch, r, r, 1)) for r in self.generator.synthesis.noise_resolutions]
        return self.generator.synthesis(ws, noise), w

    def augment(self, images):
        if not self.xflip:
            return images
        flip = self.draw(keras.random.uniform, (ops.shape(images)[0], 1, 1, 1)) < 0.5
        return ops.where(flip, ops.flip(images, axis=2), images)

    def train_step(self, data):
        real = self.augment(self.images_in(data, self.image_shape))
        batch = ops.shape(real)[0]
        D, loss = (lambda x_: ops.cast(self.discriminator(x_), "float32")), self.loss_fn  # float32 logits under mixed precision
        g_vars, d_vars = self.generator.trainable_variables, self.discriminator.trainable_variables
        regularize = ops.equal(self.optimizer["d"].iterations % loss.interval, 0)

        def g_loss_fn():
            fake, w = self.fake_images(batch)
            return loss.generator(D(fake)), (fake, w)

        (g_loss, (fake, w)), g_grads = self.value_and_grad(g_loss_fn, g_vars, has_aux=True)
        self.optimizer["g"].apply(g_grads, g_vars)
        fake = ops.stop_gradient(fake)
        (d_loss, logs), d_grads = self.value_and_grad(lambda: loss.discriminator(self, D, real, fake), d_vars,
                                                      has_aux=True)

        def r1_step():  # every `interval` D steps: R1's gradient joins this step's
            (_, r1), grads = self.value_and_grad(lambda: loss.regularizer(self, D, real), d_vars, has_aux=True)
            return list(grads), r1

        def no_r1():
            return [ops.zeros(v.shape, v.dtype) for v in d_vars], ops.zeros(())

        r1_grads, r1 = ops.cond(regularize, r1_step, no_r1)
        self.optimizer["d"].apply([a + b for a, b in zip(d_grads, r1_grads)], d_vars)
        # w_avg and the EMA generator (half-life ema_kimg thousand images, ramped up)
        w_mean = ops.mean(ops.stop_gradient(w), axis=0)
        self.w_avg.assign(w_mean + self.w_avg_beta * (self.w_avg - w_mean))
        images_seen = self.steps_done(self.optimizer["g"]) * ops.cast(batch, "float32")  # a preset's included
        half_life = ops.minimum(self.ema_kimg * 1000.0, images_seen * self.ema_rampup)
        beta = ops.power(0.5, ops.cast(batch, "float32") / ops.maximum(half_life, 1e-8))
        pairs = [(e, v) for e, v in zip(self.ema_generator.weights, self.generator.weights) if v.trainable]
        backend.moving_average([e for e, _ in pairs], [v for _, v in pairs], beta)
        r1_tracker = next(t for t in self._trackers if t.name == "r1_penalty")  # a mean over regularization steps
        r1_tracker.update_state(r1, sample_weight=ops.cast(regularize, "float32"))
        return self.update_trackers(d_loss=d_loss, g_loss=g_loss, **logs)

    # -- sampling options ------------------------------------------------------------
    def sampling_options(self):
        return [Option("truncation_psi", "float", self.truncation_psi, low=-1.0, high=2.0, label="ψ={value:g}",
                       help="truncation: w = w_avg + psi (w - w_avg); 1 none, 0 the average face")]

    # -- generation (the EMA generator) ------------------------------------------------
    def truncate(self, w, psi):
        """w pulled towards w_avg: w_avg + psi (w - w_avg)."""
        return self.w_avg + psi * (w - self.w_avg)

    def mapping(self, z, truncation_psi=1.0):
        """Latent vectors (N, latent_dim) -> w (N, w_dim), numpy, truncated towards w_avg by psi."""
        psi = self.resolve_options(truncation_psi=truncation_psi)["truncation_psi"]
        z = ops.convert_to_tensor(self.check_latents(z))
        w = self.ema_generator.mapping(z)
        return ops.convert_to_numpy(self.truncate(w, psi))

    def synthesize(self, w, batch_size=None):
        """w (N, w_dim), or one per layer (N, num_ws, w_dim) -> numpy uint8 images (fixed noise)."""
        w = np.asarray(w)
        if w.dtype.kind != "f" or w.ndim not in (2, 3) or w.shape[-1] != self.w_dim or \
                (w.ndim == 3 and w.shape[1] != self.num_ws):
            raise ValueError(f"{self.name} synthesizes float w of shape (N, {self.w_dim}) or "
                             f"(N, {self.num_ws}, {self.w_dim}); got {w.dtype} {w.shape}")
        if not np.isfinite(w).all():
            raise ValueError(f"{self.name}: w holds NaN or inf")
        ws = np.repeat(w[:, None], self.num_ws, axis=1) if w.ndim == 2 else w
        synthesis = self.ema_generator.synthesis
        return batched(lambda b: to_uint8(synthesis(ops.convert_to_tensor(b.astype("float32")))), ws, batch_size,
                       empty=np.zeros((0, *self.image_shape), np.uint8))

    def decode(self, z, batch_size=None, truncation_psi=None):
        """Latent vectors (N, latent_dim) -> numpy uint8 images (EMA generator, fixed noise)."""
        psi = self.truncation_psi if truncation_psi is None else truncation_psi
        return self.synthesize(self.mapping(z, psi), batch_size=batch_size)

    def decode_batch(self, z):
        w = self.ema_generator.mapping(z)
        w = self.truncate(w, self.truncation_psi)
        return self.ema_generator.synthesis(ops.repeat(w[:, None], self.num_ws, axis=1))

    def generate_images(self, num, seed, batch_size=None, progress=True, latents=None, truncation_psi=None):
        z = self.sample_noise(num, seed) if latents is None else latents
        return self.decode(z, batch_size=batch_size, truncation_psi=truncation_psi)

    def latents_of_seeds(self, seeds, name="seeds"):
        """One latent vector per seed (numpy's generator: the same on every backend)."""
        if isinstance(seeds, (int, np.integer)):
            seeds = [seeds]
        seeds = [check_int(f"each of {name}", s, 0, 2**32 - 1) for s in seeds]
        return np.stack([self.sample_noise(1, s)[0] for s in seeds]) if seeds else \
            np.zeros((0, self.latent_dim), "float32")

    def style_layers(self):
        """{"coarse", "middle", "fine"}: the w layers (start, stop) of 4-8 px, 16 px, and 32 px
        and up (at 64x64 and more: 16-32 px middle, 64 px and up fine)."""
        n = self.num_ws
        first = lambda r: min(2 * int(math.log2(r)) - 4, n)  # noqa: E731  (the first w layer of resolution r)
        middle = (first(16), min(first(16) + 2, n) if self.image_shape[0] <= 32 else first(64))
        return {"coarse": (0, middle[0]), "middle": middle, "fine": (middle[1], self.num_ws)}

    def mix_styles(self, seeds_a, seeds_b, crossover, truncation_psi=None):
        """Images whose w layers [0, crossover) come from seeds_a and [crossover, num_ws) from
        seeds_b, pair by pair (crossover 0: seeds_b's images; num_ws: seeds_a's). `crossover`
        may also name a range of `style_layers()` ("coarse", "middle", "fine"), which then
        comes from seeds_b and the rest from seeds_a."""
        za, zb = self.latents_of_seeds(seeds_a, "seeds_a"), self.latents_of_seeds(seeds_b, "seeds_b")
        if len(za) != len(zb):
            raise OptionError(f"seeds_a and seeds_b pair up, so they need the same length; got {len(za)} and {len(zb)}")
        ranges = self.style_layers()
        if isinstance(crossover, str):
            if crossover not in ranges:
                raise OptionError(f"unknown crossover {crossover!r}; use an integer in [0, {self.num_ws}] or one of "
                                  f"{', '.join(ranges)}")
            start, stop = ranges[crossover]
            from_b = (np.arange(self.num_ws) >= start) & (np.arange(self.num_ws) < stop)
        else:
            crossover = check_int("crossover", crossover, 0, self.num_ws)
            from_b = np.arange(self.num_ws) >= crossover
        psi = self.truncation_psi if truncation_psi is None else truncation_psi
        wa, wb = self.mapping(za, psi), self.mapping(zb, psi)
        return self.synthesize(np.where(from_b[None, :, None], wb[:, None], wa[:, None]))

    def mixing_figure(self, column_seeds, row_seeds, styles="coarse", truncation_psi=None):
        """The StyleGAN figure as (images, nrow): (rows + 1) x (columns + 1) images, row-major, and
        the row length to lay them out (`zoo.viz.save_grid(images, path, nrow=nrow)`): a blank
        corner, the column sources along the top, and each row: its source, then the column
        sources with `styles` ("coarse", "middle" or "fine") taken from it."""
        cols, rows = list(column_seeds), list(row_seeds)
        top = self.decode(self.latents_of_seeds(cols), truncation_psi=truncation_psi)
        left = self.decode(self.latents_of_seeds(rows), truncation_psi=truncation_psi)
        grid = [np.full((1, *self.image_shape), 255, np.uint8), top]
        for i, seed in enumerate(rows):
            grid += [left[i:i + 1], self.mix_styles(cols, [seed] * len(cols), styles, truncation_psi)]
        return np.concatenate(grid), len(cols) + 1

    def views(self):
        return {"interpolation in w": lambda seed, truncation_psi=None: (
                    self.interpolate(seed, seed + 1, 8, "w", truncation_psi), 8),
                "style mixing (coarse styles from the rows)": lambda seed, truncation_psi=None:
                    self.mixing_figure(range(seed, seed + 4), range(seed + 4, seed + 7), "coarse", truncation_psi)}

    def interpolate(self, seed_a, seed_b, steps=8, space="w", truncation_psi=None):
        """`steps` images on the way from seed_a's image to seed_b's: a straight line in w
        (`space="w"`) or a great circle in z (`space="z"`)."""
        steps = check_int("steps", steps, 2)
        if space not in ("w", "z"):
            raise OptionError(f"unknown space {space!r}; use w or z")
        za, zb = self.latents_of_seeds([seed_a, seed_b], "the seeds")
        t = np.linspace(0.0, 1.0, steps, dtype="float32")[:, None]
        psi = self.truncation_psi if truncation_psi is None else truncation_psi
        if space == "w":
            wa, wb = self.mapping(np.stack([za, zb]), psi)
            return self.synthesize((1 - t) * wa + t * wb)
        omega = np.arccos(np.clip(np.dot(za / np.linalg.norm(za), zb / np.linalg.norm(zb)), -1.0, 1.0))
        z = (np.sin((1 - t) * omega) * za + np.sin(t * omega) * zb) / np.sin(omega) if omega > 1e-6 else \
            (1 - t) * za + t * zb
        return self.decode(z.astype("float32"), truncation_psi=psi)
