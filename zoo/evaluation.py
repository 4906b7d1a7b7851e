"""Evaluating image models with FID, KID, precision/recall and an Inception-style score:
what `zoo eval NAME` runs.

    from zoo import evaluation
    result = evaluation.evaluate("dcgan_anime", num=10000)

Samples are embedded by a feature network: by default zoo's own, picked from the
dataset named in the model's card (`FEATURES`), and compared with the reference
statistics of the real held-out images shipped with that network
(`reference_HxW.npz` in its preset). `features="inception"` uses Keras' InceptionV3
with ImageNet weights instead (online users: Keras downloads them once) and computes
the reference from the dataset's held-out split.

Numbers from zoo's feature networks are comparable with each other (same network, same
reference), not with the Inception-v3 FIDs of papers.
"""

import json
import pathlib
import time

import numpy as np

from zoo import metrics, registry
from zoo.errors import ZooError

FEATURES = {"mnist": "features_digits", "fashion_mnist": "features_clothing",
            "anime_faces": "features_anime"}
KID_SUBSETS, KID_SUBSET_SIZE, PR_K = 100, 1000, 3
NOTE = ("computed with zoo's own feature network {features}: comparable between zoo's models, "
        "not with Inception-v3 FIDs in papers")


class EvaluationError(ZooError):
    pass


# -- images --------------------------------------------------------------------------
def resize(images, size):
    """uint8 images (N, H, W, C) at size x size (bilinear, antialiased), uint8."""
    import keras

    images = np.asarray(images)
    if images.shape[1:3] == (size, size):
        return images
    out = [keras.ops.convert_to_numpy(keras.ops.image.resize(
        images[i:i + 1000].astype("float32"), (size, size), "bilinear", antialias=True))
        for i in range(0, len(images), 1000)]
    return np.clip(np.rint(np.concatenate(out)), 0, 255).astype(np.uint8)


# -- references ----------------------------------------------------------------------
def reference_path(preset, size):
    return pathlib.Path(preset) / f"reference_{size}x{size}.npz"


def write_reference(net, images, preset, size):
    """Embeds real held-out `images` (shrunk to `size` first, as a model of that size would
    draw them) and writes their statistics next to the feature network's preset."""
    features = net.features(resize(images, size))
    stats = metrics.FeatureStats().update(features)
    path = reference_path(preset, size)
    np.savez_compressed(path, n=stats.n, mean=stats.mean, cov=stats.cov, features=features.astype("float16"))
    return load_reference_file(path)


def load_reference_file(path):
    try:
        with np.load(path, allow_pickle=False) as f:
            return {"n": int(f["n"]), "mean": f["mean"], "cov": f["cov"],
                    "features": f["features"].astype("float32")}
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001
        raise EvaluationError(f"reference statistics {path} are unreadable: {e}") from None


def load_reference(features, size):
    preset = registry.preset_path(features)
    path = reference_path(preset, size)
    if not path.is_file():
        have = sorted(p.stem.split("_", 1)[1] for p in preset.glob("reference_*.npz"))
        raise EvaluationError(f"{features} has no reference statistics for {size}x{size} images "
                              f"(it has {', '.join(have) or 'none'}); run its recipe with that size")
    return load_reference_file(path)


# -- the feature networks ------------------------------------------------------------
def default_features(name):
    """The feature network for a preset: the one trained on the dataset in its card."""
    dataset = str(registry.info(name).get("dataset", "")).split(" ")[0]
    if dataset not in FEATURES:
        raise EvaluationError(f"no zoo feature network for {name}'s dataset {dataset!r} (known: "
                              f"{', '.join(FEATURES)}); pass --features NAME or --features inception")
    return FEATURES[dataset]


class Inception:
    """InceptionV3 (ImageNet) pool features (2048-d) and class probabilities, as a feature
    network; Keras downloads its weights once (online) into ~/.keras/models."""

    name = "inception"
    label_heads = ["imagenet"]

    def __init__(self):
        import keras

        try:
            base = keras.applications.InceptionV3(weights="imagenet", include_top=True)
        except Exception as e:  # noqa: BLE001  (urllib/HTTP/OS errors when offline)
            raise EvaluationError(
                "--features inception needs Keras' InceptionV3 ImageNet weights, downloaded on first "
                f"use into ~/.keras/models; they could not be loaded ({type(e).__name__}: {e}). "
                "Offline, use zoo's own feature networks (the default, or --features "
                f"{'/'.join(FEATURES.values())})") from None
        self.model = keras.Model(base.input, [base.get_layer("avg_pool").output, base.output])

    def embed(self, images, batch_size=50):
        import keras

        features, probs = [], []
        for i in range(0, len(images), batch_size):
            x = np.asarray(images[i:i + batch_size], "float32")
            x = np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x
            x = keras.ops.image.resize(x, (299, 299), "bilinear") / 127.5 - 1.0
            f, p = self.model(x, training=False)
            features.append(keras.ops.convert_to_numpy(f))
            probs.append(keras.ops.convert_to_numpy(p))
        return np.concatenate(features), {"imagenet": np.concatenate(probs)}

    def features(self, images):
        return self.embed(images)[0]


def feature_network(features):
    if features == "inception":
        return Inception()
    net = registry.load(features)
    if getattr(net, "family", None) != "features":
        raise EvaluationError(f"{features} is not a feature network (zoo list --family features)")
    return net


# -- measuring -----------------------------------------------------------------------
def compare(net, images, reference, seed=0, labels=None):
    """FID, KID, precision/recall and Inception-style score of uint8 `images` against a
    reference ({"mean", "cov", "features"}), with the feature network `net`; given the
    `labels` a conditional model was asked for, also the share its classifier reads back."""
    fake, probs = net.embed(images)
    real = reference["features"]
    m = min(len(real), len(fake))
    rng = np.random.default_rng(seed)
    kid, kid_std = metrics.kernel_distance(fake, real, KID_SUBSETS, KID_SUBSET_SIZE, seed=seed)
    precision, recall = metrics.precision_recall(real[rng.choice(len(real), m, replace=False)],
                                                 fake[rng.choice(len(fake), m, replace=False)], k=PR_K)
    head = net.label_heads[0]
    score, score_std = metrics.inception_score(probs[head])
    return {"fid": round(metrics.frechet_distance(fake, (reference["mean"], reference["cov"])), 3),
            "kid": round(kid, 5), "kid_std": round(kid_std, 5),
            "precision": round(precision, 4), "recall": round(recall, 4),
            "inception_score": round(score, 3), "inception_score_std": round(score_std, 3),
            "inception_score_head": head, "num": int(len(images)), "num_reference": int(len(real)),
            **({"label_accuracy": round(float((probs[head].argmax(1) == labels).mean()), 4)}
               if labels is not None else {})}


def evaluate(name, num=10000, features=None, seed=0, **generate_kwargs):
    """Draws `num` samples from the preset `name` (seed `seed`; `generate_kwargs` go to
    `model.generate`, e.g. sampler/steps of a diffusion model) and measures them."""
    import keras

    if num < 10:
        raise EvaluationError(f"--num must be at least 10; got {num}")
    model = registry.load(name)
    if getattr(model, "family", None) in ("text", "features"):
        raise EvaluationError(f"{name} is a {model.family} model; zoo eval measures image models")
    if model.family == "diffusion":  # record the sampler settings in full
        sampler = generate_kwargs.get("sampler", "ddim")
        eta = model.eta if generate_kwargs.get("eta") is None else float(generate_kwargs["eta"])
        steps = len(model.schedule_for(sampler, generate_kwargs.get("steps"), eta)[0])
        generate_kwargs = {"sampler": sampler, "steps": steps, **({"eta": eta} if sampler == "ddim" else {})}
    features = features or default_features(name)
    net = feature_network(features)
    start = time.time()
    labels = None
    if getattr(model, "num_classes", None):  # conditional: every class in turn
        labels = np.arange(num) % model.num_classes
        generate_kwargs = {**generate_kwargs, "labels": labels}
    images = model.generate(num, seed=seed, **generate_kwargs)
    generate_kwargs.pop("labels", None)
    sampling_s = time.time() - start
    size = images.shape[1]
    if features == "inception":
        reference = inception_reference(net, name, num, size)
        note = "InceptionV3 (ImageNet) features; reference: the dataset's held-out split"
    else:
        if images.shape[-1] != net.image_shape[-1]:
            raise EvaluationError(f"{features} embeds images with {net.image_shape[-1]} channel(s); "
                                  f"{name} draws {images.shape[-1]}")
        reference = load_reference(features, size)
        note = NOTE.format(features=features)
    if labels is not None and net.heads.get(net.label_heads[0]) != model.num_classes:
        labels = None  # the classifier does not know these classes
    result = compare(net, images, reference, seed=seed, labels=labels)
    return {"model": str(name), "features": features, **result, "seed": seed,
            "image_size": f"{images.shape[1]}x{images.shape[2]}", **generate_kwargs,
            "backend": keras.backend.backend(), "sampling_s": round(sampling_s, 1),
            "total_s": round(time.time() - start, 1), "note": note}


def inception_reference(net, name, num, size):
    from zoo import data

    dataset = str(registry.info(name).get("dataset", "")).split(" ")[0]
    images = data.labelled_splits(dataset)[2]
    features = net.features(resize(images[:num], size))
    stats = metrics.FeatureStats().update(features)
    return {"mean": stats.mean, "cov": stats.cov, "features": features, "n": stats.n}


def result_key(result):
    """The card entry a result is stored under: features, sample count, sampler settings."""
    extra = [f"{k}={result[k]}" for k in ("num", "sampler", "steps", "eta") if k in result]
    return " ".join([result["features"], *extra])


def update_card(preset, entries):
    """Merges `entries` into a preset's metadata.json (the weights and their sha256 are
    untouched)."""
    path = registry.preset_path(preset) / registry.METADATA
    meta = json.loads(path.read_text(encoding="utf-8"))
    for key, value in entries.items():
        if isinstance(value, dict) and isinstance(meta.get(key), dict):
            meta[key] = {**meta[key], **value}
        else:
            meta[key] = value
    path.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


COLUMNS = {"model": "model", "sampler": "sampler", "features": "features", "num": "samples", "fid": "FID ↓",
           "kid": "KID ×1000 ↓", "precision": "precision ↑", "recall": "recall ↑", "inception_score": "IS ↑"}


def cells(result):
    """A result's table cells, by COLUMNS key."""
    model = result["model"]
    return {"model": model if model.startswith("real ") else f"`{model}`", "features": result["features"],
            "num": f"{result['num']:,}",
            "sampler": (f"{result['sampler']}-{result['steps']}" + (f" η={result['eta']:g}" if "eta" in result else "")
                        if "sampler" in result else "—"),
            "fid": f"{result['fid']:.2f}", "kid": f"{result['kid'] * 1000:.1f} ± {result['kid_std'] * 1000:.1f}",
            "precision": f"{result['precision']:.3f}", "recall": f"{result['recall']:.3f}",
            "inception_score": f"{result['inception_score']:.2f}"}


def table_row(result):
    row = cells(result)
    return "| " + " | ".join(row[c] for c in COLUMNS) + " |"


def table_header():
    return "| " + " | ".join(COLUMNS.values()) + " |\n|" + " --- |" * len(COLUMNS)


def cards_table(names=None):
    """A markdown table of the evaluation results stored in the cards of `names` (default:
    every shipped image model), one row per result."""
    results = []
    for name in names or registry.list_models():
        card = registry.info(name)
        results += list(card.get("evaluation", {}).values())
        for size, floor in card.get("real_training_images_vs_reference", {}).items():
            dataset = str(card.get("dataset", "")).split(" ")[0]
            results.append({**floor, "model": f"real {dataset} training images, {size}", "features": name})
    results.sort(key=lambda r: (r["features"], r["fid"]))
    return "\n".join([table_header()] + [table_row(r) for r in results])


def sampler_table(names=None, backend="tensorflow"):
    """The speed/quality trade-off of the diffusion presets' samplers: per evaluation in
    their cards, the time to draw 64 samples with that sampler on `backend` (the card's
    `sampling_seconds_64`; eta does not change the cost), its speed-up over DDPM, and the
    metrics. Rows with the same number of samples compare."""
    rows = ["| model | sampler | 64 samples, s | vs DDPM | samples | FID ↓ | KID ×1000 ↓ | precision ↑ | recall ↑ |",
            "|" + " --- |" * 9]
    for name in names or registry.list_models():
        card = registry.info(name)
        times = card.get("sampling_seconds_64", {}).get(backend)
        if card.get("family") != "diffusion" or not times:
            continue
        ddpm = next((s for k, s in times.items() if k.startswith("ddpm")), None)
        results = sorted(card.get("evaluation", {}).values(),
                         key=lambda r: (-r["num"], r["sampler"] != "ddpm", -r["steps"], r.get("eta", 1.0)))
        for r in results:
            row, seconds = cells(r), times.get(f"{r['sampler']}-{r['steps']}")
            rows.append("| " + " | ".join([
                row["model"], row["sampler"], f"{seconds:g}" if seconds else "—",
                f"{ddpm / seconds:.0f}×" if seconds and ddpm else "—",
                *(row[c] for c in ("num", "fid", "kid", "precision", "recall"))]) + " |")
    return "\n".join(rows)


def write_into(path, table, marker="evaluation-table"):
    """Puts `table` between the <!-- marker --> ... <!-- /marker --> lines of a markdown file."""
    path = pathlib.Path(path)
    text = path.read_text(encoding="utf-8")
    start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    if start not in text or end not in text:
        raise EvaluationError(f"{path} lacks the markers {start} ... {end}")
    head, rest = text.split(start, 1)
    path.write_text(head + start + "\n" + table + "\n" + end + rest.split(end, 1)[1], encoding="utf-8")


if __name__ == "__main__":  # python -m zoo.evaluation [--readme README.md]: the tables of the cards
    import sys

    tables = {"evaluation-table": cards_table(), "sampler-table": sampler_table()}
    print("\n\n".join(tables.values()))
    if sys.argv[1:2] == ["--readme"]:
        for marker, table in tables.items():
            write_into(sys.argv[2], table, marker)
