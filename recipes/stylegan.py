"""Recipe for the `stylegan_anime` preset: StyleGAN2 drawing 32x32 anime faces.

    python recipes/stylegan.py --out zoo/presets/stylegan_anime              # what shipped (CPU)
    python recipes/stylegan.py --epochs 1 --limit 2000                        # a quick look
    python recipes/stylegan.py --size 64 --channel-base 8192 --channel-max 256 --epochs 60 \\
        --out zoo/presets/stylegan_anime_64                                    # bigger (GPU)
    zoo train stylegan_anime --data my_faces/ --init stylegan_anime --epochs 5   # fine-tune

R1's gamma defaults to stylegan2-ada's "auto" value 0.0002 * size^2 / batch. Writes the
preset with sample.png (psi 0.7), truncation.png (rows: seeds; columns: psi 0 ... 1),
mixing_coarse.png / mixing_middle.png / mixing_fine.png (the style-mixing figure) and
interpolation.png (rows: straight lines in w). Killed and started again with the same
--workdir, it resumes from its last epoch.
"""

import sys

import numpy as np

from zoo import harness


def main(argv=None):
    p = harness.parser("stylegan", __doc__, epochs=10, batch_size=32, data="anime_faces")
    p.add_argument("--size", type=harness.at_least(4), default=32, help="image side (a power of 2)")
    p.add_argument("--channel-base", type=harness.at_least(1), default=1024, help="channels at resolution r: base / r ...")
    p.add_argument("--channel-max", type=harness.at_least(1), default=128, help="... at most this many")
    p.add_argument("--gamma", type=harness.at_least(0, float), default=None, help="R1 weight (default 0.0002 * size^2 / batch)")
    p.add_argument("--name", default="stylegan_anime", help="the preset's name")
    args = p.parse_args(argv)
    harness.configure(args)
    from zoo import data, viz
    from zoo.images import resize
    from zoo.models.stylegan import StyleGAN

    x = data.load_images(args.data, size=(args.size, args.size), channels=3, limit=args.limit)
    if x.shape[1] != args.size:
        x = resize(x, args.size)
    gamma = args.gamma if args.gamma is not None else 0.0002 * args.size ** 2 / args.batch_size
    model = harness.init_model(args, lambda: StyleGAN(
        image_shape=(args.size, args.size, 3), channel_base=args.channel_base, channel_max=args.channel_max,
        r1_gamma=gamma, seed=args.seed))
    model.compile()
    z = model.sample_noise(64, seed=0)
    history = harness.fit(model, x, args, grid=lambda: model.decode(z))
    psis = np.linspace(0.0, 1.0, 9)
    truncation = np.stack([model.generate(8, seed=0, truncation_psi=float(psi)) for psi in psis], 1)
    preset = harness.finish(
        model, args, args.name, history,
        dataset=harness.dataset(args.data, len(x), f"{args.data} ({len(x)} training images, {args.size}x{args.size} "
                                f"RGB)", image_size=f"{args.size}x{args.size}"),
        description=f"StyleGAN2 (Karras et al. 2020) at small scale: {args.size}x{args.size} anime faces, mapping "
                    f"{model.mapping_layers} layers, channels {args.channel_base}/r up to {args.channel_max}, "
                    f"R1 gamma {gamma:g} every {model.loss_fn.interval} steps, style mixing {model.style_mixing}, "
                    f"EMA generator",
        pictures={"sample.png": model.generate(64, seed=0)},
        channel_base=args.channel_base, channel_max=args.channel_max, r1_gamma=gamma)
    viz.save_grid(truncation.reshape(-1, *model.image_shape), preset / "truncation.png", nrow=len(psis))
    for styles in model.style_layers():
        images, nrow = model.mixing_figure(range(1, 7), range(7, 12), styles)
        viz.save_grid(images, preset / f"mixing_{styles}.png", nrow=nrow)
    lines = np.concatenate([model.interpolate(2 * i, 2 * i + 1, steps=10, space="w") for i in range(8)])
    viz.save_grid(lines, preset / "interpolation.png", nrow=10)
    return preset


if __name__ == "__main__":
    main(sys.argv[1:])
