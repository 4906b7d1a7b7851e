"""The machine zoo runs on, in one line: what cards and benchmark results name."""

import os
import platform


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
