"""GAN: the multilayer-perceptron GAN of Goodfellow et al. (2014), as in the seed articles.

Preset `gan_mnist`: 28x28 MNIST digits from 100-d Gaussian noise.

* Generator: Dense 256 -> 512 -> 1024 -> H*W*C with LeakyReLU(0.2), BatchNorm on the
  two wider hidden layers, tanh output (images in [-1, 1]).
* Discriminator: Dense 512 -> 256 -> 1 with LeakyReLU(0.2), one logit out.
* Loss: `NonSaturating` (zoo/models/adversarial.py): binary cross-entropy on logits, the
  generator minimizing -log D(G(z)). One generator and one discriminator update per
  batch, with their own Adam optimizers (lr 2e-4, beta_1 0.5).
"""

import math

import keras
from keras import layers

from zoo.layers import BatchNormalization
from zoo.models.adversarial import AdversarialModel, NonSaturating
from zoo.tasks import register_model


# -- blocks --------------------------------------------------------------------------
def generator_mlp(x, units, image_shape):
    """Dense layers (BatchNorm after all but the first, LeakyReLU) -> tanh image."""
    for i, n in enumerate(units):
        x = layers.Dense(n)(x)
        if i > 0:
            x = BatchNormalization(momentum=0.9)(x)
        x = layers.LeakyReLU(0.2)(x)
    x = layers.Dense(math.prod(image_shape), activation="tanh")(x)
    return layers.Reshape(image_shape)(x)


def discriminator_mlp(x, units):
    """Dense layers with LeakyReLU -> one logit."""
    for n in units:
        x = layers.LeakyReLU(0.2)(layers.Dense(n)(x))
    return layers.Dense(1)(x)


def build_generator(latent_dim, units, image_shape):
    z = keras.Input((latent_dim,), name="z")
    return keras.Model(z, generator_mlp(z, units, image_shape), name="generator")


def build_discriminator(image_shape, units):
    image = keras.Input(image_shape, name="image")
    return keras.Model(image, discriminator_mlp(layers.Flatten()(image), units), name="discriminator")


# -- the model -----------------------------------------------------------------------
@register_model
class GAN(AdversarialModel):
    def __init__(self, image_shape=(28, 28, 1), latent_dim=100, g_units=(256, 512, 1024),
                 d_units=(512, 256), seed=None, label_smoothing=0.0, **kwargs):
        kwargs.setdefault("name", "gan")
        super().__init__(**kwargs)
        self.g_units, self.d_units = tuple(g_units), tuple(d_units)
        self.setup(image_shape, latent_dim, seed,
                   build_generator(latent_dim, self.g_units, tuple(image_shape)),
                   build_discriminator(tuple(image_shape), self.d_units), NonSaturating(label_smoothing))

    def get_config(self):
        return {**super().get_config(), "g_units": self.g_units, "d_units": self.d_units,
                "label_smoothing": self.loss_fn.label_smoothing}
