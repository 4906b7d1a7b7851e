"""Diffusion sampling speed on each backend: the time to draw 64 samples with DDPM (all T
steps) and DDIM-50/20/10, and what the compiled loop saves over one call per step.

    python -m benchmarks.sampling ddpm_mnist                    # all three backends
    python -m benchmarks.sampling ddpm_mnist --backends torch --update-card

Each backend runs in its own process on the shipped preset. Every figure is the time of
one `generate(64)` call (one batch) after the same call's compiled loop has been built
(by running its first chunk). "Per-call overhead" compares DDIM-50 run as 50 separate
compiled calls of one step each with DDIM-50 in one compiled call: the difference is the
Python/dispatch cost per step that chunking removes. Results go to
benchmarks/results/sampling_NAME.{md,json} (sampling_NAME_BACKEND... when not all three
backends ran) and, with --update-card, into the preset's card (`sampling_seconds_64`, with
the machine that measured them).
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
BACKENDS = ("tensorflow", "jax", "torch")


def worker(name, num):
    import keras

    import zoo

    model = zoo.load(name)
    x_T = model.sample_noise(num, seed=0)
    times = model.sampling_times(num)
    calls = {}
    for chunks in (50, 1):  # 50 calls of one step, one call of 50 steps
        model.denoise(x_T, "ddim", 50, chunks=chunks, stop_after=1)
        start = time.perf_counter()
        model.denoise(x_T, "ddim", 50, chunks=chunks)
        calls[chunks] = time.perf_counter() - start
    out = {"backend": keras.backend.backend(), "seconds_64": times,
           "ddpm_over_ddim50": round(times[f"ddpm-{model.timesteps}"] / times["ddim-50"], 1),
           "ddim50_one_call_per_step_s": round(calls[50], 2), "ddim50_one_call_s": round(calls[1], 2),
           "overhead_per_step_ms": round(1000 * (calls[50] - calls[1]) / 50, 1)}
    print("RESULT " + json.dumps(out))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("name")
    p.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    p.add_argument("--num", type=int, default=64)
    p.add_argument("--update-card", action="store_true")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.name, args.num)
    results = []
    for backend in args.backends:
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
        proc = subprocess.run([sys.executable, "-m", "benchmarks.sampling", args.name, "--worker", "--num", str(args.num)],
                              env=env, capture_output=True, text=True, cwd=ROOT)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if not lines:
            raise SystemExit(f"{backend} failed:\n{proc.stderr[-2000:]}")
        results.append(json.loads(lines[0][7:]))
        print(json.dumps(results[-1]), flush=True)
    from zoo.system import machine

    keys = list(results[0]["seconds_64"])  # samplers and steps, as DiffusionModel.timed_samplers lists them
    lines = [f"# Sampling {args.num} images from {args.name}", "", f"Machine: {machine()}", "",
             "| backend | " + " | ".join(f"{k} s" for k in keys) + " | DDPM / DDIM-50 | "
             "DDIM-50: 50 calls s | one call s | overhead per step ms |",
             "|---" * (len(keys) + 5) + "|"]
    for r in results:
        lines.append(f"| {r['backend']} | " + " | ".join(str(r["seconds_64"][k]) for k in keys)
                     + f" | {r['ddpm_over_ddim50']}× | {r['ddim50_one_call_per_step_s']} | "
                       f"{r['ddim50_one_call_s']} | {r['overhead_per_step_ms']} |")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stem = f"sampling_{args.name}" + ("" if set(args.backends) == set(BACKENDS) else "_" + "_".join(args.backends))
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    (out / f"{stem}.json").write_text(json.dumps({"machine": machine(), "results": results}, indent=2))
    print("\n".join(lines))
    if args.update_card:
        from zoo.publish import update_card

        update_card(args.name, {"sampling_seconds_64": {r["backend"]: r["seconds_64"] for r in results},
                                "sampling_measured_by": "python -m benchmarks.sampling (one batch of 64, after compiling)",
                                "sampling_machine": {r["backend"]: machine() for r in results}})


if __name__ == "__main__":
    main()
