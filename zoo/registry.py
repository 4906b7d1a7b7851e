"""Presets: pretrained models shipped inside the package, found by name.

A preset is a directory (in the style of keras-hub's `from_preset`):

    config.json        the model's Keras serialization (class and constructor arguments)
    model.weights.h5   the weights (Keras' HDF5 weights format: nothing is unpickled)
    metadata.json      the model card: dataset, recipe, backend, steps, wall time,
                       machine, parameter counts, metrics, sha256 of the weights file
    sample.png         a sample grid (and other pictures)

    README.md          the same card for people (Hugging Face model-card format; zoo.cards)

`Preset(source)` reads a preset's card once (`.card`, `.family`, `.dataset`) and `.load()`s
its model. `source` is a shipped name, a directory, `hf://owner/repo[@revision]` or an
https:// URL of a preset folder or archive (downloaded once into `$ZOO_HOME`, see zoo.hub).
`list_models()` lists the shipped names, `load(source)` is `Preset(source).load()`. This
module only reads: writing a preset, or its card, is zoo.publish's; the files and what a card
says are zoo.cards'.

The card's `dataset` is structured: {"name": "mnist", "size": 60000, "unit": "images",
"image_size": "28x28", "held_out": 10000, "description": "..."} (name and description
always; the rest where known).
"""

import fnmatch
import os
import pathlib
import warnings

from zoo import cards, hub
from zoo.cards import CERTIFIED, CONFIG, METADATA, PRESETS_DIR, WEIGHTS
from zoo.errors import PresetError, UnknownModelError, ZooWarning


class UnverifiedPresetWarning(ZooWarning):
    """A user preset was loaded: its weights match its own metadata.json, which anyone who
    rewrote the weights could also have rewritten; zoo's manifest does not vouch for it."""

_warned = set()


def list_models(family=None, pattern=None):
    """Names of the shipped presets, optionally of one family ("gan", "vae", ...; an unknown
    family is an error that lists the known ones) and matching a shell-style `pattern`
    ("*anime*", "ddpm_?nist")."""
    names = sorted(p.parent.name for p in PRESETS_DIR.glob(f"*/{METADATA}"))
    if pattern is not None:
        if not isinstance(pattern, str) or not pattern:
            raise UnknownModelError(f"pattern must be a non-empty string such as '*anime*'; got {pattern!r}")
        names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    if family is not None:
        families = {n: Preset(n).family for n in names}
        if family not in families.values():
            raise UnknownModelError(f"unknown family {family!r}; the shipped presets' families: "
                                    f"{', '.join(sorted(set(families.values())))}")
        names = [n for n in names if families[n] == family]
    return names


class ShadowedPresetWarning(ZooWarning):
    """A folder in the working directory has a shipped preset's name; the name loads the
    shipped preset (the folder loads as ./NAME)."""


def is_shipped_name(text):
    """Whether `text` is a bare shipped name ("gan_mnist"), not a path."""
    return isinstance(text, str) and bool(text) and "/" not in text and os.sep not in text \
        and text not in (".", "..") and (PRESETS_DIR / text / METADATA).is_file()


def preset_path(name_or_directory):
    """The directory of a preset given by name, path or remote address (fetched into the
    cache); a clear error otherwise."""
    if not isinstance(name_or_directory, (str, os.PathLike)) or not os.fspath(name_or_directory).strip():
        raise UnknownModelError(
            f"a preset is a shipped name ({', '.join(list_models()[:3])}, ...: zoo list), a folder, "
            f"hf://OWNER/REPO[@REV] or an https:// URL; got {name_or_directory!r}")
    if hub.is_remote(name_or_directory):
        return hub.fetch_preset(name_or_directory)
    text = os.fspath(name_or_directory)
    path = pathlib.Path(text).expanduser()
    shipped = PRESETS_DIR / str(text)
    if is_shipped_name(text):  # a bare shipped name is the shipped preset, whatever folder has that name here
        if path.is_dir() and path.resolve() != shipped.resolve():
            warnings.warn(f"{text!r} is zoo's shipped preset; the folder {text} here is not loaded (give "
                          f"./{text} to load it)", ShadowedPresetWarning, stacklevel=3)
        return shipped
    if path.is_dir():
        return path
    known = ", ".join(list_models()) or "none"
    raise UnknownModelError(
        f"unknown model {str(name_or_directory)!r}: not a preset directory, and not one "
        f"of the shipped presets ({known})"
    )


class Preset:
    """A preset directory, its card read once.

        preset = Preset("ddpm_mnist")       # a shipped name, or a directory
        preset.card, preset.family, preset.dataset["name"]
        model = preset.load()
    """

    def __init__(self, name_or_directory):
        self.path = preset_path(name_or_directory)
        self.source = name_or_directory if hub.is_remote(name_or_directory) else None
        self.name = hub.Source(name_or_directory).name if self.source else self.path.name
        self.card = cards.read_card(self.path)
        self._config = None
        self.weights_path = self.path / WEIGHTS

    def __repr__(self):
        return f"Preset({str(self.path)!r})"

    @property
    def family(self):
        return self.card.get("family")

    @property
    def dataset(self):
        return cards.dataset_entry(self.card.get("dataset", "unknown"))

    @property
    def config(self):
        if self._config is None:
            self._config = cards.read_json(self.path / CONFIG)
        return self._config

    def model_config(self):
        """config.json, its class checked against zoo's registered models (and a legacy
        class name mapped to today's)."""
        from zoo.models import LEGACY_NAMES, MODELS  # importing the package registers every model

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

    @property
    def shipped(self):
        """True for a preset inside the installed package (zoo/presets/NAME)."""
        return self.path.resolve().parent == PRESETS_DIR

    def verify(self):
        """Checks the files against what vouches for them; returns "shipped" (zoo's manifest,
        kept in code apart from the preset folders), "copy of NAME" (a user directory whose
        files are byte for byte a shipped preset's) or "user" (its own metadata.json only).
        A shipped preset that differs from the manifest is refused, whatever its metadata says.
        A shipped preset installed without its weights (a wheel) fetches them once (zoo.hub)."""
        from zoo.manifest import SHIPPED

        if self.shipped:
            expected = SHIPPED.get(self.name)
            if expected is None:
                raise PresetError(f"{self.path} sits among zoo's shipped presets but is not in zoo's manifest "
                                  "(zoo/manifest.py); move it out, or reinstall zoo")
            if not self.weights_path.is_file():
                self.weights_path = hub.shipped_weights(self.name, expected[WEIGHTS])
            actual = cards.check_files(self.path, dict.fromkeys(CERTIFIED), {WEIGHTS: self.weights_path})
            for filename in CERTIFIED:
                if actual[filename] != expected[filename]:
                    raise PresetError(
                        f"shipped preset {self.name}: {filename} is corrupt or was modified (sha256 "
                        f"{actual[filename][:16]}..., zoo's manifest says {expected[filename][:16]}...); "
                        "reinstall zoo or re-run its recipe")
            return "shipped"
        listed = cards.listed_files(self.card)
        if not listed[WEIGHTS]:
            raise PresetError(f"preset {self.path}: {METADATA} has no weights_sha256 to check {WEIGHTS}")
        actual = cards.check_files(self.path, {name: listed[name] for name in CERTIFIED})
        for name, digests in SHIPPED.items():
            if digests == actual:
                return f"copy of {name}"
        return "user"

    def load(self, compile=False):
        """The model with its weights, checked (`verify`): a shipped preset against zoo's
        manifest, a user preset against its own metadata.json (with an
        `UnverifiedPresetWarning`, once per directory).

        `compile=True` also compiles it with its default optimizers, ready for `fit`."""
        origin = self.verify()
        self.model_config()  # a config naming anything but a zoo model is refused here
        if origin == "user" and str(self.path.resolve()) not in _warned:
            _warned.add(str(self.path.resolve()))
            warnings.warn(f"loaded the user preset {self.path}: its weights match its own {METADATA}, not "
                          "zoo's manifest of shipped presets", UnverifiedPresetWarning, stacklevel=3)
        try:
            model = self.build()
            model.load_weights(self.weights_path)
        except Exception as e:  # noqa: BLE001  (h5py/Keras raise many kinds)
            lines = [line.strip() for line in str(e).splitlines() if line.strip()]
            why = next((line for line in lines if "expected" in line.lower()), lines[0] if lines else type(e).__name__)
            raise PresetError(f"preset {self.path}: its {CONFIG} does not describe its weights, or they are damaged "
                              f"({why[:300]})") from None
        model.preset_origin = origin
        # the steps its weights had: fine-tuning continues the EMA warm-up (and any ramp) from there
        model.steps_before = int(self.card.get("steps") or 0) + int((self.card.get("init_training") or {}).get("steps")
                                                                    or 0)
        model.preset_loader = load  # a model that needs another preset (a reranker) loads it through this
        # what a preset saved from it after more training names as its base (zoo.publish.save_preset)
        model.base_preset = {"name": self.name if is_shipped_name(self.name) else str(self.path),
                             "sha256": self.card.get("weights_sha256"), "license": cards.license_of(self.card)}
        if compile:
            model.compile()
        return model

def info(name_or_directory):
    """The model card (metadata.json) of a preset, as a dict."""
    return Preset(name_or_directory).card


def load(name_or_directory, compile=False):
    """The model of a preset, with its weights, checked against the card's sha256.

    `compile=True` also compiles it with its default optimizers, ready for `fit`.
    """
    return Preset(name_or_directory).load(compile=compile)
