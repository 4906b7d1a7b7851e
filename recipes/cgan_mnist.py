"""Recipe for the `cgan_mnist` preset: a conditional MLP GAN drawing the digit asked for.

    python recipes/cgan_mnist.py --out zoo/presets/cgan_mnist      # what shipped
    python recipes/cgan_mnist.py --epochs 2 --limit 5000            # a quick look

Needs labelled data: a keras-layout .npz (x_train, y_train, ...).
"""

import sys

import numpy as np

from zoo import harness


def main(argv=None):
    args = harness.parser("cgan_mnist", __doc__, epochs=50, batch_size=64, data="mnist").parse_args(argv)
    harness.configure(args)
    from zoo import data
    from zoo.models.cgan import CGAN

    d = data.load_npz(data.find(args.data))
    x, y = d["x_train"][..., None][:args.limit], d["y_train"][:args.limit]
    model = harness.init_model(args, lambda: CGAN(seed=args.seed))
    model.compile()
    z, rows = model.sample_noise(100, seed=0), np.repeat(np.arange(10), 10)
    history = harness.fit(model, x, args, y=y, grid=lambda: model.decode(z, rows))
    return harness.finish(
        model, args, "cgan_mnist", history,
        dataset=harness.dataset(args.data, len(x), f"{args.data} ({len(x)} labelled training images, 28x28 grayscale)",
                                image_size="28x28", labels=True),
        description="conditional MLP GAN (Mirza & Osindero 2014): MNIST digits of a chosen class",
        pictures={"sample.png": model.generate(labels=rows, seed=0)}, grid_rows="digits 0-9, one row each")


if __name__ == "__main__":
    main(sys.argv[1:])
