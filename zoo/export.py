"""Export for serving by preset name: `zoo export NAME --format onnx|tf_saved_model|litert
--out PATH`. What is written, and on which backends, is zoo.serving's (the task contract's
`model.export`); this module adds loading the preset.
"""

from zoo import registry
from zoo.serving import FORMATS, check_request, describe_model, export_model

__all__ = ["FORMATS", "describe", "export", "export_model"]


def describe(name):
    """One line: what preset `name`'s export takes and gives."""
    return describe_model(registry.load(name), name)


def export(name, fmt, out):
    """Writes preset `name`'s serving function to `out` in format `fmt`; returns the path."""
    check_request(fmt, out)
    return export_model(registry.load(name), fmt, out, name)
