"""Model cards: the one owner of a preset's files and of what its card says.

A preset folder holds `config.json`, `model.weights.h5`, `metadata.json` (the card, a JSON
object), `README.md` (the same card for people, in the Hugging Face model-card format: YAML
front matter, then Markdown) and pictures. This module names those files, reads a card
(`read_card`), writes it whole (`write_metadata`, `write_card`), says which sha256 a card
vouches for (`listed_files`, `check_files`), and turns a card into text: `render` (README.md),
`summary` (a few lines for `zoo info`, or Markdown for the demo) and `measured` (its
numbers). It knows no family or class by name: what differs by model class (pipeline tag,
tags, usage lines, limits) is declared by the class (zoo.tasks.Task.declarations) and stored in
the card's "task" when the preset is written (zoo.publish).

    write_card(directory)     README.md from the card, and the card's "files" (the sha256 of
                              every file but metadata.json, which zoo.hub checks downloads
                              against)
    python -m zoo.cards       rewrites the cards of every shipped preset (no retraining)

The front matter carries `library_name: keras`, `license`, `datasets`, `tags` and
`pipeline_tag`; the body the sample picture, the measured numbers, the recipe command, the
data's provenance and licence, and the intended use and limits.
"""

import json
import pathlib

from zoo.errors import PresetError
from zoo.io import atomic_write, atomic_write_json, sha256

CONFIG, WEIGHTS, METADATA, README = "config.json", "model.weights.h5", "metadata.json", "README.md"
CERTIFIED = (CONFIG, WEIGHTS)  # what zoo's manifest of shipped presets (zoo/manifest.py) certifies

# Where each named dataset comes from and under which terms (what a card must say).
DATASETS = {
    "mnist": {
        "hub": "ylecun/mnist", "license": "cc-by-sa-3.0",
        "provenance": "MNIST (LeCun, Cortes & Burges), in the keras.datasets layout (mnist.npz)",
        "terms": "Creative Commons Attribution-Share Alike 3.0, as Keras distributes it"},
    "fashion_mnist": {
        "hub": "zalando-datasets/fashion_mnist", "license": "mit",
        "provenance": "Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, Zalando Research), keras.datasets layout",
        "terms": "MIT licence; copyright Zalando SE"},
    "anime_faces": {
        "hub": None, "license": "other",
        "provenance": "33,399 anime face crops (96x96 resized to 64x64) from the GitHub repository "
                      "antoncoding/Deep_Learning_GAN, with hair and eye colour tags on 11,418 of them; the "
                      "repository does not say where the crops come from (said to be crawled from Konachan "
                      "for the NTU MLDS anime-generation homework; not verified)",
        "terms": "no licence is stated; the faces are crops of copyrighted artwork, so the data and the "
                 "weights trained on it are for research and education only",
        "limits": "It reproduces its training data's biases (for the anime faces: one drawing style, mostly "
                  "young female characters); it is not meant for images of real people. "},
    "tinyshakespeare": {
        "hub": "karpathy/tiny_shakespeare", "license": "mit",
        "provenance": "tiny shakespeare (karpathy/char-rnn's data/tinyshakespeare/input.txt), 1.1 M "
                      "characters of Shakespeare's plays",
        "terms": "the text is in the public domain (the repository says MIT)"},
    "tang_poems": {
        "hub": None, "license": "mit",
        "provenance": "35,132 regular-form Tang poems from the chinese-poetry/chinese-poetry collection (全唐诗), "
                      "converted to simplified Chinese",
        "terms": "the poems are in the public domain; the collection is MIT-licensed (© 2016 JackeyGao)"},
}

PICTURES = {"sample.png": "samples", "interpolation.png": "interpolation", "reconstructions.png":
            "reconstructions (top: test images)", "denoising.png": "denoising, step by step", "truncation.png":
            "truncation ψ from 0 to 1", "mixing_coarse.png": "style mixing (coarse styles)", "manifold.png":
            "the decoded latent grid", "guidance.png": "prompt adherence and FID against guidance scale",
            "fid_curve.png": "FID against training epochs (kept checkpoints)",
            "loss.png": "training curves"}


def _yaml_scalar(value):
    """A YAML scalar that any YAML reader takes back as the same string or number."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


# -- reading and writing a card ---------------------------------------------------------------
def read_json(path):
    """A preset's JSON file (its card or config.json); a clear PresetError where it is missing or
    is not JSON."""
    path = pathlib.Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PresetError(f"preset {path.parent} lacks {path.name}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise PresetError(f"preset file {path} is not valid JSON: {e}") from None


def read_card(directory):
    """A preset folder's metadata.json, as a dict; a clear PresetError where it is missing, is
    not JSON, or is not an object."""
    path = pathlib.Path(directory) / METADATA
    card = read_json(path)
    if not isinstance(card, dict):
        raise PresetError(f"preset {path.parent}: {METADATA} is not a model card (a JSON object)")
    return card


def dataset_entry(dataset):
    """A card's dataset as a dict with at least "name" and "description" (a plain string is its
    name)."""
    if isinstance(dataset, dict):
        if not dataset.get("name"):
            raise PresetError(f"a card's dataset needs a name; got {dataset}")
        return {"description": dataset["name"], **dataset}
    return {"name": str(dataset), "description": str(dataset)}


def write_metadata(directory, card):
    """Writes metadata.json whole (a reader, or a kill, sees the old card or the new one)."""
    atomic_write_json(pathlib.Path(directory) / METADATA, card)


def listed_files(card):
    """{file name: sha256 or None} of what `card` vouches for: its "files", with
    `weights_sha256` for the weights (the older cards' only digest); config and weights are
    always listed. A name that is not a plain file of the folder is refused."""
    if not isinstance(card, dict):
        raise PresetError(f"{METADATA} is not a model card (a JSON object); got {type(card).__name__}")
    files = dict(card.get("files") or {})
    for name in CERTIFIED:
        files.setdefault(name, None)
    if card.get("weights_sha256"):
        files[WEIGHTS] = card["weights_sha256"]
    for name in files:
        if not isinstance(name, str) or "/" in name or "\\" in name or name in ("", ".", "..", METADATA):
            raise PresetError(f"the card lists a file {json.dumps(name)}: expected plain file names in the folder")
    return files


def check_files(directory, expected, paths=None):
    """{name: actual sha256} of the files `expected` ({name: sha256 or None}) names, each
    checked: a missing file, or one whose sha256 differs from a given one, is a PresetError
    naming it. `paths` maps a name to a file kept elsewhere (a wheel's cached weights)."""
    directory, actual = pathlib.Path(directory), {}
    for name, digest in expected.items():
        path = pathlib.Path((paths or {}).get(name) or directory / name)
        if not path.is_file():
            raise PresetError(f"preset {directory} lacks {name}")
        actual[name] = sha256(path)
        if digest and actual[name] != digest:
            raise PresetError(f"preset {directory}: {name} is corrupt or was modified (sha256 {actual[name][:16]}..., "
                              f"expected {digest[:16]}... from {METADATA}); re-run the recipe that wrote it")
    return actual


def task_of(card):
    """What the card's model class declares (zoo.tasks.Task.declarations), stored in the card
    as "task" when it was written; a card written before zoo stored it gets it from the
    class, which imports Keras."""
    if isinstance(card.get("task"), dict):
        return card["task"]
    from zoo.models import LEGACY_NAMES, MODELS
    from zoo.tasks import Task

    classes = {cls.__name__: cls for cls in MODELS.values()}
    classes.update({old.split(">")[-1]: MODELS[new] for old, new in LEGACY_NAMES.items()})
    return classes.get(card.get("class"), Task).declarations(card)  # an unknown class: what any model declares


# licences from the least restrictive to the most; a derived preset takes the most restrictive of its inputs
LICENSES = ("mit", "cc-by-sa-3.0", "other")


def license_of(card):
    """The weights' licence: the most restrictive of the dataset's (a dataset zoo does not know
    is "other": its terms are its owner's) and, for a preset derived from another, the base's."""
    dataset = card.get("dataset") or {}
    data = DATASETS.get(dataset.get("name"))
    found = [data.get("license", "mit") if data is not None else "other"]
    base = card.get("base_model")
    if isinstance(base, dict):
        found.append(base.get("license") or "other")
    return max(found, key=lambda name: LICENSES.index(name) if name in LICENSES else len(LICENSES))


def is_derived(card):
    """Whether the card's weights were trained further from another preset on other data (its
    `base_model`), so that its name is its own, not the base's."""
    return isinstance(card.get("base_model"), dict)


def front_matter(card):
    """The YAML front matter's fields, as a dict (`base_model`: Hugging Face's lineage field)."""
    dataset = card.get("dataset") or {}
    data = DATASETS.get(dataset.get("name"), {})
    task = task_of(card)
    fields = {
        "library_name": "keras",
        "license": license_of(card),
        "pipeline_tag": task["pipeline_tag"],
        "tags": list(task["tags"]),
        "datasets": [data["hub"]] if data.get("hub") else [],
    }
    if fields["license"] not in LICENSES:
        fields["license_name"], fields["license"] = fields["license"], "other"
    elif fields["license"] == "other":
        fields["license_name"] = "research-only" if data else "the data owner's terms"
    if is_derived(card):
        fields["base_model"] = card["base_model"].get("name")
    return fields


def _front_matter_text(fields):
    lines = ["---"]
    for key, value in fields.items():
        if isinstance(value, list):
            lines.append(f"{key}:" + ("" if value else " []"))
            lines.extend(f"- {_yaml_scalar(v)}" for v in value)
        else:
            lines.append(f"{key}: {_yaml_scalar(value)}")
    return "\n".join(lines + ["---", ""])


# -- evaluation results, as the cards and tables show them ------------------------------------
# A `zoo eval` result's fields that are not sampling settings (everything else recorded is one).
RESULT_FIELDS = {"model", "features", "fid", "kid", "kid_std", "precision", "recall", "inception_score",
                 "inception_score_std", "inception_score_head", "num", "num_reference", "seed", "image_size",
                 "backend", "sampling_s", "total_s", "note", "label_accuracy", "sampling"}
COLUMNS = {"model": "model", "sampler": "sampler", "features": "features", "num": "samples", "fid": "FID ↓",
           "kid": "KID ×1000 ↓", "precision": "precision ↑", "recall": "recall ↑", "inception_score": "IS ↑"}


def settings_of(result):
    """The sampling settings a result was drawn with, in the order they were recorded."""
    return {k: v for k, v in result.items() if k not in RESULT_FIELDS}


def sampler_cell(result):
    """How a result was drawn, in words: its "sampling" (the model's options' labels, written
    by zoo.evaluation); a result without it lists its settings as name=value."""
    if "sampling" in result:
        return result["sampling"] or "—"
    return " ".join(f"{k}={v}" for k, v in settings_of(result).items()) or "—"


def cells(result):
    """A result's table cells, by COLUMNS key."""
    model = result["model"]
    return {"model": model if model.startswith("real ") else f"`{model}`", "features": result["features"],
            "num": f"{result['num']:,}", "sampler": sampler_cell(result),
            "fid": f"{result['fid']:.2f}", "kid": f"{result['kid'] * 1000:.1f} ± {result['kid_std'] * 1000:.1f}",
            "precision": f"{result['precision']:.3f}", "recall": f"{result['recall']:.3f}",
            "inception_score": f"{result['inception_score']:.2f}"}


def table_row(result):
    row = cells(result)
    return "| " + " | ".join(row[c] for c in COLUMNS) + " |"


def table_header():
    return "| " + " | ".join(COLUMNS.values()) + " |\n|" + " --- |" * len(COLUMNS)


def _number(value):
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def evaluations(card):
    """The card's `zoo eval` results, best FID first within each feature network and sample count."""
    results = [r for r in (card.get("evaluation") or {}).values() if isinstance(r, dict) and "fid" in r]
    return sorted(results, key=lambda r: (r.get("features", ""), -r.get("num", 0), r["fid"]))


def measured(card, losses=True):
    """Rows (what, value) of the card's measured numbers (`losses`: also the last training
    epoch's losses)."""
    rows = []
    for key in ("test_metrics", "measured", "heldout_accuracy", "heldout"):
        for name, value in (card.get(key) or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                rows.append((f"{key.replace('_', ' ')}: {name.replace('_', ' ')}", _number(value)))
    prompts = card.get("prompt_measurements")
    if prompts:  # a text-to-image model: its best adherence, and its best FID, against guidance scale
        heads = list(prompts["ceiling"])
        scale, row = max(prompts["adherence"].items(), key=lambda item: item[1][heads[0]])
        rows.append((f"{' / '.join(heads)} adherence, best (guidance {float(scale):g}; real images)",
                     " / ".join(f"{row[h]:.3f}" for h in heads) + " ("
                     + " / ".join(f"{prompts['ceiling'][h]:.3f}" for h in heads) + ")"))
        scale, quality = min(prompts["quality"].items(), key=lambda item: item[1]["fid"])
        rows.append((f"FID / CLIP score, best FID (guidance {float(scale):g}, {prompts['fid_num']} samples)",
                     f"{quality['fid']} / {quality.get('clip_score', '—')}"))
    rerank = card.get("reranking")
    if rerank:
        heads = [h for h in rerank if isinstance(rerank[h], dict)]
        rows.append((f"{' / '.join(heads)} adherence, best of {rerank['candidates']} by CLIP (guidance "
                     f"{rerank['guidance_scale']:g}; one image)",
                     " / ".join(f"{rerank[h]['reranked']:.3f}" for h in heads) + " ("
                     + " / ".join(f"{rerank[h]['one']:.3f}" for h in heads) + ")"))
    for result in evaluations(card):
        cell = cells(result)
        how = "" if cell["sampler"] == "—" else f", {cell['sampler']}"
        rows.append((f"FID / KID×1000 / precision / recall ({result['features']}, {cell['num']} samples{how})",
                     f"{cell['fid']} / {cell['kid']} / {cell['precision']} / {cell['recall']}"))
    curve = card.get("fid_curve")
    if curve:  # FID against epochs (recipes' --fid-curve)
        ref = curve.get("reference")
        rows.append((f"FID by epoch ({curve['num']} samples, {curve['sampler']})",
                     ", ".join(f"{k}: {v}" for k, v in sorted(curve["fid"].items(), key=lambda kv: int(kv[0])))
                     + (f" ({ref['preset']}: {ref['fid']})" if ref else "")))
    for name, value in (card.get("final_epoch_metrics") or {}).items() if losses else ():
        rows.append((f"last training epoch: {name}", _number(value)))
    return rows


def prompt_tables(measured):
    """A text-to-image card's measurements against guidance scale: prompt adherence per
    attribute (next to its ceiling) and FID/KID/CLIP score."""
    if not measured:
        return []
    heads = list(measured["ceiling"])
    out = ["### Against guidance scale", "",
           f"Adherence: the share of {measured['per_prompt']} images per attribute prompt whose attribute the "
           f"feature network's head reads back as the prompted one; ceiling: that head on real held-out "
           f"images. Quality: {measured['fid_num']} images drawn with the captions of random training images. "
           f"DDIM-{measured['steps']}.", "",
           "| guidance | " + " | ".join(f"{h} adherence" for h in heads)
           + " | FID ↓ | KID×1000 ↓ | precision | recall | CLIP score |",
           "|---" * (len(heads) + 6) + "|",
           "| real (ceiling) | " + " | ".join(f"{measured['ceiling'][h]:.3f}" for h in heads) + " | | | | | |"]
    for scale, row in measured["adherence"].items():
        q = measured["quality"].get(scale, {})
        out.append(f"| {float(scale):g} | " + " | ".join(f"{row[h]:.3f}" for h in heads)
                   + f" | {q.get('fid', '—')} | {q['kid'] * 1000:.1f} | {q.get('precision', '—')} | "
                   f"{q.get('recall', '—')} | {q.get('clip_score', '—')} |")
    return out + [""]


def render(card, files=()):
    """The README.md text of `card` (metadata.json as a dict); `files`: the preset's files."""
    name = card.get("name", "preset")
    dataset = card.get("dataset") or {}
    data = DATASETS.get(dataset.get("name"), {})
    task = task_of(card)
    description = card.get("description", "").strip()
    out = [_front_matter_text(front_matter(card)), f"# {name}", ""]
    out += [description + ".", ""] if description else []
    base = card.get("base_model") if is_derived(card) else None
    if base:
        out += [f"Trained further from `{base.get('name')}` (weights sha256 {str(base.get('sha256'))[:16]}...).", ""]
    if "sample.png" in files:
        out += [f"![{name} samples](sample.png)", ""]
    # a shipped name, unless the card's weights came from another preset (a fine-tune has its own name)
    shipped = (PRESETS_DIR / name / METADATA).is_file() and (not base or base.get("name") == name)
    load = (f'model = zoo.load("{name}")   # or a folder / hf://owner/repo / https:// address' if shipped else
            f'model = zoo.load("path/to/{name}")   # this folder (or hf://owner/repo, https://...)')
    out += ["## Use", "", "```python", "import zoo", "", load]
    out += list(task["usage"])
    out += ["```", ""]
    if task["cli_usage"]:
        out += [task["cli_usage"].format(name=name), ""]
    params = card.get("parameters") or {}
    out += ["## Training", "", "| | |", "|---|---|",
            f"| model | {card.get('class')}, {params.get('total', 0):,} parameters |",
            f"| data | {dataset.get('description', dataset.get('name'))} |",
            f"| recipe | `{card.get('recipe')}` |" if card.get("recipe") else
            "| recipe | none recorded (saved with `zoo.save_preset` from Python) |",
            f"| backend | {card.get('backend')} (the weights load on TensorFlow, JAX and PyTorch) |",
            "| epochs / steps / batch | " + " / ".join("—" if card.get(k) is None else str(card[k])
                                                    for k in ("epochs", "steps", "batch_size")) + " |",
            f"| wall time | {card['wall_time_s'] / 60:.0f} min |" if card.get("wall_time_s") is not None else
            "| wall time | not recorded |",
            f"| machine | {card.get('machine')} |",
            f"| Keras | {card.get('keras_version')} |", ""]
    if card.get("init"):
        before = card.get("init_training") or {}
        out.insert(-1, f"| started from | {card['init']}" + (
            f" ({before.get('epochs')} epochs, {before.get('steps')} steps, {(before.get('wall_time_s') or 0) / 60:.0f} "
            f"min before: {card.get('epochs', 0) + (before.get('epochs') or 0)} epochs in all)" if before else "") + " |")
    if card.get("measured_with"):
        out.insert(-1, f"| measured again with | `{card['measured_with']}` |")
    if card.get("devices", 1) != 1 or card.get("precision", "float32") != "float32":
        out.insert(-1, f"| devices / precision | {card.get('devices', 1)} (data-parallel) / "
                       f"{card.get('precision', 'float32')} |")
    rows = measured(card)
    if rows:
        out += ["## Measured", "", "| what | value |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows] + [""]
        if card.get("evaluation"):
            out += ["FID and friends come from zoo's own feature networks (`zoo eval`): they compare zoo's models "
                    "with each other, not with the Inception-v3 FIDs of papers.", ""]
    out += prompt_tables(card.get("prompt_measurements"))
    pictures = [(f, what) for f, what in PICTURES.items() if f in files and f != "sample.png"]
    if pictures:
        out += ["## Pictures", ""] + [f"![{what}]({f})" for f, what in pictures] + [""]
    out += ["## Data", "", f"{data.get('provenance', dataset.get('description', dataset.get('name')))}.",
            "", f"Terms: {data.get('terms', 'see the dataset')}.", ""]
    out += ["## Intended use and limits", "",
            "A small model for learning, research and fine-tuning on one machine; trained at low resolution "
            "within a CPU budget, so its samples are far from the state of the art. "
            + (task["limits"] or data.get("limits", "")),
            "", "Weights licence: " + _licence_words(card), ""]
    return "\n".join(out)


def _licence_words(card):
    licence = license_of(card)
    if licence == "other":
        known = DATASETS.get((card.get("dataset") or {}).get("name")) is not None
        why = "the data's terms above" if known else "the data's owner's terms, which zoo does not know"
        if is_derived(card) and card["base_model"].get("license") == "other":
            why += f", and those of `{card['base_model'].get('name')}`, which it was trained from"
        return f"research only, as {why}."
    return "MIT (zoo's licence)." if licence == "mit" else f"{licence}, as the data's terms above."


def summary(card, name=None, folder=None, markdown=False):
    """A card as a few readable lines (`zoo info`), or with `markdown` as the short Markdown the
    demo shows beside a model: what it is, its data and training, its best numbers."""
    name = name or card.get("name", "preset")
    params = (card.get("parameters") or {}).get("total", 0)
    wall = card.get("wall_time_s")
    dataset = dataset_entry(card.get("dataset", "unknown"))
    rows = measured(card, losses=False)
    if markdown:
        lines = [f"**{name}**: {card.get('description', '')}", "",
                 f"- data: {dataset['description']}",
                 f"- {card.get('class')}, {params:,} parameters; {card.get('epochs')} epochs, "
                 f"{card.get('steps') or 0:,} steps on {card.get('backend')}" + (f", {wall / 60:.0f} min" if wall else "")]
        return "\n".join(lines + [f"- {what}: **{value}**" for what, value in rows[:3]])
    lines = [f"{name}: {card.get('description', '')}",
             f"  family     {card.get('family')} ({card.get('class')}, {params:,} parameters)",
             f"  data       {dataset['description']}",
             f"  training   {card.get('epochs')} epochs, {card.get('steps') or 0:,} steps of batch "
             f"{card.get('batch_size')}, {card.get('backend')}" + (f", {wall / 60:.0f} min" if wall else "")
             + f" ({card.get('machine')})",
             f"  recipe     {card.get('recipe')}"]
    for i, (what, value) in enumerate(rows[:4]):
        lines.append(f"  {'measured' if i == 0 else '':10s} {what}: {value}")
    if len(rows) > 4:
        lines.append(f"  {'':10s} ... and {len(rows) - 4} more in its README.md")
    if folder is not None:
        lines.append(f"  folder     {folder}")
    if task_of(card)["cli_usage"]:
        lines.append(f"  more       README.md in the folder; zoo sample {name} --help (its options); "
                     f"zoo info {name} --json (the whole card)")
    return "\n".join(lines)


def write_card(directory):
    """Writes `directory`/README.md from its metadata.json, then records every file's sha256
    in the card's "files"."""
    directory = pathlib.Path(directory)
    card = read_card(directory)
    names = sorted(p.name for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
    atomic_write(directory / README, render(card, names))
    card["files"] = {n: sha256(directory / n) for n in sorted({*names, README}) if n != METADATA}
    write_metadata(directory, card)
    return directory / README


def parse_front_matter(text):
    """The YAML front matter of a model card as a dict (needs PyYAML)."""
    import yaml

    if not text.startswith("---\n"):
        raise ValueError("a model card starts with a '---' line of YAML front matter")
    end = text.index("\n---\n", 4)
    return yaml.safe_load(text[4:end])


PRESETS_DIR = pathlib.Path(__file__).resolve().parent / "presets"  # the shipped presets


if __name__ == "__main__":
    for folder in sorted(p.parent for p in PRESETS_DIR.glob(f"*/{METADATA}")):
        print("wrote", write_card(folder))
