"""What StyleGAN training costs here: seconds per 1,000 training images (s/kimg) at 32x32
and 64x64, for the configurations a CPU recipe could train, on the running backend.

    KERAS_BACKEND=tensorflow python -m benchmarks.stylegan_cost            # writes results/stylegan_cost.{md,json}
    KERAS_BACKEND=jax python -m benchmarks.stylegan_cost --merge           # adds this backend's rows

Each configuration: after a fit of `--warmup` steps that compiles the step, a fit of
`--steps` steps and one of 3x as many (random uint8 images, batch 32); the time per step is
their difference over the extra steps, so a fit's fixed cost (its dataset, callbacks, the
guard's snapshot) drops out, and the lazy R1 step (every 16th) is in it in its share.
Figures are for the machine named in the table.
"""

import argparse
import json
import pathlib
import time

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
CONFIGS = [  # (size, channel_base, channel_max): channels at resolution r = min(base / r, max)
    (32, 1024, 128),   # what stylegan_anime ships
    (32, 2048, 256),
    (64, 2048, 128),   # the same channels per resolution, one more resolution
]


def measure(size, base, most, steps, warmup, batch=32):
    import keras
    import numpy as np

    from zoo.models.stylegan import StyleGAN

    model = StyleGAN(image_shape=(size, size, 3), channel_base=base, channel_max=most, seed=0)
    model.compile()
    x = np.random.default_rng(0).integers(0, 256, (batch * max(3 * steps, warmup), size, size, 3), dtype=np.uint8)
    model.fit(x[:batch * warmup], batch_size=batch, epochs=1, verbose=0)
    times = []
    for n in (steps, 3 * steps):
        start = time.perf_counter()
        model.fit(x[:batch * n], batch_size=batch, epochs=1, verbose=0)
        times.append(time.perf_counter() - start)
    seconds = (times[1] - times[0]) / (2 * steps)
    return {"backend": keras.backend.backend(), "size": size, "channel_base": base, "channel_max": most,
            "generator_params": model.generator.count_params(),
            "discriminator_params": model.discriminator.count_params(),
            "step_s": round(seconds, 3), "s_per_kimg": round(seconds / batch * 1000, 1),
            "kimg_per_hour": round(3600 / (seconds / batch * 1000), 1)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=16)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--merge", action="store_true", help="keep the other backends' rows")
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)
    import keras

    from zoo.system import machine

    out = pathlib.Path(args.out)
    rows = []
    if args.merge and (out / "stylegan_cost.json").exists():
        rows = [r for r in json.loads((out / "stylegan_cost.json").read_text())["results"]
                if r["backend"] != keras.backend.backend()]
    for size, base, most in CONFIGS:
        row = measure(size, base, most, args.steps, args.warmup)
        print(json.dumps(row), flush=True)
        rows.append(row)
    report = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "steps": args.steps, "results": rows}
    out.mkdir(parents=True, exist_ok=True)
    (out / "stylegan_cost.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [f"# StyleGAN training cost ({report['date']})", "", f"Machine: {report['machine']}", "",
             "| backend | size | channels (base/r, max) | G / D params | s per step (batch 32) | s per kimg | "
             "kimg per hour |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['backend']} | {r['size']}×{r['size']} | {r['channel_base']}/r, {r['channel_max']} | "
                     f"{r['generator_params'] / 1e6:.2f} M / {r['discriminator_params'] / 1e6:.2f} M | {r['step_s']} | "
                     f"{r['s_per_kimg']} | {r['kimg_per_hour']} |")
    (out / "stylegan_cost.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
