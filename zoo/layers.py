"""Blocks shared by zoo's models: Keras' convolution and normalization layers with torch
fast paths, the Transformer's causal self-attention and block, and the UNet of the
diffusion models.

Each block runs in two modes: `layer(x)` over a whole sequence (training, scoring), and
`layer(x, cache=..., index=...)` over the new tokens only, reading and writing a
key/value cache of fixed length (sampling): static shapes, so the sampling loop
compiles once per backend.
"""

import math

import keras
from keras import layers, ops

from zoo.core import backend


# -- Keras layers, fast on torch -------------------------------------------------------
# Same weights, configs, names and results as Keras' layers (tests/test_layers.py); on
# torch they take the fused, copy-free paths of zoo.core.backend where those apply (float32,
# channels_last data, no dilation), which makes the DCGAN train step about 1.3x faster there
# and the UNet step about 10% faster (README, "Choosing a backend").
def _fast(x, *variables):
    return backend.BACKEND == "torch" and all(keras.backend.standardize_dtype(t.dtype) == "float32"
                                             for t in (x, *variables))


@keras.saving.register_keras_serializable(package="zoo")
class Conv2D(layers.Conv2D):
    def call(self, inputs):
        y = None
        if _fast(inputs, self.kernel) and self.data_format == "channels_last" and self.dilation_rate == (1, 1):
            bias = ops.convert_to_tensor(self.bias) if self.use_bias else None  # added inside the kernel
            y = backend.conv2d(inputs, ops.convert_to_tensor(self.kernel), self.strides, self.padding, self.groups, bias)
        if y is None:
            return super().call(inputs)
        return y if self.activation is None else self.activation(y)


@keras.saving.register_keras_serializable(package="zoo")
class Conv2DTranspose(layers.Conv2DTranspose):
    def call(self, inputs):
        y = None
        if (_fast(inputs, self.kernel) and self.data_format == "channels_last" and self.output_padding is None
                and self.dilation_rate == (1, 1)):
            y = backend.conv2d_transpose(inputs, ops.convert_to_tensor(self.kernel), self.strides, self.padding)
        if y is None:
            return super().call(inputs)
        if self.use_bias:
            y = y + self.bias
        return y if self.activation is None else self.activation(y)


@keras.saving.register_keras_serializable(package="zoo")
class BatchNormalization(layers.BatchNormalization):
    def call(self, inputs, training=None, mask=None):
        if (mask is not None or self.renorm or not (self.scale and self.center) or self.axis not in (-1, inputs.ndim - 1)
                or not _fast(inputs, self.gamma, self.moving_mean)):
            return super().call(inputs, training=training, mask=mask)
        training = bool(training and self.trainable)
        tensor = ops.convert_to_tensor
        y, mean, variance = backend.batch_norm(inputs, tensor(self.gamma), tensor(self.beta), tensor(self.moving_mean),
                                               tensor(self.moving_variance), self.epsilon, training)
        if training:
            m = self.momentum
            self.moving_mean.assign(self.moving_mean * m + mean * (1.0 - m))
            self.moving_variance.assign(self.moving_variance * m + variance * (1.0 - m))
        return y


@keras.saving.register_keras_serializable(package="zoo")
class GroupNormalization(layers.GroupNormalization):
    def call(self, inputs):
        y = None
        if self.axis in (-1, inputs.ndim - 1) and self.scale and self.center and _fast(inputs, self.gamma, self.beta):
            tensor = ops.convert_to_tensor
            y = backend.group_norm(inputs, tensor(self.gamma), tensor(self.beta), self.groups, self.epsilon)
        return super().call(inputs) if y is None else y


def normal(stddev=0.02):
    return keras.initializers.RandomNormal(stddev=stddev)


@keras.saving.register_keras_serializable(package="zoo")
class CausalSelfAttention(layers.Layer):
    """Multi-head self-attention where position t sees positions <= t.

    With `cache=(keys, values)`, each (batch, max_len, heads, head_dim), `x` holds the
    tokens at positions index, index+1, ...: their keys and values are written into the
    cache, they attend to every cached position up to their own, and the call returns
    `(y, new_cache)`.
    """

    def __init__(self, num_heads, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.dropout = int(num_heads), float(dropout)

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim % self.num_heads:
            raise ValueError(f"width {dim} is not divisible by num_heads {self.num_heads}")
        self.head_dim = dim // self.num_heads
        self.qkv = layers.Dense(3 * dim, kernel_initializer=normal(), name="qkv")
        self.qkv.build(input_shape)
        self.out = layers.Dense(dim, kernel_initializer=normal(), name="out")
        self.out.build(input_shape)
        self.drop = layers.Dropout(self.dropout)

    def call(self, x, cache=None, index=0, training=False):
        batch, length, dim = ops.shape(x)[0], ops.shape(x)[1], x.shape[-1]
        heads = ops.reshape(self.qkv(x), (batch, length, 3, self.num_heads, self.head_dim))
        q, k, v = heads[:, :, 0], heads[:, :, 1], heads[:, :, 2]
        if cache is None:
            y = ops.dot_product_attention(q, k, v, is_causal=True)
        else:
            keys = ops.slice_update(cache[0], (0, index, 0, 0), k)
            values = ops.slice_update(cache[1], (0, index, 0, 0), v)
            positions = index + ops.arange(length)
            mask = ops.arange(keys.shape[1])[None, :] <= positions[:, None]  # (length, max_len)
            y = ops.dot_product_attention(q, keys, values, mask=mask[None, None])
        y = self.drop(self.out(ops.reshape(y, (batch, length, dim))), training=training)
        return y if cache is None else (y, (keys, values))

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "dropout": self.dropout}


@keras.saving.register_keras_serializable(package="zoo")
class TransformerBlock(layers.Layer):
    """Pre-LayerNorm Transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, num_heads, mlp_ratio=4, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.mlp_ratio, self.dropout = int(num_heads), int(mlp_ratio), float(dropout)

    def build(self, input_shape):
        dim = input_shape[-1]
        self.norm1 = layers.LayerNormalization(epsilon=1e-5, name="norm1")
        self.attention = CausalSelfAttention(self.num_heads, self.dropout, name="attention")
        self.norm2 = layers.LayerNormalization(epsilon=1e-5, name="norm2")
        self.fc1 = layers.Dense(self.mlp_ratio * dim, activation="gelu", kernel_initializer=normal(),
                                name="fc1")
        self.fc2 = layers.Dense(dim, kernel_initializer=normal(), name="fc2")
        self.drop = layers.Dropout(self.dropout)
        for layer in (self.norm1, self.attention, self.norm2, self.fc1):
            layer.build(input_shape)
        self.fc2.build((*input_shape[:-1], self.mlp_ratio * dim))

    def call(self, x, cache=None, index=0, training=False):
        if cache is None:
            x = x + self.attention(self.norm1(x), training=training)
        else:
            h, cache = self.attention(self.norm1(x), cache=cache, index=index)
            x = x + h
        x = x + self.drop(self.fc2(self.fc1(self.norm2(x))), training=training)
        return x if cache is None else (x, cache)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "mlp_ratio": self.mlp_ratio,
                "dropout": self.dropout}


# -- UNet (diffusion models) ---------------------------------------------------------
@keras.saving.register_keras_serializable(package="zoo")
class SinusoidalEmbedding(layers.Layer):
    """Timesteps t (batch,) -> (batch, dim): sin and cos of t at geometrically spaced
    frequencies from 1 to 1/max_period (the Transformer's position encoding)."""

    def __init__(self, dim, max_period=10000.0, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.max_period = int(dim), float(max_period)

    def call(self, t):
        half = self.dim // 2
        freqs = ops.exp(-math.log(self.max_period) * ops.arange(half, dtype="float32") / half)
        angles = ops.cast(ops.reshape(t, (-1, 1)), "float32") * freqs[None, :]
        return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "max_period": self.max_period}


def _group_norm(width):
    return GroupNormalization(groups=min(8, width), epsilon=1e-5)


def res_block(x, temb, width, dropout=0.0):
    """GroupNorm-swish-conv, plus the projected time embedding, GroupNorm-swish-dropout-conv,
    and a residual connection (1x1 conv where the width changes)."""
    skip = x if x.shape[-1] == width else Conv2D(width, 1)(x)
    h = Conv2D(width, 3, padding="same")(layers.Activation("swish")(_group_norm(x.shape[-1])(x)))
    h = h + layers.Reshape((1, 1, width))(layers.Dense(width)(temb))
    h = layers.Dropout(dropout)(layers.Activation("swish")(_group_norm(width)(h)))
    return skip + Conv2D(width, 3, padding="same")(h)


def attention_block(x, num_heads=4):
    """Self-attention over the pixels of a feature map, residual."""
    height, width, channels = x.shape[1:]
    h = layers.Reshape((height * width, channels))(_group_norm(channels)(x))
    h = layers.MultiHeadAttention(num_heads, channels // num_heads)(h, h)
    return x + layers.Reshape((height, width, channels))(h)


def build_unet(image_shape, widths=(32, 64, 128), blocks=1, attention=(2,), dropout=0.0, name="unet"):
    """The noise predictor eps(x_t, t) of DDPM (Ho et al. 2020): `len(widths)` resolutions,
    `blocks` residual blocks at each on the way down and up (skip connections between
    them), self-attention at the resolution indices in `attention` and in the middle,
    a sinusoidal time embedding through an MLP into every block."""
    x_in = keras.Input(image_shape, name="x_t")
    t_in = keras.Input((), name="t")
    temb = SinusoidalEmbedding(widths[0])(t_in)
    temb = layers.Dense(4 * widths[0])(layers.Dense(4 * widths[0], activation="swish")(temb))
    temb = layers.Activation("swish")(temb)
    x = Conv2D(widths[0], 3, padding="same")(x_in)
    skips = []
    for level, width in enumerate(widths):
        for _ in range(blocks):
            x = res_block(x, temb, width, dropout)
            if level in attention:
                x = attention_block(x)
            skips.append(x)
        if level < len(widths) - 1:
            x = Conv2D(width, 3, strides=2, padding="same")(x)
    x = attention_block(res_block(x, temb, widths[-1], dropout))
    x = res_block(x, temb, widths[-1], dropout)
    for level, width in reversed(list(enumerate(widths))):
        for _ in range(blocks):
            x = res_block(layers.Concatenate()([x, skips.pop()]), temb, width, dropout)
            if level in attention:
                x = attention_block(x)
        if level > 0:
            x = Conv2D(width, 3, padding="same")(layers.UpSampling2D(2)(x))
    x = layers.Activation("swish")(_group_norm(widths[0])(x))
    out = Conv2D(image_shape[-1], 3, padding="same", kernel_initializer="zeros")(x)
    return keras.Model([x_in, t_in], out, name=name)
