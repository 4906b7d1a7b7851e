"""Training that cannot silently corrupt a model: checks on what goes into `fit` and on what
comes out of every step. `ZooModel` applies them to every zoo model; nothing here is
specific to one model or one backend.

* Data, on the host, before a step sees it: floats with NaN/inf are refused with the
  sample (arrays) or batch (a `keras.utils.PyDataset`) that holds them, and images must be
  uint8 in [0, 255] or floats in [-1, 1] (`check_training_images`). A `tf.data.Dataset`
  or a generator is not read ahead; the step's own check below still stops on NaN.
* Every step, in the compiled step: one flag, whether every trainable weight the step was
  given and every loss in its logs is finite (`finite_flag`). `FiniteGuard` reads it after
  each batch, and checks all the state on the host at each epoch end before keeping it;
  a non-finite step stops `fit` with `TrainingDiverged`, and `ZooModel.fit` puts back the
  weights and optimizer state of the last epoch end (or of the start of this `fit`), the
  last ones known good.
"""

import keras
import numpy as np
from keras import ops

import zoo.core.backend as backend
from zoo.errors import DataError, TrainingDiverged

FINITE = "_zoo_finite"  # the step's flag in the logs; FiniteGuard takes it out before others see it


def finite_flag(tensors):
    """1.0 where every element of `tensors` is finite, else 0.0 (a tensor)."""
    return ops.cast(backend.all_finite(tensors), "float32")


class FiniteGuard(keras.callbacks.Callback):
    """Stops `fit` at the first step whose flag says non-finite, naming what went wrong;
    keeps (on the host) the state of the last epoch end to put back."""

    def __init__(self):
        super().__init__()
        self.snapshot, self.where, self.epoch = None, None, 0

    def take(self, where):
        model = self.model
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)  # as the first step would: its slots exist from here
        backend.sync_state(model)
        state = list(model.variables) + (list(model.optimizer.variables) if model.optimizer else [])
        snapshot = [(v, np.array(ops.convert_to_numpy(v))) for v in state]
        weights = {id(v) for v in model.variables}  # the model's own; optimizer settings are the user's
        bad = [v.path for v, value in snapshot
               if id(v) in weights and value.dtype.kind == "f" and not np.isfinite(value).all()]
        if bad:  # made so by the epoch's last step, which the next step's flag has not seen
            raise TrainingDiverged(f"training diverged by {where}: {_count('weight', bad)} non-finite"
                                   + (f"; put back the weights of {self.where}" if self.snapshot else ""))
        step = int(ops.convert_to_numpy(model.optimizer.iterations)) if model.optimizer else 0
        self.snapshot, self.where = snapshot, f"{where} (step {step})"

    def on_train_begin(self, logs=None):
        self.take("the start of this fit")

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        (logs or {}).pop(FINITE, None)  # the epoch's logs are its last step's, flag included
        self.take(f"the end of epoch {epoch + 1}")

    def on_train_batch_end(self, batch, logs=None):
        flag = (logs or {}).pop(FINITE, None)
        if flag is None or float(flag) == 1.0:
            return
        what = non_finite_logs(logs)
        backend.sync_state(self.model)
        names = [v.path for v in self.model.trainable_variables
                 if not np.all(np.isfinite(ops.convert_to_numpy(v)))]
        if names:
            what.append(f"{_count('weight', names)} non-finite (made so by an earlier step)")
        elif not what:
            what.append("the weights' sum overflowed float32 (weights near 1e38)")
        raise TrainingDiverged(f"training diverged at epoch {self.epoch + 1}, batch {batch}: {', '.join(what)}; "
                               f"put back the weights of {self.where}")

    def restore(self):
        for variable, value in self.snapshot or []:
            variable.assign(value)


def non_finite_logs(logs):
    """["loss is nan", ...]: the entries of a step's logs that are not finite."""
    return [f"{k} is {float(np.asarray(v))}" for k, v in logs.items()
            if not np.all(np.isfinite(np.asarray(v, dtype="float64")))]


def _count(noun, names):
    return f"{noun} {names[0]} is" if len(names) == 1 else f"{noun} {names[0]} (and {len(names) - 1} more) are"


# -- data ---------------------------------------------------------------------------------
def arrays(data):
    if isinstance(data, dict):
        return [a for v in data.values() for a in arrays(v)]
    if isinstance(data, (tuple, list)):
        return [a for v in data for a in arrays(v)]
    return [data] if isinstance(data, np.ndarray) else []


def check_finite(data, where):
    """Refuses float arrays in `data` (nested tuples/lists/dicts) holding NaN or inf."""
    for array in arrays(data):
        if array.dtype.kind in "fc" and not np.isfinite(array).all():
            bad = np.argwhere(~np.isfinite(array))[0]
            sample = f"sample {bad[0]}" if array.ndim > 1 else f"index {bad[0]}"
            raise DataError(f"{where} holds {array[tuple(bad)]} at {sample} (position {tuple(bad.tolist())}); "
                            "training data must be finite")


def check_training_images(images, where, whole=False):
    """Images for `fit`: uint8 in [0, 255], or floats in [-1, 1]. `whole`: `images` is the whole
    training set, where floats all in [0, 1] are refused too (a [0, 1] set given for [-1, 1])."""
    if images.dtype == np.uint8:
        return
    if images.dtype.kind != "f":
        raise DataError(f"{where}: images must be uint8 in [0, 255] or floats in [-1, 1]; got {images.dtype}")
    if images.size == 0:
        return
    low, high = float(images.min()), float(images.max())
    if low < -1.0 or high > 1.0:
        raise DataError(f"{where}: float images must be in [-1, 1] (or give uint8 in [0, 255]); got "
                        f"{images.dtype} in [{low:g}, {high:g}]")
    if whole and low >= 0.0 and high > 0.0 and len(images) > 1:
        raise DataError(f"{where}: float images are taken to be in [-1, 1], but these are all in "
                        f"[{low:g}, {high:g}], which looks like [0, 1]; give x * 2 - 1, or uint8 in [0, 255]")


def check_uint8_images(images, image_shape, who):
    """Images at zoo's public surface: uint8 (N, *image_shape) or one (*image_shape); returns
    them batched."""
    images = np.asarray(images)
    if images.ndim == len(image_shape):
        images = images[None]
    if tuple(images.shape[1:]) != tuple(image_shape):
        raise ValueError(f"{who} takes images of shape (N, {', '.join(map(str, image_shape))}); got {images.shape}")
    if images.dtype != np.uint8:
        form = "" if images.dtype.kind not in "fiu" or not images.size else \
            f" in [{float(images.min()):g}, {float(images.max()):g}]"
        raise ValueError(f"{who} takes uint8 images in [0, 255]; got {images.dtype}{form} (convert with "
                         "np.clip(np.rint(x * 255), 0, 255).astype('uint8') from [0, 1])")
    return images


class CheckedBatches(keras.utils.PyDataset):
    """A `keras.utils.PyDataset` whose batches go through `check(batch, where)` as they are drawn."""

    def __init__(self, dataset, check):
        super().__init__(workers=dataset.workers, use_multiprocessing=dataset.use_multiprocessing,
                         max_queue_size=dataset.max_queue_size)
        self.dataset, self.check = dataset, check

    def __len__(self):
        return len(self.dataset)

    @property
    def num_batches(self):
        return self.dataset.num_batches

    def __getitem__(self, index):
        batch = self.dataset[index]
        self.check(batch, f"batch {index}")
        return batch

    def on_epoch_begin(self):
        self.dataset.on_epoch_begin()

    def on_epoch_end(self):
        self.dataset.on_epoch_end()
