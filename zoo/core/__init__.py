"""The training core: one `train_step` per model, run by `model.fit` on every backend."""

from zoo.core.backend import BACKEND, SUPPORTED_BACKENDS
from zoo.core.model import ZooModel, batched, to_uint8
from zoo.core.optimizers import OptimizerGroup

__all__ = ["BACKEND", "SUPPORTED_BACKENDS", "ZooModel", "batched", "OptimizerGroup", "to_uint8"]
