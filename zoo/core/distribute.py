"""Data-parallel training on each backend's own engine: `setup(devices)` once, before any model
is built, then the same recipe, `train_step` and preset as on one device.

* JAX: `keras.distribution.DataParallel` over the first N of `keras.distribution.list_devices()`
  (several hosts: `keras.distribution.initialize()`, from its `KERAS_DISTRIBUTION_*`
  variables). One SPMD program sees the global batch; the model's and every optimizer's
  state (an `OptimizerGroup`'s members included) is replicated.
* TensorFlow: `tf.distribute.MirroredStrategy` over N GPUs, or over N logical CPU devices
  where there is no GPU (`MultiWorkerMirroredStrategy` when `TF_CONFIG` names several
  workers), made the default strategy of the process so every variable is built in it.
* PyTorch: `torch.distributed` (gloo on CPU, nccl on GPU) in processes started by torchrun,
  one per device (`launch_command` builds the torchrun line). Each rank runs the step on its
  rows of every batch and `zoo.core.backend.value_and_grad` averages the gradients; rank 0
  alone writes checkpoints, logs and the preset (`is_chief`).

The batch size a user gives is the global one; it must divide among the devices.
"""

import os
import sys

import keras

from zoo.core.backend import BACKEND
from zoo.errors import ZooError


class DistributionError(ZooError, ValueError):
    """A data-parallel setup this process cannot have."""


_count = 1


def count():
    """How many devices (replicas) train together: 1 unless `setup` was called with more."""
    return _count


def is_chief():
    """Whether this process writes checkpoints, logs, pictures and the preset: always, except on
    torch ranks other than 0."""
    return rank() == 0


def rank():
    if BACKEND == "torch" and _torch_initialized():
        import torch.distributed as dist

        return dist.get_rank()
    return 0


def _torch_initialized():
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def barrier():
    if BACKEND == "torch" and _torch_initialized():
        import torch.distributed as dist

        dist.barrier()


def check_batch_size(batch_size, what="the batch size", devices=None):
    """Refuses a global batch that does not divide among the devices (this process's, or
    `devices`: checked before torchrun starts one process per device)."""
    devices = _count if devices is None else int(devices)
    if batch_size is not None and devices > 1 and int(batch_size) % devices:
        raise DistributionError(f"{what} {batch_size} does not divide among the {devices} devices; "
                                f"give a global batch size that is a multiple of {devices}")


def setup(devices=1):
    """Makes this process train on `devices` devices. Call it before building a model; it can
    be called once per process. Returns the number of devices."""
    global _count
    devices = int(devices)
    if devices < 1:
        raise DistributionError(f"--devices must be at least 1; got {devices}")
    if devices == _count:
        return devices
    if _count != 1:
        raise DistributionError(f"this process already trains on {_count} devices; it cannot change to {devices}")
    {"jax": _setup_jax, "tensorflow": _setup_tensorflow, "torch": _setup_torch}[BACKEND](devices)
    _count = devices
    return devices


def _too_many(devices, seen, what, hint=""):
    return DistributionError(f"--devices {devices} asks for more devices than the {BACKEND} backend sees "
                             f"({seen} {what}){hint}")


def _setup_jax(devices):
    import jax

    if any(k.startswith("KERAS_DISTRIBUTION_") for k in os.environ):
        keras.distribution.initialize()  # several hosts: coordinator, process count and id from the environment
    if jax.config.jax_num_cpu_devices < devices:
        try:  # the CPU platform, if JAX has not started it yet, splits into N devices (GPUs are unaffected)
            jax.config.update("jax_num_cpu_devices", devices)
        except RuntimeError:
            pass
    available = keras.distribution.list_devices()
    if len(available) < devices:
        raise _too_many(devices, len(available), "device(s): " + ", ".join(available),
                        "; on a CPU set JAX_NUM_CPU_DEVICES before Python starts")
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=available[:devices]))


def _setup_tensorflow(devices):
    import json

    import tensorflow as tf

    workers = len(json.loads(os.environ["TF_CONFIG"]).get("cluster", {}).get("worker", [])) \
        if os.environ.get("TF_CONFIG") else 0
    gpus = tf.config.list_physical_devices("GPU")
    if workers > 1:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        if strategy.num_replicas_in_sync != devices:
            raise DistributionError(f"--devices {devices}, but TF_CONFIG's {workers} workers give "
                                    f"{strategy.num_replicas_in_sync} replicas in all")
    elif gpus:
        if len(gpus) < devices:
            raise _too_many(devices, len(gpus), "GPUs")
        strategy = tf.distribute.MirroredStrategy([f"/gpu:{i}" for i in range(devices)])
    else:
        cpus = tf.config.list_physical_devices("CPU")
        try:  # one physical CPU split into N logical devices, each a replica
            tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * devices)
        except RuntimeError:
            pass  # TF already started: the logical devices are what they are
        logical = tf.config.list_logical_devices("CPU")
        if len(logical) < devices:
            raise _too_many(devices, len(logical), "logical CPU devices",
                            "; call zoo.core.distribute.setup before TensorFlow runs anything")
        strategy = tf.distribute.MirroredStrategy([d.name for d in logical[:devices]],
                                                  cross_device_ops=tf.distribute.ReductionToOneDevice())
    tf.distribute.experimental_set_strategy(strategy)


def _setup_torch(devices):
    import torch
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        raise DistributionError(
            f"--devices {devices} on torch runs one process per device, started by torchrun: "
            f"{' '.join(launch_command(devices, ['...']))} (zoo train does this itself)")
    if world != devices:
        raise DistributionError(f"--devices {devices}, but torchrun started {world} processes (WORLD_SIZE)")
    if torch.cuda.is_available():
        if torch.cuda.device_count() < int(os.environ.get("LOCAL_WORLD_SIZE", world)):
            raise _too_many(devices, torch.cuda.device_count(), "GPUs")
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")


def needs_launcher(devices):
    """Whether `devices` devices need this command started again, one process per device: on
    torch, in a process that torchrun did not start."""
    return int(devices) > 1 and BACKEND == "torch" and "WORLD_SIZE" not in os.environ


def launch_command(devices, argv, nodes=1):
    """The torchrun command line that runs `python ARGV...` (argv[0]: a script, or `-m module`)
    in `devices` processes on this host (`--standalone`); for several hosts, run it on each
    with `--nnodes`, `--node-rank` and `--rdzv-endpoint` added (README, "Scaling out")."""
    per_node = max(1, int(devices) // int(nodes))
    head = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={per_node}"]
    if nodes == 1:
        head.append("--standalone")
    return head + list(argv)
