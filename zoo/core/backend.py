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
  and reads the updated values back out.
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
        grads = tape.gradient(
            _split(out, has_aux), list(variables),
            unconnected_gradients=tf.UnconnectedGradients.ZERO,
        )
        return out, grads

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
        return out, grads

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


# -- the fast paths of zoo.layers' Conv2D, Conv2DTranspose, BatchNormalization,
#    on torch -----------------------------------------------------------------------------
# Keras' torch backend (3.15) copies each NHWC input of a convolution to NCHW and again to
# channels_last, pads "same" inputs with an explicit copy, computes transposed
# convolutions in full and crops them, and builds BatchNorm/GroupNorm from single ops
# (square, mean, rsqrt...) each of which autograd records. On torch, zoo's layers call
# the functions below instead: the NHWC tensor viewed as channels_last NCHW (no copy),
# the padding given to the kernel, torch's fused batch and group norms. The weights, the
# layouts the user sees and the results are Keras' (tests/test_layers.py compares them);
# each returns None where it has no fast path, and the layer then calls Keras. TensorFlow
# and JAX keep Keras' code (XLA and the TF runtime fuse these ops themselves).

def same_padding(size, kernel, stride):
    """(before, after) padding of one spatial axis in Keras' "same" convolution."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def transpose_crops(kernel, stride, padding):
    """(left, right) crops of the full transposed convolution that give Keras' output
    (no output_padding, no dilation)."""
    if padding == "valid":
        return 0, min(0, kernel - max(kernel, stride))  # negative: extend
    pad = stride + kernel - 2
    left = min(pad // 2 + pad % 2, kernel - 1)
    return kernel - 1 - left, kernel - 1 - (pad - left)


if BACKEND == "torch":
    import torch.nn.functional as F

    def _nchw(x):  # an NHWC tensor as NCHW: a channels_last view of the same memory
        return x.movedim(-1, 1)

    def conv2d(x, kernel, strides, padding, groups=1, bias=None):
        """NHWC `x`, Keras kernel (kh, kw, in/groups, out), no dilation -> NHWC."""
        if padding == "same":
            pads = [same_padding(x.shape[1 + i], kernel.shape[i], strides[i]) for i in range(2)]
            if any(before != after for before, after in pads):
                return None
            padding = (pads[0][0], pads[1][0])
        else:
            padding = 0
        w = kernel.permute(3, 2, 0, 1).contiguous(memory_format=torch.channels_last)
        return F.conv2d(_nchw(x), w, bias, stride=tuple(strides), padding=padding, groups=groups).movedim(1, -1)

    def conv2d_transpose(x, kernel, strides, padding):
        """NHWC `x`, Keras kernel (kh, kw, out, in), no dilation or output_padding -> NHWC."""
        crops = [transpose_crops(kernel.shape[i], strides[i], padding) for i in range(2)]
        if any(right < 0 or not 0 <= left - right < stride
               for (left, right), stride in zip(crops, strides)):
            return None  # an asymmetric crop torch cannot express
        w = kernel.permute(3, 2, 0, 1)
        y = F.conv_transpose2d(_nchw(x), w, stride=tuple(strides), padding=tuple(c[0] for c in crops),
                               output_padding=tuple(c[0] - c[1] for c in crops))
        return y.movedim(1, -1)

    def batch_norm(x, gamma, beta, mean, variance, epsilon, training):
        """Channels-last BatchNorm. Training: `(y, batch mean, biased batch variance)`,
        the statistics detached; inference: `(y, None, None)` from `mean`, `variance`."""
        if not training:
            return F.batch_norm(_nchw(x), mean, variance, gamma, beta, False, 0.0, epsilon).movedim(1, -1), None, None
        y, batch_mean, invstd = torch.native_batch_norm(_nchw(x), gamma, beta, None, None, True, 0.0, epsilon)
        return y.movedim(1, -1), batch_mean.detach(), invstd.detach().pow(-2) - epsilon

    class _GroupNorm(torch.autograd.Function):
        """torch's fused group norm on a channels_last NCHW view. Called through its own
        autograd node, not `F.group_norm`, for two things torch's own node gets wrong on
        channels_last: its backward segfaults (torch 2.13, CPU) when the input needs no
        gradient (GroupNorm as a model's first layer), and its kernel reads the incoming
        gradient as laid out like the input, which autograd does not promise."""

        @staticmethod
        def forward(ctx, x, gamma, beta, groups, epsilon):
            n, c, h, w = x.shape
            ctx.sizes = (n, c, h * w, groups)
            y, mean, rstd = torch.native_group_norm(x, gamma, beta, *ctx.sizes, epsilon)
            ctx.save_for_backward(x, gamma, mean, rstd)
            return y

        @staticmethod
        def backward(ctx, grad):
            x, gamma, mean, rstd = ctx.saved_tensors
            grad = grad.contiguous(memory_format=torch.channels_last)  # as x is
            # All three gradients, always: torch 2.13's channels_last kernel crashes
            # (segfault) when the input's gradient is not asked for.
            grads = torch.ops.aten.native_group_norm_backward(grad, x, mean, rstd, gamma, *ctx.sizes, [True] * 3)
            return *(g if needed else None for g, needed in zip(grads, ctx.needs_input_grad)), None, None

    def group_norm(x, gamma, beta, groups, epsilon):
        """Channels-last GroupNorm of a 4-d NHWC `x` (torch's fused kernel)."""
        if x.dim() != 4 or not x.is_contiguous():
            return None
        return _GroupNorm.apply(_nchw(x), gamma, beta, groups, epsilon).movedim(1, -1)

else:
    def conv2d(x, kernel, strides, padding, groups=1, bias=None):
        return None

    def conv2d_transpose(x, kernel, strides, padding):
        return None

    def batch_norm(x, gamma, beta, mean, variance, epsilon, training):
        return None

    def group_norm(x, gamma, beta, groups, epsilon):
        return None
