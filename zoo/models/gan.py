"""GAN: the multilayer-perceptron GAN of Goodfellow et al. (2014), as in the seed articles.

Preset `gan_mnist`: 28x28 MNIST digits from 100-d Gaussian noise.

* Generator: Dense 256 -> 512 -> 1024 -> H*W*C with LeakyReLU(0.2), BatchNorm on the
  two wider hidden layers, tanh output (images in [-1, 1]).
* Discriminator: Dense 512 -> 256 -> 1 with LeakyReLU(0.2), one logit out.
* Losses: binary cross-entropy on logits; the generator uses the non-saturating
  loss -log D(G(z)). One generator and one discriminator update per batch, with
  their own Adam optimizers (lr 2e-4, beta_1 0.5).
"""

import math

import keras
from keras import layers, ops

from zoo.core import LatentImageModel
from zoo.layers import BatchNormalization


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
class AdversarialModel(LatentImageModel):
    """A generator and a discriminator trained against each other with the
    non-saturating loss (shared by GAN and DCGAN; they differ in their networks)."""

    family = "gan"
    trackers = ("d_loss", "g_loss", "d_real", "d_fake")

    def setup(self, image_shape, latent_dim, seed, generator, discriminator, label_smoothing=0.0):
        self.image_shape, self.latent_dim, self.seed = tuple(image_shape), latent_dim, seed
        self.label_smoothing = float(label_smoothing)
        self.generator, self.discriminator = generator, discriminator
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.add_trackers(*self.trackers)
        self.build()

    def get_config(self):
        return {**super().get_config(), "image_shape": self.image_shape,
                "latent_dim": self.latent_dim, "seed": self.seed, "label_smoothing": self.label_smoothing}

    def call(self, z, training=False):
        return self.generator(z, training=training)

    def compile(self, g_optimizer=None, d_optimizer=None, **kwargs):
        adam = lambda: keras.optimizers.Adam(2e-4, beta_1=0.5)  # noqa: E731
        self.compile_group({"g": (g_optimizer or adam(), self.generator),
                            "d": (d_optimizer or adam(), self.discriminator)}, **kwargs)

    # -- training --------------------------------------------------------------------
    def condition(self, data):
        """What G and D see besides z or the image (None here; labels in a cGAN)."""
        return None

    def train_step(self, data):
        real = self.images_in(data, self.image_shape)
        z = keras.random.normal((ops.shape(real)[0], self.latent_dim), seed=self.seed_generator)
        cond = self.condition(data)
        with_cond = (lambda t: t) if cond is None else (lambda t: [t, cond])  # noqa: E731
        G = lambda z_: self.generator(with_cond(z_), training=True)  # noqa: E731
        D = lambda x_: self.discriminator(with_cond(x_), training=True)  # noqa: E731
        g_vars, d_vars = self.generator.trainable_variables, self.discriminator.trainable_variables

        def g_loss_fn():
            fake = G(z)
            return ops.mean(ops.softplus(-D(fake))), fake

        (g_loss, fake), g_grads = self.value_and_grad(g_loss_fn, g_vars, has_aux=True)
        self.optimizer["g"].apply(g_grads, g_vars)
        fake = ops.stop_gradient(fake)

        def d_loss_fn():
            real_logits, fake_logits = D(real), D(fake)
            # binary cross-entropy; one-sided label smoothing aims D at 1 - s on real images
            s = self.label_smoothing
            real_loss = (1.0 - s) * ops.softplus(-real_logits) + s * ops.softplus(real_logits)
            loss = ops.mean(real_loss) + ops.mean(ops.softplus(fake_logits))
            return loss / 2, (real_logits, fake_logits)

        (d_loss, (real_logits, fake_logits)), d_grads = self.value_and_grad(d_loss_fn, d_vars, has_aux=True)
        self.optimizer["d"].apply(d_grads, d_vars)
        return self.update_trackers(
            d_loss=d_loss, g_loss=g_loss,
            d_real=ops.mean(ops.sigmoid(real_logits)), d_fake=ops.mean(ops.sigmoid(fake_logits)))

    # -- generation ------------------------------------------------------------------
    def decode_batch(self, z):
        return self.generator(z, training=False)


@keras.saving.register_keras_serializable(package="zoo")
class GAN(AdversarialModel):
    def __init__(self, image_shape=(28, 28, 1), latent_dim=100, g_units=(256, 512, 1024),
                 d_units=(512, 256), seed=None, label_smoothing=0.0, **kwargs):
        kwargs.setdefault("name", "gan")
        super().__init__(**kwargs)
        self.g_units, self.d_units = tuple(g_units), tuple(d_units)
        self.setup(image_shape, latent_dim, seed,
                   build_generator(latent_dim, self.g_units, tuple(image_shape)),
                   build_discriminator(tuple(image_shape), self.d_units), label_smoothing)

    def get_config(self):
        return {**super().get_config(), "g_units": self.g_units, "d_units": self.d_units}
