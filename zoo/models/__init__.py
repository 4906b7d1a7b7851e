"""zoo's model classes (importing this registers them with Keras serialization).

`MODELS` maps each class's registered name to the class: a preset's config.json must
name one of these (zoo.registry checks it)."""

from zoo.models.cgan import CGAN
from zoo.models.clip import CLIP
from zoo.models.dcgan import DCGAN
from zoo.models.diffusion import DiffusionModel
from zoo.models.features import FeatureNet
from zoo.models.gan import GAN
from zoo.models.gpt import GPT
from zoo.models.stylegan import StyleGAN
from zoo.models.txt2img import TextToImage
from zoo.models.vae import VAE
from zoo.models.wgan import WGANGP

MODELS = {f"zoo>{cls.__name__}": cls for cls in (CGAN, CLIP, DCGAN, DiffusionModel, FeatureNet, GAN, GPT, StyleGAN, TextToImage,
                                                  VAE, WGANGP)}
# Names that configs written by earlier versions of zoo use.
LEGACY_NAMES = {"zoo>DDPM": "zoo>DiffusionModel"}

__all__ = ["CGAN", "CLIP", "DCGAN", "DiffusionModel", "FeatureNet", "GAN", "GPT", "StyleGAN", "TextToImage", "VAE", "WGANGP",
           "MODELS"]
