"""WGAN-GP: the Wasserstein GAN with gradient penalty of Gulrajani et al. (2017).

Preset `wgan_gp_anime`: 64x64 anime faces, the DCGAN generator against a critic.

* Critic: the DCGAN discriminator without BatchNorm (the penalty is per example, which
  batch statistics would break); it outputs an unbounded score, not a probability.
* Loss: `WassersteinGP` (zoo/models/adversarial.py): the critic's E[C(fake)] - E[C(real)]
  + lambda E[(||grad_x C(x_hat)||_2 - 1)^2] on straight lines between real and fake images
  (lambda = 10), the generator's -E[C(G(z))]. The gradient of a gradient comes from
  `self.input_gradient` (zoo/core/backend.py: a nested tape, create_graph, or nested jax.grad).
* `n_critic` critic updates (fresh fake images after the first, the same real batch) per
  generator update. Adam(1e-4, beta_1=0, beta_2=0.9) for both, as in the paper.
"""

import keras

from zoo.models.adversarial import AdversarialModel, WassersteinGP
from zoo.models.dcgan import build_discriminator, build_generator
from zoo.tasks import register_model


@register_model
class WGANGP(AdversarialModel):
    # n_critic critic updates per step, each differentiating the penalty's input gradient
    # (double backprop): benchmarks give its step time, not a FLOP count or a utilization
    forward_passes_per_step = None

    def __init__(self, image_shape=(64, 64, 3), latent_dim=100, width=64, n_critic=5,
                 gp_weight=10.0, seed=None, **kwargs):
        kwargs.setdefault("name", "wgan_gp")
        super().__init__(**kwargs)
        self.width = width
        self.setup(image_shape, latent_dim, seed,
                   build_generator(latent_dim, width, tuple(image_shape)),
                   build_discriminator(tuple(image_shape), width, batch_norm=False, name="critic"),
                   WassersteinGP(gp_weight), n_critic)

    def get_config(self):
        return {**super().get_config(), "width": self.width, "n_critic": self.n_critic,
                "gp_weight": self.loss_fn.gp_weight}

    def default_optimizer(self):
        return keras.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9)
