import contextlib
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `pytest -n 2` (the test command): two workers on two cores, each computing on one thread.
    # With each backend's default of one thread per core, four threads share two cores and
    # OpenMP's spin-waiting (torch) doubles some tests' time. Set before any backend is
    # imported; the processes that tests start inherit it. TensorFlow's inter-op pool is left
    # alone (a MirroredStrategy's replicas run in parallel through it).
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        os.environ.setdefault(var, "1")
    os.environ["XLA_FLAGS"] = " ".join(
        [os.environ.get("XLA_FLAGS", ""), "--xla_cpu_multi_thread_eigen=false", "intra_op_parallelism_threads=1"]
    ).strip()

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
ROOT = pathlib.Path(__file__).resolve().parents[1]
BACKENDS = ("tensorflow", "jax", "torch")


def next_backend(backend):
    """The backend a save made under `backend` is loaded on in another process: TensorFlow ->
    JAX -> PyTorch -> TensorFlow. Over CI's three suites every backend saves and every backend
    loads, with one subprocess per test instead of two (test_presets compares all three at once)."""
    return BACKENDS[(BACKENDS.index(backend) + 1) % len(BACKENDS)]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "once_under(backend, why): run in one of CI's three suites only, the one on `backend`, "
                   "for a test whose work is the same on every backend (a recipe's file handling, a web page)")


def pytest_collection_modifyitems(config, items):
    """Turns each `once_under` mark into a skip outside its suite, reported at the test itself
    with its reason."""
    import keras

    here = keras.backend.backend()
    for item in items:
        mark = item.get_closest_marker("once_under")
        if mark is None:
            continue
        where, why = mark.args
        if where not in BACKENDS:
            raise pytest.UsageError(f"{item.nodeid}: once_under names an unknown backend {where!r}; "
                                    f"expected one of {BACKENDS}")
        if where != here:
            item.add_marker(pytest.mark.skip(reason=f"run once per CI, under {where}: {why}"))


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


def zoo_cli(capsys, *argv):
    """`zoo ARGV` in this process, on this suite's backend: (exit status, stdout, stderr). The
    same code as `python -m zoo` without a new interpreter and backend start for each call;
    tests/test_cli.py also runs real `python -m zoo` processes."""
    from zoo import cli

    try:
        status = cli.main([str(a) for a in argv])
    except SystemExit as e:  # --help
        status = e.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


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
