"""VAE: the convolutional variational autoencoder of Kingma & Welling (2014), and beta-VAE.

Presets `vae_mnist`, `beta_vae_mnist` (beta = 4), `vae_mnist_2d` (2-d latent) and
`vae_fashion`.

* Encoder q(z|x): Conv 32 -> Conv 64 (3x3, stride 2, ReLU) -> Dense -> mean and log-variance.
* Decoder p(x|z): Dense -> 7x7x64 -> ConvTranspose 32 (stride 2, ReLU) -> ConvTranspose
  (stride 2) -> 1 logit per pixel. (A mirror of the encoder; a third 64-channel layer at
  14x14 and 28x28 made training 5x slower on a 2-core CPU.)
* `blocks = n > 0` adds n residual blocks (x + Conv(ReLU(Conv(ReLU(x)))), 3x3, the last conv
  starting at zero) at each resolution of both networks: after each strided conv of the
  encoder, before each upsampling of the decoder, and at full resolution before its logits.
  `blocks = 0` is the plain mirror above (vae_fashion).
* Reparameterization: z = mean + exp(log_var / 2) * eps, eps ~ N(0, I) from the model's
  SeedGenerator.
* Loss: the negative ELBO with a Bernoulli likelihood, per example in nats:
  reconstruction = sum over pixels of BCE(x, logits); kl = KL(q(z|x) || N(0, I)) in closed
  form; loss = reconstruction + beta * kl (beta = 1: the VAE; beta > 1: beta-VAE, which
  trades reconstruction for a more factorized, lower-information code).
* With `binarize=True` every training batch is binarized afresh (pixel ~ Bernoulli(intensity)),
  the usual "dynamically binarized MNIST" on which conv VAEs reach about 80-90 nats.
"""

import keras
import numpy as np
from keras import layers, ops

from zoo.core import batched
from zoo.layers import Conv2D, Conv2DTranspose
from zoo.tasks import LatentImageModel, register_model


# -- blocks --------------------------------------------------------------------------
def residual(x, blocks):
    """`blocks` residual blocks at x's width; each starts as the identity."""
    for _ in range(blocks):
        h = Conv2D(x.shape[-1], 3, padding="same", activation="relu")(layers.ReLU()(x))
        x = layers.Add()([x, Conv2D(x.shape[-1], 3, padding="same", kernel_initializer="zeros")(h)])
    return x


def build_encoder(image_shape, latent_dim, units, blocks=0):
    image = keras.Input(image_shape, name="image")
    x = residual(Conv2D(32, 3, strides=2, padding="same", activation="relu")(image), blocks)
    x = residual(Conv2D(64, 3, strides=2, padding="same", activation="relu")(x), blocks)
    x = layers.Dense(units, activation="relu")(layers.Flatten()(x))
    mean = layers.Dense(latent_dim, name="mean")(x)
    log_var = layers.Dense(latent_dim, name="log_var")(x)
    return keras.Model(image, [mean, log_var], name="encoder")


def build_decoder(image_shape, latent_dim, units, blocks=0):
    h, w = image_shape[0] // 4, image_shape[1] // 4
    z = keras.Input((latent_dim,), name="z")
    x = layers.Dense(units, activation="relu")(z)
    x = layers.Dense(h * w * 64, activation="relu")(x)
    x = residual(layers.Reshape((h, w, 64))(x), blocks)
    x = residual(Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(x), blocks)
    if blocks:
        x = residual(Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu")(x), blocks)
        logits = Conv2D(image_shape[-1], 3, padding="same", name="logits")(x)
    else:
        logits = Conv2DTranspose(image_shape[-1], 3, strides=2, padding="same", name="logits")(x)
    return keras.Model(z, logits, name="decoder")


def bernoulli_nll(x, logits):
    """-log p(x | logits) per example, summed over pixels (nats)."""
    return ops.sum(ops.softplus(logits) - x * logits, axis=(1, 2, 3))


def gaussian_kl(mean, log_var):
    """KL(N(mean, exp(log_var)) || N(0, I)) per example (nats)."""
    return -0.5 * ops.sum(1.0 + log_var - mean ** 2 - ops.exp(log_var), axis=1)


def gaussian_log_density(z, mean, log_var):
    """log N(z; mean, exp(log_var)) summed over the last axis (numpy, nats)."""
    return -0.5 * np.sum(np.log(2 * np.pi) + log_var + (z - mean) ** 2 / np.exp(log_var), axis=-1)


# -- the model -----------------------------------------------------------------------
@register_model
class VAE(LatentImageModel):
    family = "vae"

    def __init__(self, image_shape=(28, 28, 1), latent_dim=16, units=256, beta=1.0,
                 binarize=True, blocks=0, seed=None, **kwargs):
        kwargs.setdefault("name", "vae")
        super().__init__(**kwargs)
        if image_shape[0] % 4 or image_shape[1] % 4:
            raise ValueError(f"VAE image height and width must be multiples of 4; got {image_shape}")
        self.image_shape, self.latent_dim, self.units = tuple(image_shape), latent_dim, units
        if not isinstance(blocks, int) or isinstance(blocks, bool) or blocks < 0:
            raise ValueError(f"VAE blocks is the number of residual blocks per resolution, an integer >= 0; "
                             f"got {blocks!r}")
        self.beta, self.binarize, self.blocks, self.seed = float(beta), bool(binarize), blocks, seed
        self.encoder = build_encoder(self.image_shape, latent_dim, units, blocks)
        self.decoder = build_decoder(self.image_shape, latent_dim, units, blocks)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.add_trackers("loss", "reconstruction_loss", "kl_loss")
        self.build()

    def get_config(self):
        return {**super().get_config(), "image_shape": self.image_shape,
                "latent_dim": self.latent_dim, "units": self.units, "beta": self.beta,
                "binarize": self.binarize, "blocks": self.blocks, "seed": self.seed}

    def call(self, images, training=False):
        """Images in [0, 1] -> reconstruction logits (through the posterior mean)."""
        mean, _ = self.encoder(images, training=training)
        return self.decoder(mean, training=training)

    def compile(self, optimizer=None, **kwargs):
        super().compile(optimizer=optimizer or keras.optimizers.Adam(1e-3), **kwargs)

    # -- training --------------------------------------------------------------------
    def targets_in(self, data):
        x = (self.images_in(data, self.image_shape) + 1.0) / 2.0  # [0, 1]
        if self.binarize:
            u = self.draw(keras.random.uniform, ops.shape(x))
            x = ops.cast(u < x, "float32")
        return x

    def losses_of(self, x, training):
        mean, log_var = (ops.cast(t, "float32") for t in self.encoder(x, training=training))  # float32 under mixed precision
        eps = self.draw(keras.random.normal, ops.shape(mean))
        logits = ops.cast(self.decoder(mean + ops.exp(0.5 * log_var) * eps, training=training), "float32")
        reconstruction = ops.mean(bernoulli_nll(x, logits))
        kl = ops.mean(gaussian_kl(mean, log_var))
        return reconstruction + self.beta * kl, (reconstruction, kl)

    def train_step(self, data):
        x = self.targets_in(data)
        (loss, (reconstruction, kl)), grads = self.value_and_grad(
            lambda: self.losses_of(x, training=True), self.trainable_variables, has_aux=True)
        self.optimizer.apply(grads, self.trainable_variables)
        return self.update_trackers(loss=loss, reconstruction_loss=reconstruction, kl_loss=kl)

    def test_step(self, data):
        loss, (reconstruction, kl) = self.losses_of(self.targets_in(data), training=False)
        return self.update_trackers(loss=loss, reconstruction_loss=reconstruction, kl_loss=kl)

    # -- inference (numpy uint8 images in and out) -----------------------------------
    def _unit(self, images):
        return self.check_images(images).astype("float32") / 255.0

    def encode(self, images, batch_size=None):
        """uint8 images -> (mean, log_var) of q(z|x), numpy float32 (N, latent_dim) each."""
        out = batched(lambda xb: np.concatenate(
            [ops.convert_to_numpy(t) for t in self.encoder(xb, training=False)], axis=1),
            self._unit(images), batch_size, empty=np.zeros((0, 2 * self.latent_dim), "float32"))
        return out[:, :self.latent_dim], out[:, self.latent_dim:]

    def decode_batch(self, z):
        return ops.sigmoid(self.decoder(z, training=False)) * 2.0 - 1.0  # Bernoulli means

    def reconstruct(self, images, batch_size=None):
        """uint8 images -> uint8 reconstructions through the posterior mean."""
        return self.decode(self.encode(images, batch_size)[0], batch_size)

    def interpolate(self, image_a, image_b, steps=8):
        """uint8 images along the straight line between the two posterior means
        (endpoints included): (steps, H, W, C)."""
        mean, _ = self.encode(np.stack([self.check_images(image_a)[0], self.check_images(image_b)[0]]))
        t = np.linspace(0.0, 1.0, int(steps), dtype="float32")[:, None]
        return self.decode((1 - t) * mean[0] + t * mean[1])

    def _targets(self, images, binarize_seed):
        x = self._unit(images)
        if binarize_seed is not None:
            x = (np.random.default_rng(binarize_seed).random(x.shape) < x).astype("float32")
        return x

    def negative_elbo(self, images, seed=0, binarize_seed=None, batch_size=500):
        """-ELBO per example in nats (one z sample each; numpy noise: equal across
        backends). With `binarize_seed`, images are first binarized stochastically
        with that seed (as for dynamically binarized MNIST). Returns a dict of numpy
        arrays: negative_elbo, reconstruction, kl."""
        x = self._targets(images, binarize_seed)
        eps = np.random.default_rng(seed).standard_normal((len(x), self.latent_dim)).astype("float32")

        def one(idx):
            xb = ops.convert_to_tensor(x[idx])
            mean, log_var = self.encoder(xb, training=False)
            z = mean + ops.exp(0.5 * log_var) * ops.convert_to_tensor(eps[idx])
            logits = self.decoder(z, training=False)
            rec, kl = bernoulli_nll(xb, logits), gaussian_kl(mean, log_var)
            return np.stack([ops.convert_to_numpy(rec), ops.convert_to_numpy(kl)], axis=1)

        out = batched(one, np.arange(len(x)), batch_size)
        return {"negative_elbo": out.sum(axis=1), "reconstruction": out[:, 0], "kl": out[:, 1]}

    def importance_weighted_nll(self, images, k=100, seed=0, binarize_seed=None, batch_size=20, progress=False):
        """-log p(x) estimated per example in nats with k importance samples from q(z|x)
        (Burda et al. 2016): -log (1/k sum_i p(x|z_i) p(z_i) / q(z_i|x)). An upper bound on
        -log p(x) that tightens as k grows, and equals the one-sample -ELBO in expectation at
        k = 1. Numpy noise (equal across backends); `binarize_seed` as in `negative_elbo`."""
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"importance_weighted_nll: k is the number of samples, an integer >= 1; got {k!r}")
        from zoo.progress import Progress

        x = self._targets(images, binarize_seed)
        rng = np.random.default_rng(seed)
        out = np.zeros(len(x), "float64")
        shown = Progress(len(x), unit="image", label=f"{self.name}: IWAE k={k}") if progress else None
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size]
            mean, log_var = (ops.convert_to_numpy(t).astype("float64") for t in self.encoder(xb, training=False))
            z = mean[:, None] + np.exp(0.5 * log_var)[:, None] * rng.standard_normal((len(xb), k, self.latent_dim))
            logits = self.decoder(ops.convert_to_tensor(z.reshape(-1, self.latent_dim).astype("float32")),
                                  training=False)
            nll = ops.convert_to_numpy(bernoulli_nll(ops.convert_to_tensor(np.repeat(xb, k, axis=0)), logits))
            log_w = (-nll.reshape(len(xb), k) + gaussian_log_density(z, 0.0, 0.0)
                     - gaussian_log_density(z, mean[:, None], log_var[:, None]))
            top = log_w.max(axis=1)
            out[i:i + len(xb)] = -(top + np.log(np.exp(log_w - top[:, None]).mean(axis=1)))
            if shown:
                shown.add(len(xb))
        return out
