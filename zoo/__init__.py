"""zoo: a Keras 3 model zoo of generative models, on TensorFlow, JAX and PyTorch.

    import zoo
    zoo.list_models()                      # shipped presets
    model = zoo.load("gan_mnist")          # pretrained, offline, sha256-checked
    images = model.generate(16, seed=0)    # numpy uint8 (16, 28, 28, 1)

Importing zoo does not import Keras; the backend is chosen by KERAS_BACKEND (or
`zoo ... --backend`) as usual, before the first use.
"""

import sys

__version__ = "0.1.0"


class _BackendCheck:
    """Consulted once, when Keras is first imported (after `zoo ... --backend` has set
    KERAS_BACKEND): a backend that is not installed is one line naming those that are, not
    Keras' traceback (zoo.system.check_backend)."""

    def find_spec(self, name, path=None, target=None):
        if name == "keras":
            sys.meta_path.remove(self)
            from zoo.system import check_backend

            check_backend()
        return None


if "keras" not in sys.modules:
    sys.meta_path.insert(0, _BackendCheck())

_LAZY = {
    "list_models": "zoo.registry", "load": "zoo.registry", "save_preset": "zoo.publish",
    "info": "zoo.registry", "ZooModel": "zoo.core", "OptimizerGroup": "zoo.core",
}
__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in ("core", "data", "viz", "models", "registry", "harness", "cli", "errors", "tasks", "diffusion",
                "networks", "layers", "text", "evaluation", "metrics", "hub", "cards", "export", "demo", "progress",
                "runs", "io", "images", "system", "publish", "serving", "tools"):
        return importlib.import_module(f"zoo.{name}")
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")
