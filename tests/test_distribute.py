"""Data-parallel training (zoo.core.distribute) on 2 devices of this CPU, on the backend under
test: JAX splits its CPU platform into 2 devices, TensorFlow splits the CPU into 2 logical
devices under a MirroredStrategy, torch runs 2 gloo processes on 127.0.0.1 under torchrun.
Each run is a fresh process (tests/dp_worker.py), since the device count is fixed at start.

The claim: N devices with a global batch B give the losses and weights that one device gives
with the same B and seed (the models here have no BatchNorm, whose statistics are per replica),
and a 2-device run resumes from its checkpoint as if it had never stopped."""

import json
import re
import sys

import numpy as np
import pytest
from conftest import ROOT, run

WORKER = str(ROOT / "tests" / "dp_worker.py")


def train(backend, model, devices, out, *more, check=True):
    """Runs the worker; on torch with 2 devices, under torchrun (the launch zoo itself uses)."""
    args = [WORKER, model, str(devices), str(out), *map(str, more)]
    if backend == "torch" and devices > 1:
        from zoo.core.distribute import launch_command

        args = launch_command(devices, args)[1:]  # `-m torch.distributed.run ...`, run by conftest's python
    return run(args, check=check, timeout=300)


def compare(a, b, atol=2e-6):
    a, b = np.load(a), np.load(b)
    keys = [k for k in a.files if k != "state_devices"]
    assert keys and sorted(keys) == sorted(k for k in b.files if k != "state_devices")
    for key in keys:
        tol = atol * max(1.0, float(np.abs(a[key]).max())) if key.startswith("loss_") else atol
        np.testing.assert_allclose(b[key], a[key], atol=tol, rtol=0, err_msg=key)


@pytest.mark.parametrize("model", ["gan", "ddpm"])
def test_two_devices_equal_one_device(backend, model, tmp_path):
    """A GAN (two optimizers) and a DDPM (gradient clipping, EMA): two epochs of two steps. (The
    worker also takes a VAE, whose step has neither; it is left out to keep CI's time.)"""
    train(backend, model, 1, tmp_path / "one.npz")
    train(backend, model, 2, tmp_path / "two.npz")
    compare(tmp_path / "one.npz", tmp_path / "two.npz")
    one = np.load(tmp_path / "one.npz")
    assert one["loss_" + ("g_loss" if model == "gan" else "loss")].shape == (2,)
    if backend == "torch":  # every rank ends with the same weights and optimizer state, bit for bit
        compare(tmp_path / "two.npz", tmp_path / "two.npz.rank1.npz", atol=0)
    if backend == "jax":  # the state is replicated over both devices, both optimizers' slots included
        assert set(np.load(tmp_path / "two.npz")["state_devices"]) == {2}


def test_two_device_run_resumes_from_its_checkpoint(backend, tmp_path):
    """Stopped after epoch 1 and started again, it ends where an uninterrupted run ends."""
    train(backend, "gan", 2, tmp_path / "resumed.npz", "--workdir", tmp_path / "a", "--epochs", 1)
    proc = train(backend, "gan", 2, tmp_path / "resumed.npz", "--workdir", tmp_path / "a", "--epochs", 2)
    assert "resuming" in proc.stderr
    train(backend, "gan", 2, tmp_path / "straight.npz", "--workdir", tmp_path / "b", "--epochs", 2)
    compare(tmp_path / "straight.npz", tmp_path / "resumed.npz", atol=0)
    checkpoints = sorted(p.name for p in (tmp_path / "a" / "checkpoints").iterdir())
    assert checkpoints == ["epoch_0001.json", "epoch_0001.weights.h5", "epoch_0002.json", "epoch_0002.weights.h5"]


def test_batch_that_does_not_divide_is_refused(backend, tmp_path):
    proc = train(backend, "gan", 2, tmp_path / "x.npz", "--batch-size", 7, check=False)
    assert proc.returncode != 0
    assert "batch size 7 does not divide among the 2 devices" in proc.stderr
    assert not (tmp_path / "x.npz").exists()


def test_more_devices_than_the_backend_sees_is_refused(backend, tmp_path):
    if backend == "torch":  # 3 processes asked for, 2 started
        env = dict(WORLD_SIZE="2", RANK="0", LOCAL_RANK="0")
        proc = run([WORKER, "gan", "3", str(tmp_path / "x.npz")], check=False, env=env)
        assert "--devices 3, but torchrun started 2 processes" in proc.stderr
    else:
        env = dict(JAX_NUM_CPU_DEVICES="2")
        code = ("import os; os.environ['JAX_NUM_CPU_DEVICES'] = '2'\n"
                "import keras; keras.ops.ones(1)\n"  # the backend has started: 2 devices, fixed
                "from zoo.core import distribute; distribute.setup(4)")
        proc = run(["-c", code], check=False, env=env, cwd=str(ROOT))
        last = proc.stderr.strip().splitlines()[-1]
        assert "--devices 4 asks for more devices than the" in last
        assert re.search(r"\(([123]) (device|logical CPU device)", last), last  # what it sees, by number
    assert proc.returncode != 0


def test_torch_without_torchrun_says_how_to_launch(backend):
    if backend != "torch":
        pytest.skip("torch only: one process per device")
    from zoo.core import distribute

    with pytest.raises(distribute.DistributionError, match="torch.distributed.run --nproc-per-node=2"):
        distribute._setup_torch(2)
    assert sys.executable in distribute.launch_command(2, ["x.py"])


def test_zoo_train_on_two_devices_writes_one_preset(backend, tmp_path, mnist_tiny):
    """The user's command: `zoo train NAME --devices 2` (on torch zoo starts torchrun itself);
    the card names the device count, and one process wrote the run folder."""
    work = tmp_path / "run"
    proc = run(["-m", "zoo", "train", "gan_mnist", "--backend", backend, "--devices", "2", "--data", str(mnist_tiny),
                "--limit", "64", "--batch-size", "32", "--epochs", "1", "--workdir", str(work), "--verbose", "0"])
    if backend == "torch":
        assert "starting 2 processes" in proc.stderr and "torch.distributed.run" in proc.stderr
    card = json.loads((work / "preset" / "metadata.json").read_text())
    assert card["devices"] == 2 and card["steps"] == 2 and card["epochs"] == 1
    assert "devices / precision | 2 (data-parallel) / float32" in (work / "preset" / "README.md").read_text()
    assert [p.name for p in (work / "checkpoints").glob("*.json")] == ["epoch_0001.json"]
