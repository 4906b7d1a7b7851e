"""Recipe for the `wgan_gp_anime` preset: WGAN-GP drawing 64x64 anime faces.

    python recipes/wgan_gp_anime.py --out zoo/presets/wgan_gp_anime     # the full recipe
    python recipes/wgan_gp_anime.py --epochs 1 --limit 2000              # a quick look
    python recipes/wgan_gp_anime.py --init wgan_gp_anime --epochs 14 --keep-every 2 \
        --fid-curve 2000 --fid-reference dcgan_anime --precision mixed_bfloat16 \
        --workdir runs/wgan_more --out zoo/presets/wgan_gp_anime               # 14 epochs more

Each batch makes `--n-critic` critic updates and one generator update, so an epoch costs
about (n_critic + 1) / 2 times a DCGAN epoch of the same width. `--fid-curve N` measures the
FID and recall of N samples from the --init preset and every kept checkpoint (fid_curve.png;
`--fid-reference dcgan_anime` draws that preset's FID at the same N as a dashed line).
"""

import sys

from zoo import harness


def main(argv=None):
    p = harness.parser("wgan_gp_anime", __doc__, epochs=20, batch_size=64, data="anime_faces")
    p.add_argument("--width", type=harness.at_least(1), default=32)
    p.add_argument("--n-critic", type=harness.at_least(1), default=5)
    harness.add_fid_curve(p, "the generator")
    args = p.parse_args(argv)
    harness.configure(args)
    from zoo import data
    from zoo.models.wgan import WGANGP

    x = data.load_images(args.data, size=(64, 64), channels=3, limit=args.limit)
    model = harness.init_model(args, lambda: WGANGP(width=args.width, n_critic=args.n_critic, seed=args.seed))
    model.compile()
    z = model.sample_noise(64, seed=0)
    history = harness.fit(model, x, args, grid=lambda: model.decode(z))
    return harness.finish(
        model, args, "wgan_gp_anime", history,
        dataset=harness.dataset(args.data, len(x), f"{args.data} ({len(x)} training images, 64x64 RGB)", image_size="64x64"),
        description=f"WGAN-GP (Gulrajani et al. 2017), width {model.width}, n_critic {model.n_critic}, "
                    "64x64 anime faces",
        pictures={"sample.png": model.generate(64, seed=0)}, width=model.width,
        **harness.fid_curve(model, args))


if __name__ == "__main__":
    main(sys.argv[1:])
