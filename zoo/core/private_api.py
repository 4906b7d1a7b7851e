"""Every private API of Keras (and of the backends) that zoo touches, in one place, each with
where and why. A new Keras may rename any of them: `pyproject.toml` pins Keras below the next
minor version, and that bound is raised on purpose, after CI has run the tests on the new
version (tests/test_structure.py fails on a private name used in zoo but not listed here).

`KERAS_TESTED`: the Keras versions whose CI runs passed with zoo as it is.
"""

KERAS_TESTED = ("3.15.1",)

# name: the private attribute or module as the code spells it; where: the file; why: what it
# is for, and what would replace it.
PRIVATE = (
    {"name": "keras.src.backend.common.stateless_scope", "where": "zoo/core/backend.py",
     "why": "in_stateless_scope(): the EMA update runs in place on torch, but not inside a StatelessScope, "
            "where values live in the scope; Keras exports StatelessScope but not the query"},
    {"name": "_value", "where": "zoo/core/backend.py",
     "why": "state_kept_on_error: on JAX, fit detaches each variable's value while it runs; a step that "
            "fails on its first batch would leave the model without weights, so they are put back"},
    {"name": "_jax_state", "where": "zoo/core/backend.py",
     "why": "sync_state: whether Keras' JAX trainer holds newer values than the variables mid-epoch (then "
            "jax_state_sync() writes them back), for the guard's checks and checkpoints"},
    {"name": "_all_reduce_sum_gradients", "where": "zoo/core/backend.py",
     "why": "TensorFlow data-parallel: zoo's value_and_grad averages the replicas' gradients itself, so the "
            "optimizer's own sum is switched off (it would count them twice)"},
    {"name": "_clip_gradients", "where": "zoo/core/backend.py",
     "why": "torch: Keras' clipnorm costs about eight ops per gradient; the same clip runs as two fused "
            "torch._foreach calls (Keras' own is kept for the cases it does not cover)"},
    {"name": "apply", "where": "zoo/core/backend.py",
     "why": "JAX mixed precision: a LossScaleOptimizer's apply updates its scale inside ops.cond, which leaks "
            "traced values out of a StatelessScope; inside zoo's step, Keras' stateless_apply is used instead "
            "(a public method, replaced on the instance)"},
    {"name": "_output_dense", "where": "zoo/models/txt2img.py",
     "why": "TextToImage.start_from zeroes the cross-attention's output projection of Keras' "
            "MultiHeadAttention, so that a new text-to-image model starts as the unconditional one"},
    {"name": "_foreach_norm", "where": "zoo/core/backend.py",
     "why": "torch's (not Keras'): fused per-tensor norms for the clipnorm above"},
    {"name": "_foreach_mul", "where": "zoo/core/backend.py",
     "why": "torch's (not Keras'): the fused clip multiplication"},
    {"name": "_foreach_lerp_", "where": "zoo/core/backend.py",
     "why": "torch's (not Keras'): the EMA update of all averaged weights in one fused in-place call"},
    {"name": "keras.src.saving.saving_lib", "where": "zoo/core/model.py",
     "why": "weights_bytes(): Keras' own .weights.h5 writer (H5IOStore over an io.BytesIO, _save_state), so "
            "that save_weights writes the file whole through zoo.io.atomic_write; public save_weights takes a "
            "path only, and h5py writing to a full disk fails midway or crashes"},
    {"name": "_save_state", "where": "zoo/core/model.py",
     "why": "the same: saving_lib's walk over a model's saveables, into the in-memory store"},
    {"name": "_actions", "where": "zoo/cli.py",
     "why": "argparse's (the standard library's): `zoo sample NAME --help` lists the flags of NAME's options"},
)
