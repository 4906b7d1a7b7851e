"""Publishing presets: what writes a preset folder, its card and zoo's manifest (zoo.registry
only reads them; zoo.cards names the files and renders the card).

    save_preset(model, directory, **card)    the weights, config.json, metadata.json, README.md
    update_card(preset, entries)             merges entries into a preset's card (zoo eval)
    python -m zoo.publish --write-manifest   zoo/manifest.py from the shipped preset folders
"""

import datetime
import json
import os
import pathlib
import shutil

from zoo import cards, system
from zoo.cards import CERTIFIED, CONFIG, METADATA, PRESETS_DIR, WEIGHTS
from zoo.errors import PresetError
from zoo.io import atomic_write, replace_folder, sha256
from zoo.registry import Preset


def update_card(preset, entries):
    """Merges `entries` into the card (metadata.json) of `preset` (a name, folder or `Preset`);
    a dict entry is merged into the card's dict of that name. The weights and their sha256 are
    untouched; README.md is written again."""
    preset = preset if isinstance(preset, Preset) else Preset(preset)
    card = preset.card
    for key, value in entries.items():
        if isinstance(value, dict) and isinstance(card.get(key), dict):
            card[key] = {**card[key], **value}
        else:
            card[key] = value
    cards.write_metadata(preset.path, card)
    cards.write_card(preset.path)
    preset.card = cards.read_card(preset.path)
    return preset


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


def float32_copy(model):
    """A fresh float32 model with `model`'s config and weights, and that config: what its preset
    gives (mixed precision was a way to train it), without optimizer or compile state."""
    import keras

    config = keras.saving.serialize_keras_object(model)
    for key in ("compile_config", "build_config"):
        config.pop(key, None)
    if "dtype" in config.get("config", {}):
        config["config"]["dtype"] = "float32"
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        clean = keras.saving.deserialize_keras_object(config)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    clean.set_weights(model.get_weights())
    return clean, config


def save_preset(model, directory, **card):
    """Writes `model` as a preset directory; `card` goes into metadata.json.

    The weights are those of the model alone (no optimizer state), written from a
    fresh copy of the model so that the file does not depend on how it was trained.
    """
    import keras
    import numpy as np

    directory = pathlib.Path(directory)
    for variable in model.weights:
        if not np.all(np.isfinite(keras.ops.convert_to_numpy(variable))):
            raise PresetError(f"{model.name} has non-finite values in {variable.path}; refusing to save it as "
                              "a preset (train from the last good checkpoint)")
    check_replaceable(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = directory.with_name(f".{directory.name}.new-{os.getpid()}")  # beside it: one file system
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        clean, config = float32_copy(model)
        clean.save_weights(staging / WEIGHTS)
        atomic_write(staging / CONFIG, json.dumps(config, indent=2) + "\n")
        meta = {
            "name": directory.name,
            "family": model.family,
            "class": type(model).__name__,
            "parameters": parameter_counts(model),
            "keras_version": keras.__version__,
            "backend": keras.backend.backend(),
            "machine": system.machine(),
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            # a model loaded from a preset and trained further: what it came from (its licence binds this one)
            **({"base_model": model.base_preset} if getattr(model, "base_preset", None) else {}),
            **card,
            "dataset": cards.dataset_entry(card.get("dataset", "unknown")),
            "weights_sha256": sha256(staging / WEIGHTS),
        }
        meta["task"] = type(model).declarations(meta)  # what the card's text needs of the class
        cards.write_metadata(staging, meta)  # a preset without it is not one
        cards.write_card(staging)  # README.md, and the card's list of files with their sha256
        replace_folder(staging, directory)  # the old preset, or none, becomes the new one in one step
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return directory


def check_replaceable(directory):
    """Refuses to write a preset over anything but a preset (or an empty folder): a folder
    holding a file that its card does not list is not replaced, and the file is named."""
    directory = pathlib.Path(directory)
    if directory.is_symlink():
        raise PresetError(f"cannot write a preset to {directory}: it is a link (to {os.readlink(directory)}); "
                          "nothing was changed (write to the folder it points to, or to a new one)")
    if not directory.exists():
        return
    if not directory.is_dir():
        raise PresetError(f"cannot write a preset to {directory}: it is a file, not a folder")
    entries = sorted(p.name for p in directory.iterdir())
    if not entries:
        return
    own = {METADATA, cards.README}
    if METADATA in entries:
        try:
            own |= set(cards.listed_files(cards.read_card(directory)))
        except PresetError:
            pass
    foreign = [name for name in entries if name not in own]
    if METADATA not in entries or foreign:
        name = foreign[0] if foreign else entries[0]
        raise PresetError(f"cannot write a preset over {directory}: it holds {name!r}, which is not a file of the "
                          "preset there; nothing was changed (write it to a new folder)")


def write_manifest(path=None):
    """Writes zoo/manifest.py from the shipped preset folders as they are now (run after a
    recipe wrote a shipped preset: `python -m zoo.publish --write-manifest`)."""
    names = sorted(p.parent.name for p in PRESETS_DIR.glob(f"*/{METADATA}"))
    lines = [f"    {name!r}: {{\n" + "".join(
        f"        {f!r}: {sha256(PRESETS_DIR / name / f)!r},\n" for f in CERTIFIED) + "    },\n" for name in names]
    text = ('"""sha256 of each shipped preset\'s config.json and weights, kept in code apart from the\n'
            "preset folders: `Preset.verify` refuses a shipped preset whose files differ, even if its\n"
            "metadata.json was rewritten to match. Written by `python -m zoo.publish --write-manifest`.\n"
            '"""\n\nSHIPPED = {\n' + "".join(lines) + "}\n")
    atomic_write(path or PRESETS_DIR.parent / "manifest.py", text)


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--write-manifest"]:
        raise SystemExit("usage: python -m zoo.publish --write-manifest")
    write_manifest()
