"""ZooModel: the base class of every zoo model.

A model subclasses `ZooModel`, writes `train_step(self, data)` (and, if it has one,
`test_step(self, data)`) once with `keras.ops`, and takes gradients with
`self.value_and_grad(loss_fn, variables)`. `ZooModel` adapts that step to the
trainer of each backend (see `zoo.core.backend`), so the same code runs under
`model.fit` on TensorFlow, JAX (jitted, stateless) and PyTorch.

Do not call `super().train_step(data)` from a ZooModel: write the step in full.
"""

import functools

import keras
import numpy as np
from keras import ops

import zoo.core.backend as backend
import zoo.core.distribute as distribute
import zoo.core.guard as guard
from zoo.core.optimizers import OptimizerGroup
from zoo.errors import TrainingDiverged
from zoo.io import atomic_write


def _with_finite_flag(step):
    """The step, also returning whether the weights it was given and its losses are finite.
    The weights are read as the step receives them (XLA need not wait for the update to
    check them), so a weight made non-finite by one step is caught by the next one, or by
    the guard's check at the end of the epoch."""

    @functools.wraps(step)
    def train_step(self, data):
        given = guard.finite_flag([v.value for v in self.trainable_variables])  # computed now: torch updates in place
        logs = step(self, backend.shard(data))  # a torch rank's rows of the global batch
        return backend.replica_mean({**logs, guard.FINITE: given * guard.finite_flag(list(logs.values()))})

    return train_step


class ZooModel(keras.Model):
    steps_before = 0  # optimizer steps the weights had before this object trained them (a preset's, from its card)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name, training in (("train_step", True), ("test_step", False)):
            step = cls.__dict__.get(name)
            if step is not None and not getattr(step, "_zoo_adapted", False):
                adapted = backend.stateless_step(_with_finite_flag(step) if training else step, training)
                adapted._zoo_adapted = True
                setattr(cls, name, adapted)

    def fit(self, x=None, y=None, *args, callbacks=None, **kwargs):
        """Keras' `fit`, guarded: the data is checked first (`check_batch`), and a step with a
        non-finite loss or weight stops it with `TrainingDiverged`, the weights of the last
        epoch end put back (zoo.core.guard)."""
        x = self._checked_data(x, y)
        self._check_replicas(x, kwargs.get("batch_size"))
        if self.optimizer is not None and not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)
        backend.broadcast_variables(self._state())  # torch ranks start from rank 0's state
        finite = guard.FiniteGuard()
        if isinstance(callbacks, keras.callbacks.CallbackList):
            callbacks.callbacks.insert(0, finite)
        else:
            callbacks = [finite, *(callbacks or [])]
        try:
            with backend.state_kept_on_error(self):
                return super().fit(x, y, *args, callbacks=callbacks, **kwargs)
        except BaseException as e:
            self.train_function = None  # a step that failed to trace is traced afresh next time
            if isinstance(e, TrainingDiverged):
                finite.restore()
            raise

    def train_on_batch(self, x=None, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """Keras' `train_on_batch`, guarded as `fit` is: the batch is checked first, and a step
        whose loss, or whose weights before or after it, are non-finite raises
        `TrainingDiverged` with the weights and optimizer state of before the batch put back.
        Returns what Keras returns (a dict with `return_dict`, else the values in the order of
        `metrics`), without zoo's finite flag."""
        self.check_batch(x if y is None else (x, y), "the batch")
        snapshot = guard.FiniteGuard()
        snapshot.set_model(self)
        snapshot.take("before this batch")  # builds the optimizer; refuses non-finite weights
        logs = super().train_on_batch(x, y, sample_weight=sample_weight, class_weight=class_weight,
                                      return_dict=True)
        flag = float(logs.pop(guard.FINITE, 1.0))
        backend.sync_state(self)
        bad = [v.path for v in self.trainable_variables if not np.all(np.isfinite(ops.convert_to_numpy(v)))]
        if flag != 1.0 or bad:
            snapshot.restore()
            what = guard.non_finite_logs(logs) + ([f"{len(bad)} weight(s) non-finite ({bad[0]})"] if bad else [])
            raise TrainingDiverged(f"training diverged on this batch: {', '.join(what) or 'a non-finite step'}; "
                                   "put back the weights and optimizer state of before it")
        if return_dict:
            return logs
        names = [m.name for m in self.metrics if m.name in logs]
        values = [logs[n] for n in names] + [logs[k] for k in sorted(logs) if k not in names]
        return values[0] if len(values) == 1 else values

    def steps_done(self, optimizer=None):
        """The optimizer steps these weights have had, as a float tensor: this training's
        (`optimizer.iterations`) and, for a model loaded from a preset, those its card records
        (`steps_before`). What depends on the step (an EMA's warm-up, a ramp) uses this, so that
        fine-tuning a preset after `compile()` (a new optimizer, at step 0) goes on where the
        preset left it instead of starting again."""
        optimizer = self.optimizer if optimizer is None else optimizer
        return ops.cast(optimizer.iterations, "float32") + float(self.steps_before)

    def save_weights(self, filepath, overwrite=True, max_shard_size=None):
        """Keras' `save_weights`, written whole or not at all: the `.weights.h5` file is made in
        memory by Keras' own writer, then written through a temporary file and a rename
        (`zoo.io.atomic_write`). A full disk or a read-only folder is a one-line
        `zoo.io.WriteError` with the old file intact and nothing half-written left (h5py writing
        straight to a full disk fails midway, or crashes). Sharded or remote saves, and
        `overwrite=False`, are Keras' own."""
        path = str(filepath)
        if max_shard_size is not None or not overwrite or "://" in path or not path.endswith(".weights.h5"):
            return super().save_weights(filepath, overwrite=overwrite, max_shard_size=max_shard_size)
        atomic_write(filepath, weights_bytes(self))

    def _state(self):
        return list(self.variables) + (list(self.optimizer.variables) if self.optimizer is not None else [])

    def _check_replicas(self, x, batch_size):
        """On N devices the global batch, and the last, partial batch of arrays, must divide into N."""
        n = distribute.count()
        if n == 1:
            return
        if isinstance(x, keras.utils.PyDataset):
            return  # a PyDataset's batches are checked as they come (backend.shard, Keras' own)
        distribute.check_batch_size(32 if batch_size is None else batch_size)
        arrays = guard.arrays(x)
        if arrays and len(arrays[0]) % n:
            raise distribute.DistributionError(
                f"the training set's {len(arrays[0])} examples leave a last batch that does not divide among the "
                f"{n} devices; give a multiple of {n} examples (the recipes drop the last {len(arrays[0]) % n})")

    # -- what fit accepts ------------------------------------------------------------------
    def _checked_data(self, x, y):
        if isinstance(x, keras.utils.PyDataset):
            return guard.CheckedBatches(x, self.check_batch)
        data = x if y is None else (x, y)
        if guard.arrays(data):
            self.check_batch(data, "the training data", whole=True)
        return x

    def check_batch(self, data, where, whole=False):
        """Host-side checks of a `fit` batch (or the whole training set, `whole`): numpy float
        arrays must be finite, and images (arrays of shape (N, *self.image_shape)) uint8 in
        [0, 255] or floats in [-1, 1]. A model with other inputs extends this."""
        guard.check_finite(data, where)
        shape = getattr(self, "image_shape", None)
        for array in guard.arrays(data):
            if shape is not None and tuple(array.shape[1:]) == tuple(shape):
                guard.check_training_images(array, where, whole=whole)

    def evaluate(self, *args, **kwargs):
        try:
            with backend.state_kept_on_error(self):
                return super().evaluate(*args, **kwargs)
        except BaseException:
            self.test_function = None
            raise

    # -- gradients --------------------------------------------------------------
    def value_and_grad(self, fn, variables, has_aux=False):
        """`fn()` -> loss (or `(loss, aux)`); returns `(fn's output, grads)`. On several devices
        the gradients are the global batch's: averaged over the replicas. With a
        `LossScaleOptimizer` (mixed_float16) for these variables, the loss is scaled before
        differentiation (the optimizer unscales the gradients); `fn`'s output is returned as is."""
        optimizer = self._optimizer_of(variables)
        if not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            return backend.value_and_grad(fn, variables, has_aux=has_aux)

        def scaled():
            out = fn()
            loss = out[0] if has_aux else out
            return optimizer.scale_loss(ops.cast(loss, "float32")), out

        (_, out), grads = backend.value_and_grad(scaled, variables, has_aux=True)
        return out, grads

    def draw(self, draw, shape, **kwargs):
        """Per-example random numbers in a train step, `draw(shape, seed=self.seed_generator)`
        for a `keras.random` function and a shape whose first axis is the batch: on N devices,
        each replica's rows of what one device would draw for the global batch."""
        return backend.draw_rows(draw, shape, seed=self.seed_generator, **kwargs)

    @staticmethod
    def input_gradient(fn, x):
        """Gradient of the scalar `fn(x)` with respect to the tensor `x`, itself
        differentiable (for gradient penalties)."""
        return backend.input_gradient(fn, x)

    # -- metrics shown in the progress bar ----------------------------------------
    def add_trackers(self, *names):
        self._trackers = [keras.metrics.Mean(name=name) for name in names]

    @property
    def metrics(self):
        return list(getattr(self, "_trackers", []))

    def update_trackers(self, **values):
        """Adds this step's values to the running means; returns the logs."""
        for tracker in self._trackers:
            if tracker.name in values:
                tracker.update_state(keras.ops.stop_gradient(values[tracker.name]))
        return {tracker.name: tracker.result() for tracker in self._trackers}

    # -- several optimizers --------------------------------------------------------
    def compile_group(self, parts, **kwargs):
        """Compiles with one optimizer per part: `parts = {"g": (optimizer, layer)}`.

        `model.optimizer[key]` is the optimizer of that part; the compile
        argument that sets it is named `f"{key}_optimizer"`.
        """
        self.compile_optimizer(OptimizerGroup(parts), **kwargs)

    def compile(self, optimizer="rmsprop", **kwargs):
        self.compile_optimizer(optimizer, **kwargs)

    def compile_optimizer(self, optimizer, **kwargs):
        """Keras' compile, with what several devices and float16 need: under the mixed_float16
        policy every optimizer (each member of a group: Keras would wrap the group itself) is a
        `LossScaleOptimizer`, which `value_and_grad` scales the loss for, and which skips a step
        whose gradients overflowed and lowers its scale."""
        float16 = keras.mixed_precision.global_policy().name == "mixed_float16"
        if isinstance(optimizer, OptimizerGroup):
            if float16:
                optimizer.wrap_members(keras.optimizers.LossScaleOptimizer)
            kwargs["auto_scale_loss"] = False
        super().compile(optimizer=optimizer, **kwargs)
        members = self.optimizer.optimizers if isinstance(self.optimizer, OptimizerGroup) else [self.optimizer]
        for member in members:
            backend.prepare_optimizer(member)
            if isinstance(member, keras.optimizers.LossScaleOptimizer):
                backend.prepare_optimizer(member.inner_optimizer)

    def _optimizer_of(self, variables):
        """The optimizer that updates `variables` (a group's member, found by its variables)."""
        optimizer = getattr(self, "optimizer", None)
        if isinstance(optimizer, OptimizerGroup):
            return optimizer.owner_of(variables)
        return optimizer

    def get_compile_config(self):
        if isinstance(getattr(self, "optimizer", None), OptimizerGroup):
            return {f"{key}_optimizer": keras.saving.serialize_keras_object(opt)
                    for key, opt in self.optimizer.members().items()}
        return super().get_compile_config()

    def compile_from_config(self, config):
        config = {key: keras.saving.deserialize_keras_object(value)
                  for key, value in config.items()}
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    # -- inputs ---------------------------------------------------------------------
    def images_in(self, data, image_shape):
        """The images of a `fit` batch as float32 in [-1, 1].

        Accepts `x` or `(x, ...)`; uint8 images are scaled from [0, 255], float
        images are taken to be in [-1, 1] already.
        """
        x = data[0] if isinstance(data, (tuple, list)) else data
        if tuple(x.shape[1:]) != tuple(image_shape):
            raise ValueError(
                f"{self.name} trains on images of shape (batch, "
                f"{', '.join(map(str, image_shape))}); got a batch of shape "
                f"{tuple(x.shape)}"
            )
        if "int" in keras.backend.standardize_dtype(x.dtype):
            return keras.ops.cast(x, "float32") / 127.5 - 1.0
        return keras.ops.cast(x, "float32")

    # -- building -----------------------------------------------------------------
    def build(self, input_shape=None):
        # zoo models create their sub-networks, built, in __init__.
        self.built = True


def weights_bytes(model):
    """The bytes of `model.save_weights(PATH.weights.h5)`, made in memory with Keras' writer."""
    import io

    import keras.src.saving.saving_lib as saving_lib

    if not model.built:
        raise ValueError(f"{type(model).__name__} is not built yet: call it on a batch, or build() it, first")
    buffer = io.BytesIO()
    store = saving_lib.H5IOStore(buffer, mode="w")
    try:
        saving_lib._save_state(model, weights_store=store, assets_store=None, inner_path="",
                               visited_saveables=set())
    finally:
        store.close()
    return buffer.getvalue()


def batched(fn, x, batch_size=None, empty=None):
    """`fn` over `x` in batches (numpy in, numpy out, concatenated)."""
    batch_size = batch_size or 256
    if len(x) == 0:
        return empty
    return np.concatenate([fn(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


def to_uint8(images):
    """Images in [-1, 1] (any backend tensor) -> numpy uint8 in [0, 255]."""
    images = keras.ops.convert_to_numpy(images).astype(np.float32)
    return np.clip(np.rint((images + 1.0) * 127.5), 0, 255).astype(np.uint8)
