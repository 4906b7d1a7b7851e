"""WGAN-GP: the Wasserstein GAN with gradient penalty of Gulrajani et al. (2017).

Preset `wgan_gp_anime`: 64x64 anime faces, the DCGAN generator against a critic.

* Critic: the DCGAN discriminator without BatchNorm (the penalty is per example, which
  batch statistics would break); it outputs an unbounded score, not a probability.
* Critic loss: E[C(fake)] - E[C(real)] + lambda * E[(||grad_x C(x_hat)||_2 - 1)^2], with
  x_hat on straight lines between real and fake images (lambda = 10). The gradient of a
  gradient comes from `self.input_gradient` (zoo/core/backend.py: a nested tape,
  create_graph, or nested jax.grad).
* `n_critic` critic updates (fresh noise each, the same real batch) per generator update;
  generator loss -E[C(G(z))]. Adam(1e-4, beta_1=0, beta_2=0.9) for both, as in the paper.
"""

import keras
from keras import ops

from zoo.models.dcgan import build_discriminator, build_generator
from zoo.models.gan import AdversarialModel


@keras.saving.register_keras_serializable(package="zoo")
class WGANGP(AdversarialModel):
    trackers = ("d_loss", "g_loss", "wasserstein", "gradient_penalty")

    def __init__(self, image_shape=(64, 64, 3), latent_dim=100, width=64, n_critic=5,
                 gp_weight=10.0, seed=None, **kwargs):
        kwargs.setdefault("name", "wgan_gp")
        super().__init__(**kwargs)
        self.width, self.n_critic, self.gp_weight = width, int(n_critic), float(gp_weight)
        self.setup(image_shape, latent_dim, seed,
                   build_generator(latent_dim, width, tuple(image_shape)),
                   build_discriminator(tuple(image_shape), width, batch_norm=False, name="critic"))

    def get_config(self):
        config = {**super().get_config(), "width": self.width, "n_critic": self.n_critic,
                  "gp_weight": self.gp_weight}
        config.pop("label_smoothing")  # the critic's loss has no labels to smooth
        return config

    def compile(self, g_optimizer=None, d_optimizer=None, **kwargs):
        adam = lambda: keras.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9)  # noqa: E731
        super().compile(g_optimizer or adam(), d_optimizer or adam(), **kwargs)

    def gradient_penalty(self, real, fake):
        eps = keras.random.uniform((ops.shape(real)[0], 1, 1, 1), seed=self.seed_generator)
        between = eps * real + (1.0 - eps) * fake
        grads = self.input_gradient(lambda x: ops.sum(self.discriminator(x, training=True)), between)
        norms = ops.sqrt(ops.sum(grads ** 2, axis=(1, 2, 3)) + 1e-12)
        return ops.mean((norms - 1.0) ** 2)

    def train_step(self, data):
        real = self.images_in(data, self.image_shape)
        shape = (ops.shape(real)[0], self.latent_dim)
        G, C = self.generator, self.discriminator
        g_vars, c_vars = G.trainable_variables, C.trainable_variables

        for _ in range(self.n_critic):
            fake = ops.stop_gradient(G(keras.random.normal(shape, seed=self.seed_generator), training=True))

            def c_loss_fn():
                distance = ops.mean(C(real, training=True)) - ops.mean(C(fake, training=True))
                gp = self.gradient_penalty(real, fake)
                return -distance + self.gp_weight * gp, (distance, gp)

            (c_loss, (distance, gp)), c_grads = self.value_and_grad(c_loss_fn, c_vars, has_aux=True)
            self.optimizer["d"].apply(c_grads, c_vars)

        z = keras.random.normal(shape, seed=self.seed_generator)
        g_loss, g_grads = self.value_and_grad(lambda: -ops.mean(C(G(z, training=True), training=True)), g_vars)
        self.optimizer["g"].apply(g_grads, g_vars)
        return self.update_trackers(d_loss=c_loss, g_loss=g_loss, wasserstein=distance, gradient_penalty=gp)
