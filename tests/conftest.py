import contextlib
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
ROOT = pathlib.Path(__file__).resolve().parents[1]
BACKENDS = ("tensorflow", "jax", "torch")


@pytest.fixture(scope="session")
def backend():
    import keras

    return keras.backend.backend()


@pytest.fixture(scope="session")
def mnist_tiny():
    return FIXTURES / "mnist_tiny.npz"


@pytest.fixture(scope="session")
def digits(mnist_tiny):
    """300 MNIST training digits, uint8 (300, 28, 28, 1)."""
    return np.load(mnist_tiny)["x_train"][..., None]


def run(args, backend=None, check=True, timeout=600, env=None, **kwargs):
    """Runs `python args...` in a fresh process, optionally on another backend, with `env`'s
    variables added to this process's."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    if backend:
        env["KERAS_BACKEND"] = backend
    proc = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                          timeout=timeout, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def small_gan(seed=0, **kwargs):
    from zoo.models.gan import GAN

    return GAN(latent_dim=8, g_units=(32, 64), d_units=(32,), seed=seed, **kwargs)


def numpy(x):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(x))


@contextlib.contextmanager
def policy(name):
    """A global Keras dtype policy for the block, float32 again after it."""
    import keras

    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")
