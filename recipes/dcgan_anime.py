"""Recipe for the `dcgan_anime` preset: a DCGAN drawing 64x64 anime faces.

    python recipes/dcgan_anime.py --out zoo/presets/dcgan_anime     # what shipped (width 32)
    python recipes/dcgan_anime.py --width 64 --epochs 25            # the paper's width (GPU)
    zoo train dcgan_anime --data my_faces/ --init dcgan_anime --epochs 5   # fine-tune on a folder

A folder of images of any size is resized to 64x64; unreadable files are skipped with a
warning. Killed and started again with the same --workdir, it resumes from its last epoch.
"""

import sys

import numpy as np

from zoo import harness


def main(argv=None):
    p = harness.parser("dcgan_anime", __doc__, epochs=25, batch_size=64, data="anime_faces")
    p.add_argument("--width", type=harness.at_least(1), default=32, help="channels of the widest-resolution layer")
    p.add_argument("--label-smoothing", type=harness.FRACTION, default=0.1, help="D aims at 1 - s on real images")
    args = p.parse_args(argv)
    harness.configure(args)
    from zoo import data
    from zoo.models.dcgan import DCGAN

    x = data.load_images(args.data, size=(64, 64), channels=3, limit=args.limit)
    model = harness.init_model(args, lambda: DCGAN(width=args.width, seed=args.seed,
                                                         label_smoothing=args.label_smoothing))
    model.compile()
    z = model.sample_noise(64, seed=0)
    history = harness.fit(model, x, args, grid=lambda: model.decode(z))
    # Interpolation strips: 8 rows, each a straight line between two latent vectors.
    ends = model.sample_noise(16, seed=1).reshape(8, 2, -1)
    t = np.linspace(0.0, 1.0, 10, dtype="float32")[None, :, None]
    lines = ((1 - t) * ends[:, :1] + t * ends[:, 1:]).reshape(-1, model.latent_dim)
    preset = harness.finish(
        model, args, "dcgan_anime", history,
        dataset=harness.dataset(args.data, len(x), f"{args.data} ({len(x)} training images, 64x64 RGB)", image_size="64x64"),
        description=f"DCGAN (Radford et al. 2016), width {model.width}, 64x64 anime faces from 100-d noise",
        pictures={"sample.png": model.generate(64, seed=0)}, width=model.width)
    from zoo import viz

    viz.save_grid(model.decode(lines), preset / "interpolation.png", nrow=10)
    return preset


if __name__ == "__main__":
    main(sys.argv[1:])
