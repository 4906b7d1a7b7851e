"""Evaluating image models with FID, KID, precision/recall and an Inception-style score:
what `zoo eval NAME` runs.

    from zoo import evaluation
    result = evaluation.evaluate("dcgan_anime", num=10000)

Samples are embedded by a feature network: by default zoo's own, picked from the
dataset in the model's card (`card["dataset"]["name"]`, see `FEATURES`), and compared with the reference
statistics of the real held-out images shipped with that network
(`reference_HxW.npz` in its preset). `features="inception"` uses Keras' InceptionV3
with ImageNet weights instead (online users: Keras downloads them once) and computes
the reference from the dataset's held-out split.

Numbers from zoo's feature networks are comparable with each other (same network, same
reference), not with the Inception-v3 FIDs of papers.
"""

import pathlib
import time

import numpy as np

from zoo import metrics, publish, registry
from zoo.cards import cells, sampler_cell, settings_of, table_header, table_row
from zoo.errors import ZooError
from zoo.images import resize
from zoo.io import atomic_write

FEATURES = {"mnist": "features_digits", "fashion_mnist": "features_clothing",
            "anime_faces": "features_anime"}
KID_SUBSETS, KID_SUBSET_SIZE, PR_K = 100, 1000, 3
NOTE = ("computed with zoo's own feature network {features}: comparable between zoo's models, "
        "not with Inception-v3 FIDs in papers")


class EvaluationError(ZooError):
    pass


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
    preset = registry.Preset(features).path
    path = reference_path(preset, size)
    if not path.is_file():
        have = sorted(p.stem.split("_", 1)[1] for p in preset.glob("reference_*.npz"))
        raise EvaluationError(f"{features} has no reference statistics for {size}x{size} images "
                              f"(it has {', '.join(have) or 'none'}); run its recipe with that size")
    return load_reference_file(path)


# -- the feature networks ------------------------------------------------------------
def default_features(preset):
    """The feature network for a preset: the one trained on the dataset in its card."""
    name, dataset = preset.name, preset.dataset["name"]
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
    from zoo.tasks import FeatureExtractor

    if features == "inception":
        return Inception()
    net = registry.load(features)
    if not isinstance(net, FeatureExtractor):
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


def evaluate(name, num=10000, features=None, seed=0, model=None, size=None, **options):
    """Draws `num` samples from the preset `name` (seed `seed`; `options` are the model's
    sampling options, e.g. sampler/steps of a diffusion model) and measures them. The
    result records every sampling setting used, defaults included. `model`: the preset's
    model, if the caller has loaded it already. `size`: measure the samples resized to
    size x size (to compare models of two resolutions against one reference; recorded as
    `resized_to`)."""
    import keras

    from zoo.tasks import ImageGenerator, check_int

    num = check_int("num", num, 10)
    size = None if size is None else check_int("size", size, 8)
    preset = registry.Preset(name)
    model = preset.load() if model is None else model
    if not isinstance(model, ImageGenerator):
        raise EvaluationError(f"{name} does not generate images (a {preset.family} model); "
                              "zoo eval measures image generators")
    options = {**model.evaluation_options(num), **options}  # a conditional model: every class in turn
    settings = model.resolve_options(**options)
    classes = next((o for o in model.sampling_options() if o.kind == "labels"), None)  # a conditional model's
    labels = settings.get(classes.name) if classes is not None else None
    features = features or default_features(preset)
    net = feature_network(features)
    start = time.time()
    images = model.generate(num, seed=seed, **options)
    sampling_s = time.time() - start
    resized = size is not None and size != images.shape[1]
    if resized:
        images = resize(images, size)
    size = images.shape[1]
    if features == "inception":
        reference = inception_reference(net, preset, num, size)
        note = "InceptionV3 (ImageNet) features; reference: the dataset's held-out split"
    else:
        if images.shape[-1] != net.image_shape[-1]:
            raise EvaluationError(f"{features} embeds images with {net.image_shape[-1]} channel(s); "
                                  f"{name} draws {images.shape[-1]}")
        reference = load_reference(features, size)
        note = NOTE.format(features=features)
    if labels is not None and net.heads.get(net.label_heads[0]) != classes.high + 1:
        labels = None  # the classifier does not know these classes
    result = compare(net, images, reference, seed=seed, labels=labels)
    recorded = {k: v for k, v in settings.items() if v is not None and not isinstance(v, np.ndarray)}
    recorded.update({"resized_to": size} if resized else {})
    words = " ".join(w for w in (model.describe_settings(settings), f"resized to {size}×{size}" if resized else "") if w)
    return {"model": str(name), "features": features, **result, "seed": seed,
            "image_size": f"{images.shape[1]}x{images.shape[2]}", **recorded, "sampling": words,
            "backend": keras.backend.backend(), "sampling_s": round(sampling_s, 1),
            "total_s": round(time.time() - start, 1), "note": note}


def fid_curve(model, num, dataset, checkpoints, init=None, reference=None, drawn_with="", **options):
    """A card's `fid_curve` entry: the FID and recall of `num` images that
    `model.generate(num, seed=0, **options)` draws from the preset `init` (where given) and from
    each checkpoint in `checkpoints` ({epoch: weights file}; each in float32, as its preset
    would draw them after a mixed-precision training), epochs counted from the first training,
    and with `reference` that preset's FID at the same `num` (drawn with its own defaults).
    The model keeps the weights it has. `dataset` picks the feature network (FEATURES)."""
    features = FEATURES[dataset]
    net, real = feature_network(features), load_reference(features, model.image_shape[0])
    fid, recall = {}, {}

    def measure(key, m, **how):
        result = compare(net, m.generate(num, seed=0, progress=False, **how), real)
        fid[str(key)], recall[str(key)] = result["fid"], result["recall"]
        print(f"FID({num}) / recall at epoch {key}: {result['fid']} / {result['recall']}", flush=True)

    before = registry.info(init).get("epochs", 0) if init else 0
    if init:
        measure(before, registry.load(init), **options)
    trained = model.get_weights()
    for epoch, weights in checkpoints.items():
        model.load_weights(weights)
        measure(before + epoch, publish.float32_copy(model)[0], **options)  # as its preset would draw
    model.set_weights(trained)
    entry = {"num": num, "sampler": f"{drawn_with}, seed 0", "features": features, "fid": fid, "recall": recall}
    if reference:
        ref = registry.load(reference)
        entry["reference"] = {"preset": reference,
                              "fid": compare(net, ref.generate(num, seed=0, progress=False), real)["fid"]}
    return {"fid_curve": entry}


def inception_reference(net, preset, num, size):
    from zoo import data

    images = data.labelled_splits(preset.dataset["name"])[2]
    features = net.features(resize(images[:num], size))
    stats = metrics.FeatureStats().update(features)
    return {"mean": stats.mean, "cov": stats.cov, "features": features, "n": stats.n}


def result_key(result):
    """The card entry a result is stored under: features, sample count, sampling settings."""
    extra = [f"{k}={v}" for k, v in {"num": result["num"], **settings_of(result)}.items()]
    return " ".join([result["features"], *extra])


def cards_table(names=None):
    """A markdown table of the evaluation results stored in the cards of `names` (default:
    every shipped image model), one row per result."""
    results = []
    for name in names or registry.list_models():
        preset = registry.Preset(name)
        results += list(preset.card.get("evaluation", {}).values())
        for size, floor in preset.card.get("real_training_images_vs_reference", {}).items():
            results.append({**floor, "model": f"real {preset.dataset['name']} training images, {size}",
                            "features": name})
    results.sort(key=lambda r: (r["features"], r["fid"]))
    return "\n".join([table_header()] + [table_row(r) for r in results])


def sampler_table(names=None, backend="tensorflow"):
    """The speed/quality trade-off of the diffusion presets' samplers: per evaluation in
    their cards, the time to draw 64 samples with that sampler on `backend` (the card's
    `sampling_seconds_64`, keyed by the first word of a result's sampling, "ddim-50"; the
    other settings do not change the cost), its speed-up over the first sampler timed (the
    full-length one, DDPM), and the metrics. Rows with the same number of samples compare."""
    rows = ["| model | sampler | 64 samples, s | vs DDPM | samples | FID ↓ | KID ×1000 ↓ | precision ↑ | recall ↑ |",
            "|" + " --- |" * 9]
    for name in names or registry.list_models():
        card = registry.info(name)
        times = card.get("sampling_seconds_64", {}).get(backend)
        if not times:  # models with sampler timings in their cards (the diffusion models)
            continue
        order = list(times)  # as the recipe timed them: the full-length sampler first, the baseline
        timed = lambda r: sampler_cell(r).split(" ")[0]  # noqa: E731  ("ddim-50": the timings' key)
        results = sorted(card.get("evaluation", {}).values(),
                         key=lambda r: (-r["num"], order.index(timed(r)) if timed(r) in order else len(order),
                                        sampler_cell(r)))
        for r in results:
            row, seconds = cells(r), times.get(timed(r))
            rows.append("| " + " | ".join([
                row["model"], row["sampler"], f"{seconds:g}" if seconds else "—",
                f"{times[order[0]] / seconds:.0f}×" if seconds else "—",
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
    atomic_write(path, head + start + "\n" + table + "\n" + end + rest.split(end, 1)[1])


def main(argv=None):
    """python -m zoo.evaluation [--readme README.md]: the tables of the cards."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m zoo.evaluation", description=main.__doc__)
    p.add_argument("--readme", default=None, help="write the tables between the markers of this markdown file")
    args = p.parse_args(argv)
    tables = {"evaluation-table": cards_table(), "sampler-table": sampler_table()}
    print("\n\n".join(tables.values()))
    for marker, table in tables.items() if args.readme else ():
        write_into(args.readme, table, marker)


if __name__ == "__main__":
    main()
