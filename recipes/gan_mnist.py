"""Recipe for the `gan_mnist` preset: the MLP GAN of the seed articles on MNIST.

    python recipes/gan_mnist.py --out zoo/presets/gan_mnist        # what shipped
    python recipes/gan_mnist.py --epochs 2 --limit 2000            # a quick look
    zoo train gan_mnist --data my_digits/ --init gan_mnist         # fine-tune

Killed and started again with the same --workdir, it resumes from its last epoch.
"""

import sys

from zoo import harness


def main(argv=None):
    args = harness.parser("gan_mnist", __doc__, epochs=100, batch_size=64, data="mnist").parse_args(argv)
    harness.configure(args)
    from zoo import data
    from zoo.models.gan import GAN

    x = data.load_images(args.data, size=(28, 28), channels=1, limit=args.limit)
    model = harness.init_model(args, lambda: GAN(seed=args.seed))
    model.compile()
    z = model.sample_noise(64, seed=0)
    history = harness.fit(model, x, args, grid=lambda: model.decode(z))
    return harness.finish(
        model, args, "gan_mnist", history,
        dataset=harness.dataset(args.data, len(x), f"{args.data} ({len(x)} training images, 28x28 grayscale)",
                                image_size="28x28"),
        description="MLP GAN (Goodfellow et al. 2014) generating 28x28 MNIST digits from 100-d noise",
        pictures={"sample.png": model.generate(64, seed=0)})


if __name__ == "__main__":
    main(sys.argv[1:])
