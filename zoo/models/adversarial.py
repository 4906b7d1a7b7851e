"""The adversarial base of zoo's GANs: a generator and a discriminator (or critic) trained
against each other with a pluggable loss.

A GAN model file builds its two networks and picks a loss; the step is written once here:

    1. G update: z -> fake = G(z), loss `loss.generator(D(fake))`;
    2. `n_critic` D updates: `loss.discriminator(...)` on the real batch against the fake
       images of step 1 (the first) or fresh ones (the others).

Losses (`NonSaturating`, `WassersteinGP`, `R1`) say what D's loss is, what G's loss is,
and which numbers the progress bar shows. Gradient penalties take the gradient of D with
respect to its input through `ZooModel.input_gradient` (zoo/core/backend.py).
"""

import keras
from keras import ops

from zoo.tasks import LatentImageModel


# -- losses ----------------------------------------------------------------------------
class NonSaturating:
    """Goodfellow et al.'s binary cross-entropy on logits, the generator maximizing log D(G(z));
    one-sided label smoothing aims D at 1 - s on real images."""

    trackers = ("d_loss", "g_loss", "d_real", "d_fake")

    def __init__(self, label_smoothing=0.0):
        self.label_smoothing = float(label_smoothing)

    def generator(self, fake_logits):
        return ops.mean(ops.softplus(-fake_logits))

    def discriminator(self, model, D, real, fake):
        real_logits, fake_logits = D(real), D(fake)
        s = self.label_smoothing
        real_loss = (1.0 - s) * ops.softplus(-real_logits) + s * ops.softplus(real_logits)
        loss = ops.mean(real_loss) + ops.mean(ops.softplus(fake_logits))
        return loss / 2, {"d_real": ops.mean(ops.sigmoid(real_logits)), "d_fake": ops.mean(ops.sigmoid(fake_logits))}


class WassersteinGP:
    """Gulrajani et al.: the critic's E[C(fake)] - E[C(real)] + lambda E[(||grad C(x_hat)|| - 1)^2]
    on random points x_hat between real and fake images; the generator's -E[C(G(z))]."""

    trackers = ("d_loss", "g_loss", "wasserstein", "gradient_penalty")

    def __init__(self, gp_weight=10.0):
        self.gp_weight = float(gp_weight)

    def generator(self, fake_logits):
        return -ops.mean(fake_logits)

    def gradient_penalty(self, model, D, real, fake):
        eps = model.draw(keras.random.uniform, (ops.shape(real)[0], 1, 1, 1))
        between = eps * real + (1.0 - eps) * fake
        grads = model.input_gradient(lambda x: ops.sum(D(x)), between)
        norms = ops.sqrt(ops.sum(grads ** 2, axis=(1, 2, 3)) + 1e-12)
        return ops.mean((norms - 1.0) ** 2)

    def discriminator(self, model, D, real, fake):
        distance = ops.mean(D(real)) - ops.mean(D(fake))
        gp = self.gradient_penalty(model, D, real, fake)
        return -distance + self.gp_weight * gp, {"wasserstein": distance, "gradient_penalty": gp}


class R1(NonSaturating):
    """The non-saturating loss plus Mescheder et al.'s R1 penalty on real images,
    gamma/2 E[||grad_x D(x)||^2] (StyleGAN2's regularizer), every step."""

    trackers = ("d_loss", "g_loss", "d_real", "d_fake", "r1_penalty")

    def __init__(self, gamma=10.0, label_smoothing=0.0):
        super().__init__(label_smoothing)
        self.gamma = float(gamma)

    def penalty(self, model, D, real):
        grads = model.input_gradient(lambda x: ops.sum(D(x)), real)
        return ops.mean(ops.sum(ops.reshape(grads ** 2, (ops.shape(real)[0], -1)), axis=1))

    def discriminator(self, model, D, real, fake):
        loss, logs = super().discriminator(model, D, real, fake)
        r1 = self.penalty(model, D, real)
        return loss + 0.5 * self.gamma * r1, {**logs, "r1_penalty": r1}


class LazyR1(R1):
    """R1 taken lazily, as StyleGAN2 does: `discriminator()` is the non-saturating loss alone,
    and every `interval`-th D step adds `regularizer()`, the penalty weighted by
    gamma/2 * interval (so its average weight per step is gamma/2)."""

    def __init__(self, gamma=10.0, interval=16):
        super().__init__(gamma)
        self.interval = int(interval)

    def discriminator(self, model, D, real, fake):
        return NonSaturating.discriminator(self, model, D, real, fake)

    def regularizer(self, model, D, real):
        r1 = self.penalty(model, D, real)
        return 0.5 * self.gamma * self.interval * r1, r1


# -- the model -----------------------------------------------------------------------
class AdversarialModel(LatentImageModel):
    """A generator and a discriminator trained against each other. Subclasses build the
    networks and call `setup(...)` with a loss; `condition(data)` gives what both networks
    see besides z or the image (a cGAN's labels)."""

    family = "gan"
    forward_passes_per_step = {"generator": 3, "discriminator": 8}  # benchmarks' FLOPs (G fwd+bwd; D 4x fwd+bwd)

    def setup(self, image_shape, latent_dim, seed, generator, discriminator, loss, n_critic=1):
        self.image_shape, self.latent_dim, self.seed = tuple(image_shape), latent_dim, seed
        self.generator, self.discriminator = generator, discriminator
        self.loss_fn, self.n_critic = loss, int(n_critic)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.add_trackers(*loss.trackers)
        self.build()

    def get_config(self):
        return {**super().get_config(), "image_shape": self.image_shape, "latent_dim": self.latent_dim,
                "seed": self.seed}

    def call(self, z, training=False):
        return self.generator(z, training=training)

    def default_optimizer(self):
        return keras.optimizers.Adam(2e-4, beta_1=0.5)

    def compile(self, g_optimizer=None, d_optimizer=None, **kwargs):
        self.compile_group({"g": (g_optimizer or self.default_optimizer(), self.generator),
                            "d": (d_optimizer or self.default_optimizer(), self.discriminator)}, **kwargs)

    # -- training --------------------------------------------------------------------
    def condition(self, data):
        """What G and D see besides z or the image (None here; labels in a cGAN)."""
        return None

    def train_step(self, data):
        real = self.images_in(data, self.image_shape)
        cond = self.condition(data)
        with_cond = (lambda t: t) if cond is None else (lambda t: [t, cond])  # noqa: E731
        # images and logits in float32 under mixed precision: a penalty mixes G's images with real ones
        G = lambda z_: ops.cast(self.generator(with_cond(z_), training=True), "float32")  # noqa: E731
        D = lambda x_: ops.cast(self.discriminator(with_cond(x_), training=True), "float32")  # noqa: E731
        g_vars, d_vars = self.generator.trainable_variables, self.discriminator.trainable_variables
        noise = lambda: self.draw(keras.random.normal, (ops.shape(real)[0], self.latent_dim))  # noqa: E731

        def g_loss_fn():
            fake = G(z)
            return self.loss_fn.generator(D(fake)), fake

        z = noise()
        (g_loss, fake), g_grads = self.value_and_grad(g_loss_fn, g_vars, has_aux=True)
        self.optimizer["g"].apply(g_grads, g_vars)
        for i in range(self.n_critic):
            fake = ops.stop_gradient(fake if i == 0 else G(noise()))
            (d_loss, logs), d_grads = self.value_and_grad(
                lambda: self.loss_fn.discriminator(self, D, real, fake), d_vars, has_aux=True)
            self.optimizer["d"].apply(d_grads, d_vars)
        return self.update_trackers(d_loss=d_loss, g_loss=g_loss, **logs)

    # -- generation ------------------------------------------------------------------
    def decode_batch(self, z):
        return self.generator(z, training=False)
