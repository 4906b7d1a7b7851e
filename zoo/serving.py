"""Serving: what `model.export(path, format)` and `zoo export` write, on Keras 3's
`Model.export` (the export side of the task contract; zoo.export adds presets by name).

What is exported is what the model declares (`serving()` in zoo.tasks): for the GANs, VAEs and
StyleGAN, latent vectors (and labels) in, uint8 images out; for the diffusion models, the
denoiser (x_t, t[, labels]) -> eps of the EMA network, with what the sampler loop needs
written beside it (`serving_files()`, e.g. PATH.schedule.json: betas and alphas_cumprod), as
the sampler loop stays in the serving code. Text and feature models are refused.

Backends: ONNX goes through tf2onnx on TensorFlow and jax2onnx on JAX (the extra
`zoo[export]`); on PyTorch, Keras 3.15's exporter writes a graph that onnxruntime refuses for
a variable batch (a Transpose with perm (0, -1)), so it is refused here. SavedModel and LiteRT
need TensorFlow. The weights are the same on every backend, so `zoo export` defaults to
TensorFlow.
"""

import glob
import os
import pathlib
import shutil
import warnings

from zoo.errors import UnsupportedBackendError, ZooError
from zoo.io import WriteError, atomic_write, atomic_write_json, check_space, replace_folder, write_error

FORMATS = {"onnx": ".onnx", "tf_saved_model": "", "litert": ".tflite"}
BACKENDS = {"onnx": ("tensorflow", "jax"), "tf_saved_model": ("tensorflow", "jax"), "litert": ("tensorflow",)}


def _serving(model, name):
    spec = model.serving()
    if spec is None:
        raise ZooError(f"{name} is a {type(model).__name__}: zoo export covers image generators (GANs, VAEs, "
                       "StyleGAN: latents to images; diffusion: the denoiser)")
    return spec


def describe_model(model, name=None):
    """One line: what `model`'s export takes and gives."""
    return _serving(model, name or model.name)[2]


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


def check_request(fmt, out):
    import keras

    if fmt not in FORMATS:
        raise ZooError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    out = pathlib.Path(os.fspath(out))
    if FORMATS[fmt] and out.suffix != FORMATS[fmt]:
        raise ZooError(f"the output of a {fmt} export must end in {FORMATS[fmt]}; got {out}")
    if out.is_dir() and not (out / "saved_model.pb").is_file() and any(out.iterdir()):
        raise ZooError(f"cannot export to {out}: it is a folder that holds files other than a SavedModel's; nothing "
                       "was changed (export to a new folder)")
    if out.is_symlink() or (out.exists() and not out.is_dir() and not FORMATS[fmt]):
        raise ZooError(f"cannot export {fmt} to {out}: it is {'a link' if out.is_symlink() else 'a file'}; a "
                       f"{fmt} export is {'a folder' if not FORMATS[fmt] else 'a file'}")
    backend = keras.backend.backend()
    if backend not in BACKENDS[fmt]:
        raise UnsupportedBackendError(
            f"zoo export --format {fmt} runs on the {' or '.join(BACKENDS[fmt])} backend, not {backend}"
            + (" (Keras 3.15's torch ONNX exporter writes a graph onnxruntime refuses for a variable batch)"
               if backend == "torch" and fmt == "onnx" else "")
            + "; the weights are the same on every backend: add --backend tensorflow")


OUTPUT = "output"  # the ONNX graph's output name, whatever the exporter called it (tf2onnx, jax2onnx differ)


def _onnx_bytes(path):
    """The ONNX model at `path` (with any external data file beside it) as one serialized
    model, its single output renamed `OUTPUT`."""
    import onnx

    graph_model = onnx.load(str(path))  # reads external data, if the exporter wrote some
    output = graph_model.graph.output[0]  # the serving function has one output
    for node in graph_model.graph.node:
        node.output[:] = [OUTPUT if n == output.name else n for n in node.output]
        node.input[:] = [OUTPUT if n == output.name else n for n in node.input]
    output.name = OUTPUT
    return graph_model.SerializeToString()


def export_model(model, fmt, out, name=None):
    """Writes `model`'s serving function (`serving()`) to `out` in format `fmt`."""
    import keras
    import numpy as np

    check_request(fmt, out)
    out = pathlib.Path(os.fspath(out))
    backend = keras.backend.backend()
    inputs, function, _ = _serving(model, name or model.name)
    serving = wrapper(model, function, len(inputs))
    serving(*[np.zeros((1, *shape[1:]), dtype) for _, shape, dtype in inputs])  # builds it
    signature = [keras.InputSpec(shape=shape, dtype=dtype, name=input_name) for input_name, shape, dtype in inputs]
    # written beside `out`, then renamed over it: a full disk, a read-only folder or a kill leaves
    # the old export (or none), never half of one, and no partial file
    staging = out.with_name(f".{out.stem}.part-{os.getpid()}{out.suffix}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        check_space(out, sum(int(np.prod(v.shape)) * 4 for v in model.weights))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # Keras' tf2onnx patch asks numpy for np.object
            serving.export(str(staging), format=fmt, input_signature=signature, verbose=False)
        if fmt == "onnx":  # one self-contained file, its output named alike on every backend
            atomic_write(out, _onnx_bytes(staging))  # (jax2onnx's external data file, mode 0600, goes below)
        for suffix, content in model.serving_files().items():  # what the serving loop needs beside the graph
            atomic_write_json(f"{out}.{suffix}", content)
        if fmt != "onnx":
            replace_folder(staging, out) if staging.is_dir() else os.replace(staging, out)
    except ImportError as e:
        raise ZooError(f"exporting {fmt} on {backend} needs a package that is not installed ({e}); "
                       "pip install 'zoo[export]'") from None
    except WriteError:
        raise
    except OSError as e:
        raise write_error(out, e) from None
    except Exception:
        check_space(out, 1 << 20)  # an exporter's own error on a full disk (not an OSError) says so
        raise
    finally:  # the staged export and anything an exporter wrote beside it under its name
        for leftover in out.parent.glob(f"{glob.escape(staging.name)}*"):
            shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(missing_ok=True)
    return out
