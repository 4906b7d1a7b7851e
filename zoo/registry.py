"""Presets: pretrained models shipped inside the package, found by name.

A preset is a directory (in the style of keras-hub's `from_preset`):

    config.json        the model's Keras serialization (class and constructor arguments)
    model.weights.h5   the weights (Keras' HDF5 weights format: nothing is unpickled)
    metadata.json      the model card: dataset, recipe, backend, steps, wall time,
                       machine, parameter counts, metrics, sha256 of the weights file
    sample.png         a sample grid (and other pictures)

`list_models()` lists the shipped names, `load(name_or_directory)` returns the model,
`save_preset(model, directory, **card)` writes one.
"""

import datetime
import hashlib
import json
import os
import pathlib

from zoo.errors import PresetError, UnknownModelError

PRESETS_DIR = pathlib.Path(__file__).resolve().parent / "presets"
CONFIG, WEIGHTS, METADATA = "config.json", "model.weights.h5", "metadata.json"


def list_models(family=None):
    """Names of the shipped presets (optionally of one family: "gan", "vae", ...)."""
    names = sorted(p.parent.name for p in PRESETS_DIR.glob(f"*/{METADATA}"))
    if family is not None:
        names = [n for n in names if info(n).get("family") == family]
    return names


def preset_path(name_or_directory):
    """The directory of a preset given by name or path; a clear error otherwise."""
    path = pathlib.Path(os.fspath(name_or_directory)).expanduser()
    if path.is_dir():
        return path
    if (PRESETS_DIR / str(name_or_directory) / METADATA).is_file():
        return PRESETS_DIR / str(name_or_directory)
    known = ", ".join(list_models()) or "none"
    raise UnknownModelError(
        f"unknown model {str(name_or_directory)!r}: not a preset directory, and not one "
        f"of the shipped presets ({known})"
    )


def _read_json(path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PresetError(f"preset {path.parent} lacks {path.name}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise PresetError(f"preset file {path} is not valid JSON: {e}") from None


def info(name_or_directory):
    """The model card (metadata.json) of a preset, as a dict."""
    return _read_json(preset_path(name_or_directory) / METADATA)


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load(name_or_directory, compile=False):
    """The model of a preset, with its weights, checked against the card's sha256.

    `compile=True` also compiles it with its default optimizers, ready for `fit`.
    """
    import keras

    import zoo.models  # noqa: F401  (registers the model classes with Keras)

    path = preset_path(name_or_directory)
    meta = _read_json(path / METADATA)
    config = _read_json(path / CONFIG)
    weights = path / WEIGHTS
    if not weights.is_file():
        raise PresetError(f"preset {path} lacks {WEIGHTS}")
    expected = meta.get("weights_sha256")
    if not expected:
        raise PresetError(f"preset {path}: {METADATA} has no weights_sha256 to check {WEIGHTS}")
    actual = sha256(weights)
    if actual != expected:
        raise PresetError(
            f"preset {path}: {WEIGHTS} is corrupt or was modified (sha256 {actual[:16]}..., "
            f"expected {expected[:16]}... from {METADATA}); reinstall zoo or re-run its recipe"
        )
    if not str(config.get("registered_name", "")).startswith("zoo>"):
        raise PresetError(f"preset {path}: {CONFIG} does not describe a zoo model")
    try:
        model = keras.saving.deserialize_keras_object(config, safe_mode=True)
        model.load_weights(weights)
    except Exception as e:  # noqa: BLE001  (h5py/Keras raise many kinds)
        raise PresetError(f"preset {path}: cannot load the model: {e}") from e
    if compile:
        model.compile()
    return model


def parameter_counts(model):
    import keras

    def count(variables):
        return int(sum(int(keras.ops.size(v)) for v in variables))

    counts = {"total": count(model.weights), "trainable": count(model.trainable_weights)}
    for attr in ("generator", "discriminator", "encoder", "decoder"):
        part = getattr(model, attr, None)
        if part is not None:
            counts[attr] = count(part.weights)
    return counts


def save_preset(model, directory, **card):
    """Writes `model` as a preset directory; `card` goes into metadata.json.

    The weights are those of the model alone (no optimizer state), written from a
    fresh copy of the model so that the file does not depend on how it was trained.
    """
    import keras

    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = keras.saving.serialize_keras_object(model)
    for key in ("compile_config", "build_config"):
        config.pop(key, None)
    clean = keras.saving.deserialize_keras_object(config)
    clean.set_weights(model.get_weights())
    clean.save_weights(directory / WEIGHTS)
    (directory / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    meta = {
        "name": directory.name,
        "family": getattr(model, "family", None),
        "class": type(model).__name__,
        "parameters": parameter_counts(model),
        "keras_version": keras.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **card,
        "weights_sha256": sha256(directory / WEIGHTS),
    }
    (directory / METADATA).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    return directory
