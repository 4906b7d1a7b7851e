"""zoo's model classes (importing this registers them with Keras serialization)."""

from zoo.models.cgan import CGAN
from zoo.models.dcgan import DCGAN
from zoo.models.diffusion import DDPM
from zoo.models.features import FeatureNet
from zoo.models.gan import GAN
from zoo.models.gpt import GPT
from zoo.models.vae import VAE
from zoo.models.wgan import WGANGP

__all__ = ["CGAN", "DCGAN", "DDPM", "FeatureNet", "GAN", "GPT", "VAE", "WGANGP"]
