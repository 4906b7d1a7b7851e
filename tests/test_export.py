"""zoo export: the exported sampling function gives the model's images (ONNX through
onnxruntime within one grey level; SavedModel and LiteRT on TensorFlow), the diffusion
denoiser gives the EMA network's noise with its schedule beside it, and what cannot be
exported is refused in one line."""

import json
import os

import numpy as np
import pytest
from conftest import numpy

import zoo
from zoo import cli, export
from zoo.errors import UnsupportedBackendError, ZooError


def onnx_run(path, feeds):
    ort = pytest.importorskip("onnxruntime", reason="the export extra (pip install 'zoo[export]') is not installed")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    assert [o.name for o in session.get_outputs()] == ["output"]  # tf2onnx and jax2onnx named it differently
    return session.run(["output"], dict(zip(names, feeds)))[0]


@pytest.fixture
def exporting(backend):
    if backend == "torch":
        pytest.skip("covered by test_torch_onnx_export_is_refused_with_the_way_out")


def test_onnx_images_equal_decode_within_one_grey_level(tmp_path, exporting):
    model = zoo.load("gan_mnist")
    z = model.sample_noise(8, seed=0)
    out = export.export("gan_mnist", "onnx", tmp_path / "gan.onnx")
    images = onnx_run(out, [z])
    assert images.dtype == np.uint8 and images.shape == (8, 28, 28, 1)
    assert np.abs(images.astype(int) - model.decode(z).astype(int)).max() <= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gan.onnx"]  # one file (jax2onnx left a 0600 side file)
    assert out.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_model_export_is_the_same_sampling_function(tmp_path, exporting):
    model = zoo.load("vae_mnist")
    z = model.sample_noise(3, seed=4)
    images = onnx_run(model.export(tmp_path / "vae.onnx", format="onnx"), [z])
    assert np.abs(images.astype(int) - model.decode(z).astype(int)).max() <= 1


def test_a_conditional_gan_exports_latents_and_labels(tmp_path, exporting):
    model = zoo.load("cgan_mnist")
    z, labels = model.sample_noise(10, seed=1), np.arange(10, dtype="int32")
    images = onnx_run(export.export("cgan_mnist", "onnx", tmp_path / "cgan.onnx"), [z, labels])
    assert np.abs(images.astype(int) - model.decode(z, labels=labels).astype(int)).max() <= 1


def test_the_diffusion_denoiser_exports_with_its_schedule(tmp_path, exporting):
    model = zoo.load("ddpm_mnist")
    out = export.export("ddpm_mnist", "onnx", tmp_path / "ddpm.onnx")
    x = np.random.default_rng(0).standard_normal((2, 28, 28, 1)).astype("float32")
    t = np.array([999, 10], "int32")
    eps = onnx_run(out, [x, t])
    np.testing.assert_allclose(eps, numpy(model.ema_network([x, t], training=False)), atol=1e-4)
    schedule = json.loads((tmp_path / "ddpm.onnx.schedule.json").read_text())
    np.testing.assert_allclose(schedule["alphas_cumprod"], model.schedule.alphas_cumprod)


def test_saved_model_and_litert_on_tensorflow(tmp_path, backend):
    if backend != "tensorflow":
        pytest.skip("SavedModel and LiteRT are checked where they are read: TensorFlow")
    import tensorflow as tf

    model = zoo.load("vae_mnist")
    z = model.sample_noise(4, seed=2)
    saved = tf.saved_model.load(str(export.export("vae_mnist", "tf_saved_model", tmp_path / "vae")))
    assert np.abs(saved.serve(z).numpy().astype(int) - model.decode(z).astype(int)).max() <= 1
    path = export.export("vae_mnist", "litert", tmp_path / "vae.tflite")
    interpreter = tf.lite.Interpreter(model_path=str(path))
    entry = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(entry["index"], z.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(entry["index"], z)
    interpreter.invoke()
    images = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    assert np.abs(images.astype(int) - model.decode(z).astype(int)).max() <= 1


def test_torch_onnx_export_is_refused_with_the_way_out(tmp_path, backend):
    if backend != "torch":
        pytest.skip("the torch backend's refusal")
    with pytest.raises(UnsupportedBackendError, match="add --backend tensorflow"):
        export.export("gan_mnist", "onnx", tmp_path / "gan.onnx")


@pytest.mark.parametrize("name, fmt, out, match", [
    ("gpt_shakespeare", "onnx", "t.onnx", "zoo export covers image generators"),
    ("features_digits", "onnx", "f.onnx", "zoo export covers image generators"),
    ("gan_mnist", "onnx", "gan.zip", "must end in .onnx"),
    ("gan_mnist", "litert", "gan.onnx", "must end in .tflite"),
])
def test_what_cannot_be_exported_is_one_line(tmp_path, exporting, capsys, name, fmt, out, match):
    assert cli.main(["export", name, "--format", fmt, "--out", str(tmp_path / out)]) == 2
    err = capsys.readouterr().err.strip()
    assert match in err and len(err.splitlines()) == 1 and not list(tmp_path.iterdir())


def test_the_cli_exports_and_names_the_signature(tmp_path, exporting, capsys):
    assert cli.main(["export", "gan_mnist", "--format", "onnx", "--out", str(tmp_path / "g.onnx")]) == 0
    assert "z float32 (N, 100)" in capsys.readouterr().out and (tmp_path / "g.onnx").stat().st_size > 0
    with pytest.raises(ZooError, match="unknown export format"):
        export.export("gan_mnist", "pickle", tmp_path / "g.pkl")
