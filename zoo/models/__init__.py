"""zoo's model classes (importing this registers them with Keras serialization)."""

from zoo.models.gan import GAN

__all__ = ["GAN"]
