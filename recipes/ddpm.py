"""Recipe for the diffusion presets: ddpm_mnist, ddpm_fashion, ddpm_anime.

    python recipes/ddpm.py --variant ddpm_mnist --out zoo/presets/ddpm_mnist     # what shipped
    python recipes/ddpm.py --variant ddpm_anime --epochs 1 --limit 2000           # a quick look
    python recipes/ddpm.py --variant ddpm_anime --widths 64 128 256 --blocks 2    # bigger (GPU)
    python recipes/ddpm.py --variant ddpm_mnist --init ddpm_mnist --epochs 15 --keep-every 3 --fid-curve 1000 \\
        --workdir runs/ddpm_mnist_20 --out zoo/presets/ddpm_mnist                # 15 epochs more
    zoo train ddpm_fashion --data my_clothes.npz --init ddpm_fashion --epochs 2   # fine-tune

Trains the UNet noise predictor (zoo/models/diffusion.py) with the DDPM objective, keeps
an EMA of its weights, saves a DDIM-20 grid from fixed noise every epoch (EMA weights),
and writes the preset with: sample.png (DDIM-50, the preset's eta), sample_ddpm.png (DDPM, all T steps),
denoising.png (x_T ... x_0 of 8 samples, rows) and the time to draw 64 samples with each
sampler on the backend that trained it. Killed and started again with the same
--workdir, it resumes from its last epoch. With `--fid-curve N`, the FID of N DDIM-50
samples from every checkpoint the run kept (`--keep-every`), and from the `--init` preset,
goes into the card with fid_curve.png, epochs counted from the first training
(`--fid-reference gan_mnist`: that preset's FID at the same N, a dashed line).
"""

import argparse
import sys
import time

import numpy as np

from zoo import harness

VARIANTS = {
    "ddpm_mnist": dict(data="mnist", size=28, channels=1, widths=(32, 64, 96), epochs=5),
    "ddpm_fashion": dict(data="fashion_mnist", size=28, channels=1, widths=(32, 64, 96), epochs=5),
    "ddpm_anime": dict(data="anime_faces", size=32, channels=3, widths=(32, 64, 128), epochs=8),
}
def main(argv=None):
    p = harness.parser("ddpm", __doc__, epochs=None, batch_size=64, data=None)
    p.add_argument("--variant", choices=sorted(VARIANTS), default="ddpm_mnist")
    p.add_argument("--widths", type=harness.at_least(1), nargs="+", default=None, help="UNet widths, one per resolution")
    p.add_argument("--blocks", type=harness.at_least(1), default=1, help="residual blocks per resolution")
    p.add_argument("--schedule", choices=("linear", "cosine"), default="linear")
    p.add_argument("--timesteps", type=harness.at_least(2), default=1000)
    p.add_argument("--ema-decay", type=harness.FRACTION, default=0.999)
    p.add_argument("--lr", type=harness.POSITIVE, default=1e-3)
    p.add_argument("--eta", type=harness.number(float, 0, 1), default=1.0,
                   help="DDIM eta stored in the preset: the one generate() uses when given none "
                        "(1: stochastic, as measured best for these short trainings; 0: deterministic)")
    p.add_argument("--clipped-eps", choices=("true", "false"), default="true",
                   help="DDIM's default: eps re-derived from the clipped x0 (true) or the network's (false)")
    p.add_argument("--ddpm-grid", action=argparse.BooleanOptionalAction, default=True,
                   help="draw sample_ddpm.png with the DDPM sampler (all T steps: most of a short run's time after "
                        "training; --no-ddpm-grid skips it)")
    harness.add_fid_curve(p, "DDIM-50 with the preset's eta")
    args = p.parse_args(argv)
    harness.configure(args)
    spec = VARIANTS[args.variant]
    args.data = args.data or spec["data"]
    args.epochs = args.epochs or spec["epochs"]
    if args.workdir == "runs/ddpm":
        args.workdir = f"runs/{args.variant}"

    import keras

    from zoo import data, system, viz
    from zoo.cards import write_card
    from zoo.core.model import to_uint8
    from zoo.models.diffusion import DiffusionModel

    size = (spec["size"], spec["size"])
    x = data.load_images(args.data, size=size, channels=spec["channels"], limit=args.limit)
    if x.shape[1:3] != size:  # e.g. the 64x64 anime faces for a 32x32 model
        from zoo.images import resize

        x = resize(x, spec["size"])
    widths = tuple(args.widths or spec["widths"])
    model = harness.init_model(args, lambda: DiffusionModel(
        image_shape=x.shape[1:], widths=widths, blocks=args.blocks, attention=(len(widths) - 1,),
        schedule=args.schedule, timesteps=args.timesteps, ema_decay=args.ema_decay, seed=args.seed,
        sampling_defaults={"eta": args.eta, "clipped_eps": args.clipped_eps == "true"},
        name=args.variant))
    model.compile(keras.optimizers.AdamW(args.lr, weight_decay=1e-4, clipnorm=1.0))
    noise = model.sample_noise(64, seed=0)
    history = harness.fit(model, x, args,
                           grid=lambda: to_uint8(model.denoise(noise, "ddim", min(20, model.timesteps))))
    curve = harness.fid_curve(model, args, sampler="ddim", steps=50)
    start = time.time()
    _, path = model.denoise(model.sample_noise(8, seed=1), "ddim", min(50, model.timesteps), chunks=10,
                            trajectory=True)
    strip = np.stack(path, axis=1).reshape(-1, *model.image_shape)  # 8 rows: x_T ... x_0
    pictures = {"sample.png": model.generate(64, seed=0, sampler="ddim", steps=min(50, model.timesteps))}
    if args.ddpm_grid:
        pictures["sample_ddpm.png"] = model.generate(64, seed=0, sampler="ddpm", steps=model.timesteps)
    times = model.sampling_times()
    print(f"sampling times, 64 images, {keras.backend.backend()}: {times} ({time.time() - start:.0f}s)")
    preset = harness.finish(
        model, args, args.variant, history,
        dataset=harness.dataset(args.data, len(x), f"{args.data} ({len(x)} training images, {size[0]}x{size[1]}"
                                f"{' RGB' if spec['channels'] == 3 else ' grayscale'})", image_size=f"{size[0]}x{size[1]}"),
        description=(f"DDPM (Ho et al. 2020), UNet widths {'/'.join(map(str, widths))}, "
                     f"{args.blocks} block(s) per resolution, {args.schedule} schedule, T={args.timesteps}, "
                     "EMA weights; DDPM and DDIM samplers"),
        pictures=pictures, variant=args.variant,
        sampling_seconds_64={keras.backend.backend(): times},
        sampling_machine={keras.backend.backend(): system.machine()},
        sampling_measured_by="recipes/ddpm.py after training (one batch of 64, after compiling)",
        pictures_drawn_with={"sample.png": f"DDIM-50 with the preset's eta ({model.default_of('eta'):g}), seed 0",
                             **({"sample_ddpm.png": "DDPM, all T steps, seed 0"} if args.ddpm_grid else {}),
                             "denoising.png": f"DDIM-50 with eta {model.default_of('eta'):g}, x_T left to x_0 right"},
        **curve)
    viz.save_grid(to_uint8(strip), preset / "denoising.png", nrow=len(path))
    write_card(preset)
    return preset


if __name__ == "__main__":
    main(sys.argv[1:])
