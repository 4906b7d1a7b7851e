"""zoo's model classes, one family a file. Each class registers itself where it is defined
(`@register_model`, zoo.tasks): importing this package imports every module in it, so a new
family is its own file here and nothing else. `MODELS` maps each registered name ("zoo>GAN")
to its class: a preset's config.json must name one of these (zoo.registry checks it)."""

import importlib
import pkgutil

from zoo.tasks import LEGACY_NAMES, MODELS

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

globals().update({cls.__name__: cls for cls in MODELS.values()})
__all__ = sorted(cls.__name__ for cls in MODELS.values()) + ["LEGACY_NAMES", "MODELS"]
