"""The only backend-specific code in zoo.

Model files write one `train_step(self, data)` in `keras.ops` and call
`value_and_grad` / `input_gradient` from here. Three things differ between backends:

* gradients of a loss: `tf.GradientTape`, torch autograd, `jax.value_and_grad`
  over a stateless call;
* gradients of a gradient (WGAN-GP): a nested tape, `create_graph=True`, nested
  `jax.grad`;
* the step itself on JAX: Keras' JAX trainer calls `train_step(state, data)` and
  jit-compiles it as a pure function. `stateless_step` runs the model's stateful
  step inside a `keras.StatelessScope` that maps every variable of the trainer's
  state (model, all optimizers, metrics, seed generators) to its traced value,
  and reads the updated values back out;
* data parallelism (zoo.core.distribute sets it up): on JAX one SPMD program sees the
  global batch and needs nothing here; under a TensorFlow `tf.distribute` strategy and
  under `torch.distributed` every replica runs the step on its rows of the batch, so
  `value_and_grad` averages the gradients over the replicas (`replica()`, `draw_rows`,
  `shard`, `replica_mean`).
"""

import contextlib
import functools

import keras
from keras.src.backend.common.stateless_scope import in_stateless_scope

from zoo.errors import UnsupportedBackendError

BACKEND = keras.backend.backend()
SUPPORTED_BACKENDS = ("tensorflow", "jax", "torch")
if BACKEND not in SUPPORTED_BACKENDS:
    raise UnsupportedBackendError(
        f"zoo trains on the {', '.join(SUPPORTED_BACKENDS)} backends; "
        f"KERAS_BACKEND is {BACKEND!r}"
    )

# The StatelessScopes that `stateless_step` opened (JAX only), innermost last.
_scopes = []


def _split(out, has_aux):
    return out[0] if has_aux else out


if BACKEND == "tensorflow":
    import tensorflow as tf

    def value_and_grad(fn, variables, has_aux=False):
        with tf.GradientTape() as tape:
            out = fn()
        variables = list(variables)
        grads = tape.gradient(_split(out, has_aux), variables)
        # zeros for variables the loss does not reach (TF's own UnconnectedGradients.ZERO
        # fails on Keras variables, whose dtype is a string, inside a tf.function)
        grads = [tf.zeros_like(v.value) if g is None else g for g, v in zip(grads, variables)]
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            # the global batch's mean gradient on every replica, before the optimizer's clipping
            # sees it (the optimizers' own summing is switched off: `prepare_optimizer`)
            grads = context.all_reduce(tf.distribute.ReduceOp.MEAN, grads)
        return out, grads

    def _replica():
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return 0, 1
        return context.replica_id_in_sync_group, context.num_replicas_in_sync

    def prepare_optimizer(optimizer):
        """Keras' TF optimizer sums the gradients of the replicas in `apply`, after clipping;
        zoo's `value_and_grad` has averaged them already, so the optimizer's sum is turned off."""
        if tf.distribute.has_strategy() and tf.distribute.get_strategy().num_replicas_in_sync > 1:
            optimizer._all_reduce_sum_gradients = lambda grads_and_vars: grads_and_vars

    def input_gradient(fn, x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
        return tape.gradient(y, x)

elif BACKEND == "torch":
    import torch

    def value_and_grad(fn, variables, has_aux=False):
        values = [v.value for v in variables]
        out = fn()
        grads = torch.autograd.grad(_split(out, has_aux), values, allow_unused=True)
        grads = [torch.zeros_like(v) if g is None else g for g, v in zip(grads, values)]
        if _distributed():
            grads = _all_reduce_mean(grads)
        return out, grads

    def _distributed():
        return torch.distributed.is_available() and torch.distributed.is_initialized() \
            and torch.distributed.get_world_size() > 1

    def _all_reduce_mean(tensors):
        """The mean over the ranks of each tensor, in one all-reduce of one flat buffer."""
        flat = torch.cat([t.detach().reshape(-1).to(torch.float32) for t in tensors])
        torch.distributed.all_reduce(flat)
        flat /= torch.distributed.get_world_size()
        out, start = [], 0
        for t in tensors:
            out.append(flat[start:start + t.numel()].view(t.shape).to(t.dtype))
            start += t.numel()
        return out

    def _replica():
        if not _distributed():
            return 0, 1
        return torch.distributed.get_rank(), torch.distributed.get_world_size()

    def prepare_optimizer(optimizer):
        """Keras' `clipnorm` clips each gradient with about eight ops of its own (138 gradients
        in the UNet: about 30 ms a step on torch); with `clipnorm` set, the same per-gradient
        clip (g * c / max(||g||, c)) runs as two fused `_foreach` calls."""
        if getattr(optimizer, "clipnorm", None) and not getattr(optimizer, "global_clipnorm", None):
            keras_clip = optimizer._clip_gradients

            def clip_gradients(grads):
                if any(g is None or g.dtype != torch.float32 for g in grads) or torch.is_grad_enabled() and any(
                        g.requires_grad for g in grads):
                    return keras_clip(grads)
                c = float(optimizer.clipnorm)
                norms = torch.stack(torch._foreach_norm(grads))
                return torch._foreach_mul(grads, list((c / torch.clamp(norms, min=c)).unbind()))

            optimizer._clip_gradients = clip_gradients

    def input_gradient(fn, x):
        x = x.detach().requires_grad_(True) if not x.requires_grad else x
        y = fn(x)
        (g,) = torch.autograd.grad(y, x, create_graph=torch.is_grad_enabled())
        return g

else:  # jax
    import jax

    def _outer_scope(what):
        if not _scopes:
            raise RuntimeError(
                f"On JAX, {what} runs inside a train_step called by model.fit "
                "(zoo wraps it in a StatelessScope); it was called outside one."
            )
        return _scopes[-1]

    def value_and_grad(fn, variables, has_aux=False):
        outer = _outer_scope("value_and_grad")
        variables = list(variables)
        diff_ids = {id(v) for v in variables}

        def pure(values):
            # Every variable reads its current (traced) value from the outer scope,
            # except the differentiated ones, which read `values`.
            with keras.StatelessScope(list(zip(variables, values))) as inner:
                for key, value in outer.state_mapping.items():
                    inner.state_mapping.setdefault(key, value)
                out = fn()
            # Updates made by fn (BatchNorm statistics, seed generators) leave the
            # gradient trace as auxiliary outputs.
            updates = {
                key: value for key, value in inner.state_mapping.items()
                if key not in diff_ids and value is not outer.state_mapping.get(key)
            }
            return _split(out, has_aux), (out, updates)

        values = [outer.state_mapping[id(v)] for v in variables]
        (_, (out, updates)), grads = jax.value_and_grad(pure, has_aux=True)(values)
        outer.state_mapping.update(updates)
        return out, grads

    def input_gradient(fn, x):
        return jax.grad(lambda x_: fn(x_))(x)

    def _replica():
        return 0, 1  # keras.distribution: one program over the global batch

    def prepare_optimizer(optimizer):
        """A `LossScaleOptimizer`'s stateful `apply` updates its scale inside `ops.cond`
        branches, which leak traced values out of a StatelessScope on JAX; inside zoo's step
        it runs Keras' own `stateless_apply` instead and writes the new values into the scope."""
        if not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            return
        stateful_apply = optimizer.apply

        def apply(grads, trainable_variables=None):
            if not _scopes or trainable_variables is None:
                return stateful_apply(grads, trainable_variables)
            scope, variables, state = _scopes[-1], list(trainable_variables), list(optimizer.variables)
            new_values, new_state = optimizer.stateless_apply(
                [scope.get_current_value(v) for v in state], grads, [scope.get_current_value(v) for v in variables])
            for v, value in zip(variables + state, list(new_values) + list(new_state)):
                v.assign(value)

        optimizer.apply = apply

    def _state_variables(model, training):
        groups = [model.trainable_variables, model.non_trainable_variables]
        if training:
            groups.append(model.optimizer.variables)
        groups.append(model.metrics_variables)
        return groups


@contextlib.contextmanager
def state_kept_on_error(model):
    """On JAX, Keras' `fit`/`evaluate` detach the variables' values while they run and put
    them back at the end of an epoch; an error in the first step (a batch of the wrong
    shape, say) would leave the model without weights. This puts them back."""
    if BACKEND != "jax":
        yield
        return
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not optimizer.built:
        optimizer.build(model.trainable_variables)  # as fit would: its slots exist from here
    variables = list(model.variables) + list(model.metrics_variables)
    variables += list(optimizer.variables) if optimizer is not None else []
    saved = [(v, v._value) for v in variables]
    try:
        yield
    except BaseException:
        for v, value in saved:
            if v._value is None and value is not None:
                v._value = value
        raise


def all_finite(tensors):
    """A scalar bool tensor: whether every element of `tensors` is finite, from one sum per
    tensor (NaN and inf survive a sum; finite values would have to reach ~1e38 to overflow
    it). On torch, raw sums under `no_grad` (Keras' ops cost 3-4x more there); on TF and JAX
    the sums join the compiled step."""
    if BACKEND == "torch":
        with torch.no_grad():
            sums = [torch.as_tensor(t, dtype=torch.float32).sum() for t in tensors]
            return torch.isfinite(torch.stack(sums).sum())
    sums = [keras.ops.sum(keras.ops.cast(keras.ops.stop_gradient(t), "float32")) for t in tensors]
    return keras.ops.isfinite(keras.ops.sum(keras.ops.stack(sums)))


def sync_state(model):
    """On JAX, Keras' `fit` keeps the newest values in its own state until an epoch ends; this
    writes them into the variables (on TensorFlow and PyTorch they are there already)."""
    if BACKEND == "jax" and getattr(model, "_jax_state", None) is not None:
        model.jax_state_sync()


def stateless_step(step, training):
    """Adapts a stateful `step(self, data) -> logs` to the trainer of the backend.

    TensorFlow and PyTorch call `step(self, data)` as it is. On JAX the trainer
    calls `step(self, state, data)` and expects `(logs, new_state)`.
    """
    if BACKEND != "jax":
        return step

    @functools.wraps(step)
    def jax_step(self, state, data):
        groups = _state_variables(self, training)
        mapping = [(v, value) for vs, values in zip(groups, state)
                   for v, value in zip(vs, values)]
        with keras.StatelessScope(mapping) as scope:
            _scopes.append(scope)
            try:
                logs = step(self, data)
            finally:
                _scopes.pop()
        new_state = tuple([scope.get_current_value(v) for v in vs] for vs in groups)
        return logs, new_state

    return jax_step


# -- data parallelism ------------------------------------------------------------------------
def replica():
    """(index, count) of the replica running this step: (0, 1) on one device and on JAX."""
    return _replica()


def draw_rows(draw, shape, **kwargs):
    """`draw(shape, **kwargs)` (a `keras.random` function with `seed=`) for per-example
    random numbers: rows = `shape[0]` of the batch. Each of N replicas draws the rows of the
    whole global batch from the same seed state and keeps its own, so every replica's noise
    differs, seed generators stay equal across replicas, and N devices draw what one device
    draws for the same global batch."""
    index, count = replica()
    if count == 1:
        return draw(shape, **kwargs)
    rows = shape[0]
    whole = draw((rows * count, *shape[1:]), **kwargs)
    return keras.ops.slice(whole, (index * rows,) + (0,) * (len(shape) - 1), (rows, *shape[1:]))


def shard(data):
    """This torch rank's rows of a global batch (nested tuples/lists/dicts of arrays): rank r of
    N takes the r-th of N near-equal slices. TensorFlow's strategy and JAX split the batch
    themselves; elsewhere the data is returned as it is."""
    if BACKEND != "torch" or not _distributed():
        return data
    index, count = _replica()

    def rows(x):
        if x is None or not hasattr(x, "shape") or len(x.shape) == 0:
            return x
        n = x.shape[0]
        return x[index * n // count:(index + 1) * n // count]

    return keras.tree.map_structure(rows, data)


def replica_mean(logs):
    """The step's logs averaged over the torch ranks (each computed its running means on its own
    rows), so every rank reports the global numbers. Elsewhere, as given (TF's trainer averages
    replicas' logs itself; JAX sees the global batch)."""
    if BACKEND != "torch" or not _distributed():
        return logs
    keys = list(logs)
    values = _all_reduce_mean([torch.as_tensor(keras.ops.convert_to_tensor(logs[k]), dtype=torch.float32).reshape(())
                               for k in keys])
    return dict(zip(keys, values))


def broadcast_variables(variables):
    """Rank 0's values of `variables`, on every torch rank (as DDP does at its start)."""
    if BACKEND != "torch" or not _distributed():
        return
    with torch.no_grad():
        for v in variables:
            torch.distributed.broadcast(v.value.data, src=0)


def stateless_normal(shape, seed, step):
    """Standard-normal noise of `shape` keyed by the integers (seed, step), which may be
    tensors inside a compiled loop: the same pair gives the same numbers (on one backend)."""
    if BACKEND == "jax":
        key = jax.random.fold_in(jax.random.PRNGKey(seed), step)
        return jax.random.normal(key, shape, dtype="float32")
    if BACKEND == "tensorflow":
        pair = tf.stack([tf.cast(seed, "int32"), tf.cast(step, "int32")])
        return tf.random.stateless_normal(shape, seed=pair, dtype="float32")
    generator = torch.Generator()
    generator.manual_seed((int(seed) * 1_000_003 + int(step)) & 0xFFFF_FFFF_FFFF)
    noise = torch.randn(tuple(shape), generator=generator, dtype=torch.float32)
    return keras.ops.convert_to_tensor(noise)


def moving_average(averages, variables, decay):
    """`average <- decay * average + (1 - decay) * variable` for each pair (EMA weights).
    On torch one fused in-place `_foreach_lerp_` over all of them; on TF and JAX, and inside
    a StatelessScope (where values live in the scope, not in place), an `assign` per
    variable (TF's graph and XLA fuse these themselves)."""
    if BACKEND == "torch" and not in_stateless_scope():
        with torch.no_grad():
            torch._foreach_lerp_([a.value for a in averages], [v.value for v in variables],
                                 keras.ops.convert_to_tensor(1.0 - decay, "float32"))
        return
    for average, variable in zip(averages, variables):
        average.assign(decay * average + (1.0 - decay) * variable)


def call_layer(layer, *args, **kwargs):
    """`layer(*args, **kwargs)` for a built float32 layer at inference. On torch the loop
    around it runs eagerly, and Keras' `Layer.__call__` bookkeeping (argument binding, input
    conversion, scopes: about 0.1 ms a call) costs more than a small layer's arithmetic in a
    token-by-token loop, so the layer's `call` runs directly. On TensorFlow and JAX the loop
    is traced once and `__call__` stays."""
    if BACKEND == "torch" and layer.built and layer.compute_dtype == "float32":
        return layer.call(*args, **kwargs)
    return layer(*args, **kwargs)


def compile_inference(fn, variables):
    """`fn(*arrays)`, which reads `variables`, compiled for repeated inference calls:
    `jax.jit` over a stateless call (the variables' current values go in as arguments,
    so a later `fit` is seen), `tf.function`, or torch under `no_grad`. Loops written
    with `keras.ops.fori_loop` inside `fn` become one compiled loop on JAX and TF."""
    variables = list(variables)
    if BACKEND == "jax":
        def pure(values, *args):
            with keras.StatelessScope(list(zip(variables, values))):
                return fn(*args)

        jitted = jax.jit(pure)
        return lambda *args: jitted([v.value for v in variables], *args)
    if BACKEND == "tensorflow":
        return tf.function(fn)  # traced once per input shape

    def run(*args):
        with torch.no_grad():
            return fn(*[keras.ops.convert_to_tensor(a) for a in args])

    return run
