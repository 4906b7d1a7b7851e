"""The native references of benchmarks/ are the same networks as zoo's, so the ratios in
benchmarks/results compare like with like."""

import json

import numpy as np
import pytest
from conftest import ROOT, run

torch = pytest.importorskip("torch")  # benchmarks/ is a package of the checkout (python -m pytest from its root)
native = pytest.importorskip("benchmarks.native")


def count(modules):
    return sum(p.numel() for m in modules for p in m.parameters())


def trainable(*models):
    return sum(int(np.prod(w.shape)) for m in models for w in m.trainable_weights)


def test_the_native_torch_unet_has_zoos_unet_parameters_and_learns():
    from zoo.networks.unet import build_unet

    step = native.torch_unet_step(widths=(8, 16), batch=8, shape=(16, 16, 1))
    assert count(step.modules) == trainable(build_unet((16, 16, 1), (8, 16), attention=(1,)))
    losses = [step() for _ in range(30)]
    assert np.isfinite(losses).all() and np.mean(losses[-10:]) < np.mean(losses[:10]), losses


@pytest.mark.parametrize("channels_last", [False, True])
def test_the_native_torch_dcgan_has_zoos_dcgan_parameters(channels_last):
    from zoo.models.dcgan import DCGAN

    step = native.torch_step(width=8, batch=4, channels_last=channels_last)
    model = DCGAN(width=8, seed=0)
    assert count(step.modules) == trainable(model.generator, model.discriminator)
    assert np.isfinite(step())


def test_the_benchmark_measures_a_backend_and_writes_the_table(tmp_path, backend):
    # python -m benchmarks.backends: each configuration in its own process, a table, JSON and
    # a chart. (What it measures is checked for shape and sense, never for speed.)
    run(["-m", "benchmarks.backends", "--quick", "--models", "gan_mnist", "--configs", f"keras-{backend}",
         "--out", str(tmp_path)], timeout=900, cwd=ROOT)
    report = json.loads((tmp_path / "backends.json").read_text())
    (result,) = report["results"]
    assert "error" not in result, result
    assert result["keras_backend"] == backend and result["step_ms_min"] <= result["step_ms"] <= result["step_ms_max"]
    assert result["flops_per_step"] > 0 and 0 < result["utilization"] and result["sampling"]["images_per_s"] > 0
    assert all(v > 0 for v in report["matmul_peak_gflops"].values())
    assert f"| gan_mnist | keras-{backend} |" in (tmp_path / "backends.md").read_text()
    assert (tmp_path / "backends.png").stat().st_size > 1000


def test_the_native_gpts_have_zoos_gpt_parameters_and_learn():
    from zoo.models.gpt import GPT

    model = GPT(vocabulary=[chr(ord("a") + i) for i in range(20)], block_size=16, num_layers=2, num_heads=2,
                embed_dim=32, dropout=0.0)
    sizes = dict(vocab=20, block=16, layers=2, heads=2, dim=32, batch=8)
    step = native.torch_gpt_step(**sizes)
    assert count(step.modules) == trainable(model)
    losses = [step() for _ in range(30)]
    assert np.isfinite(losses).all() and np.mean(losses[-10:]) < np.mean(losses[:10]), losses
    ids = step.sample(texts=3, new=10)
    assert tuple(ids.shape) == (3, 10) and int(ids.max()) < 20
    pytest.importorskip("flax", reason="the native JAX reference needs flax and optax (zoo[bench])")
    import jax

    jax_step = native.jax_gpt_step(**sizes)
    assert sum(leaf.size for leaf in jax.tree.leaves(jax_step.params())) == trainable(model)
    losses = [jax_step() for _ in range(30)]
    assert np.mean(losses[-10:]) < np.mean(losses[:10]), losses
