"""Presets: pretrained models shipped inside the package, found by name.

A preset is a directory (in the style of keras-hub's `from_preset`):

    config.json        the model's Keras serialization (class and constructor arguments)
    model.weights.h5   the weights (Keras' HDF5 weights format: nothing is unpickled)
    metadata.json      the model card: dataset, recipe, backend, steps, wall time,
                       machine, parameter counts, metrics, sha256 of the weights file
    sample.png         a sample grid (and other pictures)

`Preset(name_or_directory)` reads a preset's card once (`.card`, `.family`, `.dataset`)
and `.load()`s its model; `list_models()` lists the shipped names, `load(name)` is
`Preset(name).load()`, `save_preset(model, directory, **card)` writes one.

The card's `dataset` is structured: {"name": "mnist", "size": 60000, "unit": "images",
"image_size": "28x28", "held_out": 10000, "description": "..."} (name and description
always; the rest where known).
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
    """Names of the shipped presets (optionally of one family: "gan", "vae", ...; an
    unknown family is an error that lists the known ones)."""
    names = sorted(p.parent.name for p in PRESETS_DIR.glob(f"*/{METADATA}"))
    if family is not None:
        families = {n: Preset(n).family for n in names}
        if family not in families.values():
            raise UnknownModelError(f"unknown family {family!r}; the shipped presets' families: "
                                    f"{', '.join(sorted(set(families.values())))}")
        names = [n for n in names if families[n] == family]
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


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dataset_entry(dataset):
    """A card's dataset as a dict with at least "name" (a plain string is its name)."""
    if isinstance(dataset, dict):
        if not dataset.get("name"):
            raise PresetError(f"a card's dataset needs a name; got {dataset}")
        return {"description": dataset["name"], **dataset}
    return {"name": str(dataset), "description": str(dataset)}


class Preset:
    """A preset directory, its card read once.

        preset = Preset("ddpm_mnist")       # a shipped name, or a directory
        preset.card, preset.family, preset.dataset["name"]
        model = preset.load()
    """

    def __init__(self, name_or_directory):
        self.path = preset_path(name_or_directory)
        self.name = self.path.name
        self.card = _read_json(self.path / METADATA)
        self._config = None

    def __repr__(self):
        return f"Preset({str(self.path)!r})"

    @property
    def family(self):
        return self.card.get("family")

    @property
    def dataset(self):
        return dataset_entry(self.card.get("dataset", "unknown"))

    @property
    def config(self):
        if self._config is None:
            self._config = _read_json(self.path / CONFIG)
        return self._config

    def model_config(self):
        """config.json, its class checked against zoo's registered models (and a legacy
        class name mapped to today's)."""
        from zoo.models import LEGACY_NAMES, MODELS

        config = dict(self.config)
        name = LEGACY_NAMES.get(config.get("registered_name"), config.get("registered_name"))
        if name not in MODELS:
            raise PresetError(f"preset {self.path}: {CONFIG} does not describe a zoo model (class "
                              f"{config.get('registered_name')!r}; zoo's models: {', '.join(sorted(MODELS))})")
        cls = MODELS[name]
        config.update(registered_name=name, class_name=cls.__name__, module=cls.__module__)
        return config

    def build(self):
        """The preset's model with fresh (random) weights: its architecture alone."""
        import keras

        return keras.saving.deserialize_keras_object(self.model_config(), safe_mode=True)

    def load(self, compile=False):
        """The model with its weights, checked against the card's sha256.

        `compile=True` also compiles it with its default optimizers, ready for `fit`."""
        weights = self.path / WEIGHTS
        if not weights.is_file():
            raise PresetError(f"preset {self.path} lacks {WEIGHTS}")
        expected = self.card.get("weights_sha256")
        if not expected:
            raise PresetError(f"preset {self.path}: {METADATA} has no weights_sha256 to check {WEIGHTS}")
        actual = sha256(weights)
        if actual != expected:
            raise PresetError(
                f"preset {self.path}: {WEIGHTS} is corrupt or was modified (sha256 {actual[:16]}..., "
                f"expected {expected[:16]}... from {METADATA}); reinstall zoo or re-run its recipe")
        self.model_config()  # a config naming anything but a zoo model is refused here
        try:
            model = self.build()
            model.load_weights(weights)
        except Exception as e:  # noqa: BLE001  (h5py/Keras raise many kinds)
            raise PresetError(f"preset {self.path}: cannot load the model: {e}") from e
        if compile:
            model.compile()
        return model

    def update_card(self, entries):
        """Merges `entries` into metadata.json (the weights and their sha256 are untouched)."""
        for key, value in entries.items():
            if isinstance(value, dict) and isinstance(self.card.get(key), dict):
                self.card[key] = {**self.card[key], **value}
            else:
                self.card[key] = value
        (self.path / METADATA).write_text(json.dumps(self.card, indent=2, ensure_ascii=False) + "\n",
                                          encoding="utf-8")


def info(name_or_directory):
    """The model card (metadata.json) of a preset, as a dict."""
    return Preset(name_or_directory).card


def load(name_or_directory, compile=False):
    """The model of a preset, with its weights, checked against the card's sha256.

    `compile=True` also compiles it with its default optimizers, ready for `fit`.
    """
    return Preset(name_or_directory).load(compile=compile)


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
        "dataset": dataset_entry(card.get("dataset", "unknown")),
        "weights_sha256": sha256(directory / WEIGHTS),
    }
    (directory / METADATA).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    return directory
