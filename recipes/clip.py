"""Recipe for the contrastive text-image presets: clip_anime (anime faces and their hair/eye
colour tags) and clip_fashion (Fashion-MNIST and its class names).

    python recipes/clip.py --variant clip_anime --out zoo/presets/clip_anime
    python recipes/clip.py --variant clip_fashion --epochs 2 --limit 5000      # a quick look

Captions are drawn afresh every epoch from the labels (zoo/captions.py: templates, word
orders, one-tag captions), so the model sees every wording of a tag pair. Only tagged faces
train CLIP. Measured on the held-out split (anime: the last 10% of the file, as
features_anime; fashion: the test set):

* zero-shot accuracy from prompts: each held-out image's hair colour among the 12 prompts
  "X hair" and its eye colour among the 11 "Y eyes" (fashion: the class among "a NAME");
* caption retrieval: each image against the captions of every tag pair (anime: "X hair, Y
  eyes", 132; fashion: "a NAME", 10), top-1 and top-5 accuracy.
"""

import sys

import keras
import numpy as np

from zoo import harness

VARIANTS = {
    "clip_anime": dict(data="anime_faces", image_widths=(32, 64, 128, 256), embed_dim=128, text_width=128,
                       text_layers=2, text_heads=4, length=12, epochs=20, flip=True),
    "clip_fashion": dict(data="fashion_mnist", image_widths=(32, 64, 128), embed_dim=64, text_width=64,
                         text_layers=1, text_heads=2, length=8, epochs=4, flip=False),
}


def anime_task(x, y, names):
    from zoo import captions
    from zoo.text import WordTokenizer

    tagged = (y[:, 0] >= 0) & (y[:, 1] >= 0)
    x, y = x[tagged], y[tagged]
    hair_names, eye_names = names["hair"], names["eye"]

    def caption(index, seed):
        texts, named = captions.anime_captions(y[index, 0], y[index, 1], hair_names, eye_names, seed=seed,
                                               return_tags=True)
        return texts, np.concatenate([y[index], named], axis=1).astype("int32")

    vocabulary = WordTokenizer.from_texts(captions.anime_caption_space(hair_names, eye_names)).vocabulary[1:]
    prompts = {"hair": list(hair_names), "eye": list(eye_names)}
    pairs = [f"{h}, {e}" for h in hair_names for e in eye_names]
    return x, y, caption, vocabulary, prompts, pairs, lambda y_: y_[:, 0] * len(eye_names) + y_[:, 1]


def fashion_task(x, y):
    from zoo import captions
    from zoo.text import WordTokenizer

    y = y.reshape(-1)

    def caption(index, seed):
        return captions.class_captions(y[index], "fashion_mnist", seed=seed), y[index].astype("int32")

    vocabulary = WordTokenizer.from_texts(captions.class_caption_space("fashion_mnist")).vocabulary[1:]
    prompts = {"clothing": [f"a {name}" for name in captions.FASHION_NAMES]}
    return x, y, caption, vocabulary, prompts, prompts["clothing"], lambda y_: y_.reshape(-1)


def measure(model, x_test, y_test, prompts, pairs, pair_of):
    """Zero-shot accuracy per attribute, and caption retrieval top-1/top-5 over `pairs`."""
    out = {}
    for column, (attribute, texts) in enumerate(prompts.items()):
        truth = y_test[:, column] if y_test.ndim == 2 else y_test
        known = truth >= 0
        chosen = model.zero_shot(x_test[known], texts).argmax(axis=1)
        out[f"zero_shot_{attribute}_accuracy"] = round(float((chosen == truth[known]).mean()), 4)
    target = pair_of(y_test)
    known = target >= 0 if y_test.ndim == 1 else (y_test >= 0).all(axis=1)
    scores = model.score(x_test[known], pairs)
    rank = (scores > scores[np.arange(known.sum()), target[known]][:, None]).sum(axis=1)
    out["retrieval_top1"] = round(float((rank < 1).mean()), 4)
    out["retrieval_top5"] = round(float((rank < 5).mean()), 4)
    out["retrieval_candidates"] = len(pairs)
    out["heldout_images"] = int(known.sum())
    return out


def main(argv=None):
    p = harness.parser("clip", __doc__, epochs=None, batch_size=128, data=None)
    p.add_argument("--variant", choices=sorted(VARIANTS), default="clip_anime")
    p.add_argument("--lr", type=harness.POSITIVE, default=5e-4)
    args = p.parse_args(argv)
    harness.configure(args)
    spec = dict(VARIANTS[args.variant])
    dataset, epochs, flip = spec.pop("data"), spec.pop("epochs"), spec.pop("flip")
    args.epochs = args.epochs or epochs
    args.data = args.data or dataset
    if args.workdir == "runs/clip":
        args.workdir = f"runs/{args.variant}"

    from zoo import captions, data
    from zoo.models.clip import CLIP

    x, y, x_test, y_test, class_names = data.labelled_splits(args.data, args.limit)
    if class_names:
        x, y, caption, vocabulary, prompts, pairs, pair_of = anime_task(x, y, class_names)
    else:
        x, y, caption, vocabulary, prompts, pairs, pair_of = fashion_task(x, y)
        y_test = y_test.reshape(-1)
    length = spec.pop("length")
    model = harness.init_model(args, lambda: CLIP(vocabulary, length=length, image_shape=x.shape[1:],
                                                  seed=args.seed, name=args.variant, **spec))
    steps = args.epochs * (len(x) // args.batch_size)
    model.compile(keras.optimizers.AdamW(keras.optimizers.schedules.CosineDecay(args.lr, max(steps, 1)),
                                         weight_decay=0.1, clipnorm=1.0))
    batches = captions.CaptionedImages(x, caption, model.tokenizer, args.batch_size, seed=args.seed, flip=flip)
    history = harness.fit(model, batches, args)

    metrics = measure(model, x_test, y_test, prompts, pairs, pair_of)
    print("held-out measurements:", metrics)
    return harness.finish(
        model, args, args.variant, history,
        dataset=harness.dataset(args.data, len(x), f"{args.data}: {len(x)} captioned training images "
                                f"({x.shape[1]}x{x.shape[2]}); {len(x_test)} held out", held_out=len(x_test)),
        description=f"contrastive text-image model (CLIP) for {args.data}: prompts and images in one space",
        pictures={}, heldout=metrics, variant=args.variant, prompts=prompts)


if __name__ == "__main__":
    main(sys.argv[1:])
