"""DCGAN: the deep convolutional GAN of Radford et al. (2016).

Preset `dcgan_anime`: 64x64 RGB anime faces from 100-d Gaussian noise.

* Generator: Dense to 4x4x(8w), then stride-2 4x4 transposed convolutions halving the
  channels (8w -> 4w -> 2w -> w) and doubling the size up to the image, BatchNorm + ReLU,
  tanh output. No pooling, no fully connected hidden layers.
* Discriminator: the mirror: stride-2 4x4 convolutions (w -> 2w -> 4w -> 8w), LeakyReLU(0.2),
  BatchNorm on all but the first, one logit out.
* Weights start as in the paper: N(0, 0.02) for (transposed) convolutions and dense
  layers, BatchNorm scales N(1, 0.02).
* Training: `AdversarialModel.train_step` (zoo/models/adversarial.py): non-saturating loss, one
  D and one G update per batch, Adam(2e-4, beta_1=0.5) each, optional one-sided label
  smoothing (D aims at 1 - s on real images; the recipe uses s = 0.1).

`width` (w) is the paper's 64 for the full model; smaller widths train in CPU budgets.
"""

import math

import keras
from keras import layers

from zoo.layers import BatchNormalization, Conv2D, Conv2DTranspose
from zoo.models.adversarial import AdversarialModel, NonSaturating
from zoo.tasks import register_model


# -- blocks --------------------------------------------------------------------------
def _init():
    return keras.initializers.RandomNormal(0.0, 0.02)


def _bn():
    return BatchNormalization(gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02))


def _doublings(image_shape):
    n = math.log2(image_shape[0] / 4)
    if image_shape[0] != image_shape[1] or n < 1 or n != int(n):
        raise ValueError(f"DCGAN images are square with a side of 4 * 2**k (8, 16, 32, 64, ...); "
                         f"got {image_shape}")
    return int(n)


def build_generator(latent_dim, width, image_shape):
    n = _doublings(image_shape)
    z = keras.Input((latent_dim,), name="z")
    x = layers.Dense(4 * 4 * width * 2 ** (n - 1), use_bias=False, kernel_initializer=_init())(z)
    x = layers.ReLU()(_bn()(layers.Reshape((4, 4, width * 2 ** (n - 1)))(x)))
    for i in reversed(range(n - 1)):
        x = Conv2DTranspose(width * 2 ** i, 4, strides=2, padding="same", use_bias=False,
                                   kernel_initializer=_init())(x)
        x = layers.ReLU()(_bn()(x))
    image = Conv2DTranspose(image_shape[-1], 4, strides=2, padding="same", activation="tanh",
                                   kernel_initializer=_init())(x)
    return keras.Model(z, image, name="generator")


def build_discriminator(image_shape, width, batch_norm=True, name="discriminator"):
    n = _doublings(image_shape)
    image = keras.Input(image_shape, name="image")
    x = image
    for i in range(n):
        normed = batch_norm and i > 0
        x = Conv2D(width * 2 ** i, 4, strides=2, padding="same", use_bias=not normed,
                          kernel_initializer=_init())(x)
        x = layers.LeakyReLU(0.2)(_bn()(x) if normed else x)
    return keras.Model(image, layers.Dense(1, kernel_initializer=_init())(layers.Flatten()(x)), name=name)


# -- the model -----------------------------------------------------------------------
@register_model
class DCGAN(AdversarialModel):
    def __init__(self, image_shape=(64, 64, 3), latent_dim=100, width=64, seed=None,
                 label_smoothing=0.0, **kwargs):
        kwargs.setdefault("name", "dcgan")
        super().__init__(**kwargs)
        self.width = width
        self.setup(image_shape, latent_dim, seed,
                   build_generator(latent_dim, width, tuple(image_shape)),
                   build_discriminator(tuple(image_shape), width), NonSaturating(label_smoothing))

    def get_config(self):
        return {**super().get_config(), "width": self.width, "label_smoothing": self.loss_fn.label_smoothing}
