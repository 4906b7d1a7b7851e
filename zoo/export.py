"""Export for serving: `zoo export NAME --format onnx|tf_saved_model|litert --out PATH`, on
Keras 3's `Model.export`.

What is exported is what the model declares (`serving()` in zoo.tasks): for the GANs, VAEs and
StyleGAN, latent vectors (and labels) in, uint8 images out; for the diffusion models, the
denoiser (x_t, t[, labels]) -> eps of the EMA network, with the noise schedule written beside
it (PATH.schedule.json: betas and alphas_cumprod) for the sampler loop, which stays in the
serving code (DDIM: x̂0 = (x_t - sqrt(1 - ā_t) eps) / sqrt(ā_t), clipped to [-1, 1];
x_prev = sqrt(ā_prev) x̂0 + sqrt(1 - ā_prev) eps). Text and feature models are refused.

Backends: ONNX goes through tf2onnx on TensorFlow and jax2onnx on JAX (the extra
`zoo[export]`); on PyTorch, Keras 3.15's exporter writes a graph that onnxruntime refuses for
a variable batch (a Transpose with perm (0, -1)), so it is refused here. SavedModel and LiteRT
need TensorFlow. The weights are the same on every backend, so `zoo export` defaults to
TensorFlow.
"""

import json
import os
import pathlib
import warnings

from zoo.errors import UnsupportedBackendError, ZooError

FORMATS = {"onnx": ".onnx", "tf_saved_model": "", "litert": ".tflite"}
BACKENDS = {"onnx": ("tensorflow", "jax"), "tf_saved_model": ("tensorflow", "jax"), "litert": ("tensorflow",)}


def _serving(model, name):
    spec = model.serving() if hasattr(model, "serving") else None
    if spec is None:
        raise ZooError(f"{name} is a {type(model).__name__}: zoo export covers image generators (GANs, VAEs, "
                       "StyleGAN: latents to images; diffusion: the denoiser)")
    return spec


def describe(name):
    from zoo import registry

    return _serving(registry.load(name), name)[2]


def wrapper(model, function, count):
    """A Keras model whose call is `function` of `count` tensors, tracking `model`'s weights."""
    import keras

    class Serving(keras.Model):
        def __init__(self):
            super().__init__(name=f"{model.name}_serving")
            self.source = model

        if count == 1:
            def call(self, a):
                return function(a)
        elif count == 2:
            def call(self, a, b):
                return function(a, b)
        else:
            def call(self, a, b, c):
                return function(a, b, c)

    return Serving()


def export(name, fmt, out):
    """Writes preset `name`'s serving function to `out` in format `fmt`; returns the path."""
    from zoo import registry

    _check_request(fmt, out)
    return export_model(registry.load(name), fmt, out, name)


def _check_request(fmt, out):
    import keras

    if fmt not in FORMATS:
        raise ZooError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    out = pathlib.Path(os.fspath(out))
    if FORMATS[fmt] and out.suffix != FORMATS[fmt]:
        raise ZooError(f"the output of a {fmt} export must end in {FORMATS[fmt]}; got {out}")
    backend = keras.backend.backend()
    if backend not in BACKENDS[fmt]:
        raise UnsupportedBackendError(
            f"zoo export --format {fmt} runs on the {' or '.join(BACKENDS[fmt])} backend, not {backend}"
            + (" (Keras 3.15's torch ONNX exporter writes a graph onnxruntime refuses for a variable batch)"
               if backend == "torch" and fmt == "onnx" else "")
            + "; the weights are the same on every backend: add --backend tensorflow")


def export_model(model, fmt, out, name=None):
    """Writes `model`'s serving function (`serving()`) to `out` in format `fmt`."""
    import keras
    import numpy as np

    _check_request(fmt, out)
    out = pathlib.Path(os.fspath(out))
    backend = keras.backend.backend()
    inputs, function, _ = _serving(model, name or model.name)
    serving = wrapper(model, function, len(inputs))
    serving(*[np.zeros((1, *shape[1:]), dtype) for _, shape, dtype in inputs])  # builds it
    signature = [keras.InputSpec(shape=shape, dtype=dtype, name=input_name) for input_name, shape, dtype in inputs]
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # Keras' tf2onnx patch asks numpy for np.object
            serving.export(str(out), format=fmt, input_signature=signature, verbose=False)
    except ImportError as e:
        raise ZooError(f"exporting {fmt} on {backend} needs a package that is not installed ({e}); "
                       "pip install 'zoo[export]'") from None
    schedule = getattr(model, "schedule", None)
    if schedule is not None:
        (pathlib.Path(f"{out}.schedule.json")).write_text(json.dumps({
            "kind": schedule.kind, "timesteps": schedule.timesteps, "prediction": "eps",
            "betas": [float(b) for b in schedule.betas],
            "alphas_cumprod": [float(a) for a in schedule.alphas_cumprod]}) + "\n")
    return out
