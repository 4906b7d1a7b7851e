"""The UNet of the diffusion models: eps(x_t, t[, condition]).

    build_unet(image_shape, widths=(32, 64, 128), blocks=1, attention=(2,))      # DDPM's
    build_unet(..., num_classes=10, film=True)                                   # + a class
    build_unet(..., cond_dim=256, context_dim=128, cross_attention=(1, 2))       # + text

* `len(widths)` resolutions, `blocks` residual blocks at each on the way down and up (skip
  connections between them), self-attention at the resolution indices in `attention`
  and in the middle, a sinusoidal time embedding through an MLP into every block.
* A condition joins the time embedding: a class label (an embedding of `num_classes + 1`
  rows, the last being "no class", the null condition of classifier-free guidance) or a
  pooled vector (`cond_dim`, e.g. a text embedding; its null is the caller's). With
  `film=True` every residual block applies the embedding as a FiLM scale and shift
  after its second GroupNorm (Dhariwal & Nichol's "scale-shift norm"); otherwise it is
  added (Ho et al.).
* A token sequence (`context_dim`: (batch, length, context_dim), with a 0/1 mask of the
  real tokens) is read by cross-attention after the blocks at the resolution indices in
  `cross_attention` and in the middle. The layers a condition adds are named
  (`cond_projection`, `cross_attention_K`, `cross_attention_K_norm`):
  `unconditional_layers(unet)` are the others, layer for layer those of the UNet built
  without the condition, so a conditional UNet can start from an unconditional one.

The inputs are, in this order: x_t, t, then whichever of label, cond, context and
context_mask the network takes. Without a condition the network
is layer for layer the one the shipped ddpm_* presets were trained with.
"""

import math
import re

import keras
import numpy as np
from keras import layers, ops

from zoo.layers import Conv2D, GroupNormalization, float32_under_mixed


@keras.saving.register_keras_serializable(package="zoo")
class SinusoidalEmbedding(layers.Layer):
    """Timesteps t (batch,) -> (batch, dim): sin and cos of t at geometrically spaced
    frequencies from 1 to 1/max_period (the Transformer's position encoding)."""

    def __init__(self, dim, max_period=10000.0, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.max_period = int(dim), float(max_period)

    def call(self, t):
        half = self.dim // 2
        # the same float32 0, 1, ..., half - 1 as ops.arange, as a constant: jax2onnx (zoo export) cannot trace arange
        freqs = ops.exp(-math.log(self.max_period) * ops.convert_to_tensor(np.arange(half, dtype="float32")) / half)
        angles = ops.cast(ops.reshape(t, (-1, 1)), "float32") * freqs[None, :]
        return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "max_period": self.max_period}


def _group_norm(width):
    return GroupNormalization(groups=min(8, width), epsilon=1e-5)


def res_block(x, temb, width, dropout=0.0, film=False):
    """GroupNorm-swish-conv, the projected embedding (added, or as FiLM scale and shift
    after the second GroupNorm), swish-dropout-conv, and a residual connection (1x1 conv
    where the width changes)."""
    skip = x if x.shape[-1] == width else Conv2D(width, 1)(x)
    h = Conv2D(width, 3, padding="same")(layers.Activation("swish")(_group_norm(x.shape[-1])(x)))
    if film:
        scale_shift = layers.Reshape((1, 1, 2 * width))(layers.Dense(2 * width)(temb))
        h = _group_norm(width)(h) * (1.0 + scale_shift[..., :width]) + scale_shift[..., width:]
        h = layers.Dropout(dropout)(layers.Activation("swish")(h))
    else:
        h = h + layers.Reshape((1, 1, width))(layers.Dense(width)(temb))
        h = layers.Dropout(dropout)(layers.Activation("swish")(_group_norm(width)(h)))
    return skip + Conv2D(width, 3, padding="same")(h)


def attention_block(x, num_heads=4, context=None, context_mask=None, name=None):
    """Attention over the pixels of a feature map, residual: self-attention, or with a
    `context` (batch, length, dim) cross-attention from the pixels to its tokens (its layers
    named `name`_norm and `name`, so a fine-tune can tell them from an unconditional UNet's)."""
    height, width, channels = x.shape[1:]
    norm = _group_norm(channels) if name is None else GroupNormalization(
        groups=min(8, channels), epsilon=1e-5, name=f"{name}_norm")
    h = layers.Reshape((height * width, channels))(norm(x))
    if context is None:
        h = layers.MultiHeadAttention(num_heads, channels // num_heads, dtype=float32_under_mixed())(h, h)
    else:
        mask = None if context_mask is None else ops.cast(
            ops.repeat(context_mask[:, None, :], height * width, axis=1), "bool")
        h = layers.MultiHeadAttention(num_heads, channels // num_heads, dtype=float32_under_mixed(), name=name)(
            h, context, attention_mask=mask)
    return x + layers.Reshape((height, width, channels))(h)


def build_unet(image_shape, widths=(32, 64, 128), blocks=1, attention=(2,), dropout=0.0, num_classes=None,
               cond_dim=None, context_dim=None, context_length=None, cross_attention=(), film=False, name="unet"):
    """The noise predictor eps(x_t, t[, condition]) (see the module's docstring)."""
    x_in = keras.Input(image_shape, name="x_t")
    t_in = keras.Input((), name="t")
    inputs = [x_in, t_in]
    temb = SinusoidalEmbedding(widths[0])(t_in)
    temb = layers.Dense(4 * widths[0])(layers.Dense(4 * widths[0], activation="swish")(temb))
    if num_classes:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        embed = layers.Embedding(num_classes + 1, 4 * widths[0], name="class_embedding",
                                 embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0))  # as torch's
        temb = temb + embed(label)
    if cond_dim:
        cond = keras.Input((cond_dim,), name="cond")
        inputs.append(cond)
        temb = temb + layers.Dense(4 * widths[0], name="cond_projection")(cond)
    context = context_mask = None
    if context_dim:
        context = keras.Input((context_length, context_dim), name="context")
        context_mask = keras.Input((context_length,), name="context_mask")
        inputs += [context, context_mask]
    temb = layers.Activation("swish")(temb)

    crossings = []  # the cross-attention blocks' names: cross_attention_0, _1, ...

    def cross(x):
        crossings.append(f"cross_attention_{len(crossings)}")
        return attention_block(x, context=context, context_mask=context_mask, name=crossings[-1])

    def attend(x, level):
        if level in attention:
            x = attention_block(x)
        if context is not None and level in cross_attention:
            x = cross(x)
        return x

    x = Conv2D(widths[0], 3, padding="same")(x_in)
    skips = []
    for level, width in enumerate(widths):
        for _ in range(blocks):
            x = attend(res_block(x, temb, width, dropout, film), level)
            skips.append(x)
        if level < len(widths) - 1:
            x = Conv2D(width, 3, strides=2, padding="same")(x)
    x = attention_block(res_block(x, temb, widths[-1], dropout, film))
    if context is not None:
        x = cross(x)
    x = res_block(x, temb, widths[-1], dropout, film)
    for level, width in reversed(list(enumerate(widths))):
        for _ in range(blocks):
            x = attend(res_block(layers.Concatenate()([x, skips.pop()]), temb, width, dropout, film), level)
        if level > 0:
            x = Conv2D(width, 3, padding="same")(layers.UpSampling2D(2)(x))
    x = layers.Activation("swish")(_group_norm(widths[0])(x))
    out = Conv2D(image_shape[-1], 3, padding="same", kernel_initializer="zeros")(x)
    return keras.Model(inputs, out, name=name)


CONDITION_LAYERS = ("cond_projection", "cross_attention_", "class_embedding")


def unconditional_layers(unet):
    """The layers with weights of `unet` that an unconditional UNet of the same widths also
    has, in an order that pairs them with its: by class, then in creation order (the number
    Keras appends to a layer's name; a functional model's own order is topological, and the
    condition's layers change it)."""
    def key(layer):
        number = re.search(r"_(\d+)$", layer.name)
        return type(layer).__name__, int(number.group(1)) if number else 0

    return sorted((layer for layer in unet.layers if layer.weights and not layer.name.startswith(CONDITION_LAYERS)),
                  key=key)
