"""Model cards: a preset's README.md, for people, in the Hugging Face model-card format (YAML
front matter, then Markdown), written from its metadata.json.

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

from zoo.runs import atomic_write, atomic_write_json, sha256

README, METADATA = "README.md", "metadata.json"

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
                 "weights trained on it are for research and education only"},
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

PIPELINES = {"gan": "unconditional-image-generation", "vae": "unconditional-image-generation",
             "diffusion": "unconditional-image-generation", "text": "text-generation",
             "features": "image-feature-extraction", "clip": "zero-shot-image-classification",
             "text-to-image": "text-to-image"}

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


def front_matter(card):
    """The YAML front matter's fields, as a dict."""
    dataset = card.get("dataset") or {}
    data = DATASETS.get(dataset.get("name"), {})
    family = card.get("family")
    conditional = card.get("class") in ("CGAN",) or "label" in card.get("description", "")
    pipeline = PIPELINES.get(family, "other")
    if family == "text":
        tags = ["keras", "zoo", "text-generation", "character-level", "gpt"]
    elif family == "features":
        tags = ["keras", "zoo", "feature-extraction", "image-classification"]
    elif family == "clip":
        tags = ["keras", "zoo", "zero-shot-image-classification", "image-text-retrieval"]
    elif family == "text-to-image":
        tags = ["keras", "zoo", "text-to-image", "diffusion"]
    else:
        tags = ["keras", "zoo", "image-generation", family]
        if conditional:
            pipeline = "image-generation"
    fields = {
        "library_name": "keras",
        "license": data.get("license", "mit"),
        "pipeline_tag": pipeline,
        "tags": list(dict.fromkeys(tags + [str(card.get("class", "")).lower()])),  # vae/VAE once
        "datasets": [data["hub"]] if data.get("hub") else [],
    }
    if fields["license"] == "other":
        fields["license_name"] = "research-only"
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
    from zoo import evaluation

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
        cell = evaluation.cells(result)
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
    family = card.get("family")
    out = [_front_matter_text(front_matter(card)), f"# {name}", "", card.get("description", "").strip() + ".", ""]
    if "sample.png" in files:
        out += [f"![{name} samples](sample.png)", ""]
    out += ["## Use", "", "```python", "import zoo", "", f'model = zoo.load("{name}")   # or a folder / '
            'hf://owner/repo / https:// address']
    if family == "text":
        out += ['print(model.generate("\\n", seed=0))']
    elif family == "features":
        out += ["features = model.features(images)   # uint8 (N, H, W, C)"]
    elif family == "clip":
        prompts = ", ".join(f'"{p}"' for p in [t for ts in (card.get("prompts") or {}).values() for t in ts][:2])
        out += [f"scores = model.score(images, [{prompts}])   # images uint8 (N, H, W, C) -> (N, 2)",
                f"probabilities = model.zero_shot(images, [{prompts}])"]
    elif family == "text-to-image":
        example = (card.get("example_prompt") or "")
        negative = card.get("example_negative_prompt") or ""
        out += [f'images = model.generate("{example}", num=16, guidance_scale=3, seed=0)   # uint8 (16, H, W, C)',
                f'images = model.generate({{"prompts": "{example}", "negative_prompts": "{negative}"}}, num=4)']
    elif family is not None:
        out += ["images = model.generate(16, seed=0)   # uint8 (16, H, W, C)"]
    out += ["```", ""]
    if family == "clip":
        out += [f"or `zoo sample {name} --images DIR --prompts PROMPT ...`, which prints the scores.", ""]
    elif family not in ("features", None):
        out += [f"or `zoo sample {name}` (`zoo sample {name} --help` lists its options). Fine-tune it with "
                "`model.fit` after `zoo.load(..., compile=True)`.", ""]
    params = card.get("parameters") or {}
    out += ["## Training", "", "| | |", "|---|---|",
            f"| model | {card.get('class')}, {params.get('total', 0):,} parameters |",
            f"| data | {dataset.get('description', dataset.get('name'))} |",
            f"| recipe | `{card.get('recipe')}` |",
            f"| backend | {card.get('backend')} (the weights load on TensorFlow, JAX and PyTorch) |",
            f"| epochs / steps / batch | {card.get('epochs')} / {card.get('steps')} / {card.get('batch_size')} |",
            f"| wall time | {card.get('wall_time_s', 0) / 60:.0f} min |",
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
            + ("Its text imitates its corpus and can be wrong, archaic or offensive; it knows nothing beyond it. "
               if family == "text" else
               "It reproduces its training data's biases (for the anime faces: one drawing style, mostly "
               "young female characters); it is not meant for images of real people. "
               if dataset.get("name") == "anime_faces" else ""),
            "", "Weights licence: "
            + ("research only, as the data's terms above." if front_matter(card)["license"] == "other"
               else "MIT (zoo's licence)."), ""]
    return "\n".join(out)


def write_card(directory):
    """Writes `directory`/README.md from its metadata.json, then records every file's sha256
    in the card's "files"."""
    directory = pathlib.Path(directory)
    card = json.loads((directory / METADATA).read_text(encoding="utf-8"))
    names = sorted(p.name for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
    atomic_write(directory / README, render(card, names))
    card["files"] = {n: sha256(directory / n) for n in sorted({*names, README}) if n != METADATA}
    atomic_write_json(directory / METADATA, card)
    return directory / README


def parse_front_matter(text):
    """The YAML front matter of a model card as a dict (needs PyYAML)."""
    import yaml

    if not text.startswith("---\n"):
        raise ValueError("a model card starts with a '---' line of YAML front matter")
    end = text.index("\n---\n", 4)
    return yaml.safe_load(text[4:end])


if __name__ == "__main__":
    from zoo.registry import PRESETS_DIR

    for folder in sorted(p.parent for p in PRESETS_DIR.glob(f"*/{METADATA}")):
        print("wrote", write_card(folder))
