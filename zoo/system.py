"""The machine zoo runs on, in one line: what cards and benchmark results name."""

import importlib.util
import json
import os
import pathlib
import platform

BACKENDS = ("tensorflow", "jax", "torch")  # the ones zoo runs on (the module each needs has its name)


def chosen_backend():
    """(backend, where it was chosen) as Keras will choose it: $KERAS_BACKEND, else the
    `backend` of $KERAS_HOME/keras.json (default ~/.keras), else TensorFlow."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"], "KERAS_BACKEND"
    config = pathlib.Path(os.environ.get("KERAS_HOME") or pathlib.Path.home() / ".keras") / "keras.json"
    try:
        backend = json.loads(config.read_text()).get("backend")
        if backend:
            return backend, str(config)
    except (OSError, ValueError, AttributeError):
        pass
    return "tensorflow", "Keras' default"


def installed_backends():
    return [b for b in BACKENDS if importlib.util.find_spec(b) is not None]


def check_backend():
    """Refuses, in one line, a backend that is not installed (Keras' own error is a traceback
    from deep inside `import keras`), naming those that are and how to pick one."""
    from zoo.errors import UnsupportedBackendError

    backend, where = chosen_backend()
    if backend in BACKENDS and importlib.util.find_spec(backend) is not None:
        return backend
    installed = installed_backends()
    pick = (f"pick one with KERAS_BACKEND={installed[0]} (or zoo ... --backend {installed[0]})" if installed else
            "install one: pip install 'zoo[torch]' (or [jax], [tensorflow])")
    state = "which is not installed" if backend in BACKENDS else \
        f"which zoo does not run on (it runs on {', '.join(BACKENDS)})"
    raise UnsupportedBackendError(f"Keras is set to the {backend} backend (by {where}), {state}; installed here: "
                                  f"{', '.join(installed) or 'none of ' + ', '.join(BACKENDS)}: {pick}")


def machine():
    """A one-line description of this machine (CPU, cores, memory, accelerators, OS and
    Python), for cards and benchmark results."""
    import keras

    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        mem = f", {pages / 2**30:.0f} GiB RAM"
    except (ValueError, OSError, AttributeError):
        pass
    devices = []
    try:
        devices = [d for d in keras.distribution.list_devices() if "cpu" not in d.lower()]
    except Exception:  # noqa: BLE001
        pass
    gpu = ", ".join(devices) if devices else "no GPU"
    return f"{cpu}, {os.cpu_count()} cores{mem}, {gpu}, {platform.system()}, Python {platform.python_version()}"
