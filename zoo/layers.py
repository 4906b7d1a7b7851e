"""Keras' convolution and normalization layers, fast on torch.

Same weights, configs, names and results as Keras' layers (tests/test_layers.py); on torch
they take the fused, copy-free kernels of `zoo.core.torch_kernels` where those apply
(float32, channels_last data, no dilation). Every zoo network uses these instead of
Keras' own. Blocks built from layers live in `zoo.networks` (Transformer, UNet).
"""


import keras
from keras import layers, ops

from zoo.core import torch_kernels as kernels
from zoo.core.backend import BACKEND


# On torch these make the DCGAN train step about 1.3x faster and the UNet step about 10%
# faster (README, "Choosing a backend").
def _fast(x, *variables, bfloat16=False):
    """Whether the torch kernel applies: float32 input and weights, or (convolutions,
    `bfloat16`) a mixed_bfloat16 layer's bfloat16 input with its weights as read in its call
    (autocast to bfloat16). Normalization layers keep Keras' code in bfloat16, which computes
    the statistics in float32."""
    if BACKEND != "torch":
        return False
    dtype = keras.backend.standardize_dtype(x.dtype)
    if dtype == "float32" or (bfloat16 and dtype == "bfloat16"):
        return all(keras.backend.standardize_dtype(ops.convert_to_tensor(t).dtype) == dtype for t in variables)
    return False


@keras.saving.register_keras_serializable(package="zoo")
class Conv2D(layers.Conv2D):
    def call(self, inputs):
        y = None
        if (_fast(inputs, self.kernel, bfloat16=True) and self.data_format == "channels_last"
                and self.dilation_rate == (1, 1)):
            bias = ops.convert_to_tensor(self.bias) if self.use_bias else None  # added inside the kernel
            y = kernels.conv2d(inputs, ops.convert_to_tensor(self.kernel), self.strides, self.padding, self.groups, bias)
        if y is None:
            return super().call(inputs)
        return y if self.activation is None else self.activation(y)


@keras.saving.register_keras_serializable(package="zoo")
class Conv2DTranspose(layers.Conv2DTranspose):
    def call(self, inputs):
        y = None
        if (_fast(inputs, self.kernel, bfloat16=True) and self.data_format == "channels_last" and self.output_padding is None
                and self.dilation_rate == (1, 1)):
            y = kernels.conv2d_transpose(inputs, ops.convert_to_tensor(self.kernel), self.strides, self.padding)
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
        y, mean, variance = kernels.batch_norm(inputs, tensor(self.gamma), tensor(self.beta), tensor(self.moving_mean),
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
            y = kernels.group_norm(inputs, tensor(self.gamma), tensor(self.beta), self.groups, self.epsilon)
        return super().call(inputs) if y is None else y


def conv2d(x, kernel, padding="same"):
    """A stride-1 convolution of NHWC `x` with a Keras kernel (kh, kw, in, out), for layers
    that build their kernel at run time (StyleGAN's equalized and modulated convolutions);
    torch takes the copy-free kernel where it applies."""
    if _fast(x, kernel):
        y = kernels.conv2d(x, kernel, (1, 1), padding)
        if y is not None:
            return y
    return ops.conv(x, kernel, strides=1, padding=padding)


def float32_under_mixed():
    """The dtype for a layer that must compute in float32 (attention, whose softmax Keras'
    MultiHeadAttention takes in its compute dtype): "float32" under a mixed-precision policy,
    else None (the global policy)."""
    return "float32" if keras.mixed_precision.global_policy().name.startswith("mixed_") else None
