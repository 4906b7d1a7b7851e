"""The native references of benchmarks/ are the same networks as zoo's, so the ratios in
benchmarks/results compare like with like."""

import sys

import numpy as np
import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT))  # benchmarks/ is not part of the installed package
torch = pytest.importorskip("torch")
native = pytest.importorskip("benchmarks.native")


def count(modules):
    return sum(p.numel() for m in modules for p in m.parameters())


def trainable(*models):
    return sum(int(np.prod(w.shape)) for m in models for w in m.trainable_weights)


def test_the_native_torch_unet_has_zoos_unet_parameters_and_learns():
    from zoo.layers import build_unet

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
