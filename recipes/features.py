"""Recipe for the feature networks that `zoo eval` measures images with:
features_digits (MNIST), features_clothing (Fashion-MNIST), features_anime (anime faces).

    python recipes/features.py --variant features_digits --out zoo/presets/features_digits
    python recipes/features.py --variant features_anime --epochs 1 --limit 5000   # a quick look

Each trains a small classifier (zoo/models/features.py) on the training split, measures
its accuracy on the held-out split (MNIST/Fashion-MNIST: the test set; anime faces: the
last 10% of the file, which the classifier never sees), and ships the reference
statistics of the held-out split: `reference_HxW.npz` with the mean and covariance of
its features (for FID) and the features themselves (float16, for KID and
precision/recall). features_anime also ships them for 32x32 images (real faces shrunk
to 32x32 the way a 32x32 model's samples are seen), so 32x32 models are compared with
real faces at their own resolution.
"""

import sys

import numpy as np

from zoo import harness

VARIANTS = {
    "features_digits": dict(data="mnist", heads={"digit": 10}, widths=(32, 64, 128), feature_dim=128,
                            epochs=4, sizes=(28,)),
    "features_clothing": dict(data="fashion_mnist", heads={"clothing": 10}, widths=(32, 64, 128),
                              feature_dim=128, epochs=8, sizes=(28,)),
    "features_anime": dict(data="anime_faces", heads={"hair": 12, "eye": 11}, widths=(32, 64, 128, 256),
                           feature_dim=256, rotation=True, epochs=6, sizes=(64, 32)),
}
CLASS_NAMES = {
    "digit": [str(i) for i in range(10)],
    "clothing": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                 "Bag", "Ankle boot"],
}


def main(argv=None):
    p = harness.parser("features", __doc__, epochs=None, batch_size=128, data=None)
    p.add_argument("--variant", choices=sorted(VARIANTS), default="features_digits")
    args = p.parse_args(argv)
    harness.configure(args)
    spec = dict(VARIANTS[args.variant])
    dataset, sizes = spec.pop("data"), spec.pop("sizes")
    epochs = spec.pop("epochs")
    args.epochs = args.epochs or epochs
    args.data = args.data or dataset
    if args.workdir == "runs/features":
        args.workdir = f"runs/{args.variant}"

    from zoo import data, evaluation, publish
    from zoo.images import resize
    from zoo.models.features import FeatureNet

    x, y, x_test, y_test, class_names = data.labelled_splits(args.data, args.limit)
    heads = spec.pop("heads")
    class_names = class_names or {h: CLASS_NAMES.get(h) for h in heads}
    model = harness.init_model(args, lambda: FeatureNet(
        image_shape=x.shape[1:], heads=heads, class_names=class_names, seed=args.seed,
        name=args.variant, **spec))
    import keras

    steps = args.epochs * -(-len(x) // args.batch_size)
    model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-3, steps)))
    history = harness.fit(model, x, args, y=y, validation_data=(x_test, y_test))

    accuracy = {h: round(a, 4) for h, a in model.accuracy(x_test, y_test).items()}
    print("held-out accuracy:", accuracy)
    preset = harness.finish(
        model, args, args.variant, history,
        dataset=harness.dataset(args.data, len(x), f"{args.data} ({len(x)} training images; {len(x_test)} held out)",
                                held_out=len(x_test)),
        description=(f"feature network for zoo eval: {'/'.join(model.heads)} classifier, "
                     f"{model.feature_dim}-d features"),
        pictures={}, heldout_accuracy=accuracy, heldout_images=int(len(x_test)),
        heldout_labelled=int((y_test[:, 0] >= 0).sum()), variant=args.variant)
    # Reference statistics of the held-out split, and the floor: FID/KID of as many
    # training images against them (real against real).
    floor = {}
    for size in sizes:
        ref = evaluation.write_reference(model, x_test, preset, size)
        rng = np.random.default_rng(0)
        real = x[rng.choice(len(x), min(len(x), len(x_test)), replace=False)]
        floor[f"{size}x{size}"] = evaluation.compare(model, resize(real, size), ref)
        print(f"real training images vs the held-out reference at {size}x{size}:", floor[f"{size}x{size}"])
    publish.update_card(preset, {"reference_sizes": [f"{s}x{s}" for s in sizes],
                                    "real_training_images_vs_reference": floor})
    return preset


if __name__ == "__main__":
    main(sys.argv[1:])
