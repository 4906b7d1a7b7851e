"""Data-parallel scaling on this machine: the same global batch on 1 device and on N devices
(zoo.core.distribute), per backend, measured in one run.

    python -m benchmarks.scaling                           # dcgan_anime and ddpm_mnist, 1 vs 2 devices
    python -m benchmarks.scaling --models gan_mnist --devices 1 2 --backends torch

On a CPU the "devices" share the cores: JAX splits its CPU platform into N devices, TensorFlow
into N logical CPU devices (one thread pool for all), and torch runs N processes with
OMP_NUM_THREADS = cores / N each under torchrun. So 1 device x all cores against N devices x
cores / N: what data parallelism costs or gains here, not what N GPUs give. Each run is a fresh
process (`--worker`), building the shipped preset's model with random weights and data, and
timing `repeats` windows of `steps` global batches after a warm-up, inside one `fit`.
Results: benchmarks/results/scaling.{md,json}.
"""

import argparse
import datetime
import json
import os
import pathlib
import statistics
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SIZES = {"gan_mnist": (64, (28, 28, 1)), "dcgan_anime": (64, (64, 64, 3)), "ddpm_mnist": (64, (28, 28, 1))}


def worker(args):
    from zoo.core import distribute

    distribute.setup(args.devices)
    import numpy as np

    from benchmarks.backends import build_keras, timed_in_one_fit

    batch, shape = SIZES[args.model]
    model = build_keras(args.model)
    model.compile()
    count = batch * (args.warmup + args.steps * args.repeats)
    x = np.random.default_rng(0).integers(0, 256, (count, *shape)).astype("uint8")
    _, times = timed_in_one_fit(model, x, None, batch, args.warmup, args.steps, args.repeats)
    if distribute.is_chief():
        median = statistics.median(times)
        print("RESULT " + json.dumps({"step_ms": round(1000 * median, 1), "step_ms_min": round(1000 * min(times), 1),
                                      "step_ms_max": round(1000 * max(times), 1),
                                      "samples_per_s": round(batch / median, 1)}))


def measure(backend, model, devices, args):
    from zoo.core.distribute import launch_command

    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, "-m", "benchmarks.scaling", "--worker", "--model", model, "--devices", str(devices),
           "--steps", str(args.steps), "--warmup", str(args.warmup), "--repeats", str(args.repeats)]
    if backend == "torch" and devices > 1:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // devices))
        cmd = launch_command(devices, ["-m", *cmd[2:]])
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT, timeout=args.timeout)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"error": ((proc.stderr or proc.stdout).strip().splitlines() or ["no output"])[-1][:300]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=["dcgan_anime", "ddpm_mnist"], choices=list(SIZES))
    p.add_argument("--backends", nargs="+", default=["tensorflow", "jax", "torch"])
    p.add_argument("--devices", nargs="+", type=int, default=[1, 2])
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--timeout", type=int, default=900)
    p.add_argument("--out", default=str(RESULTS))
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    args, _ = p.parse_known_args(argv)
    if args.worker:
        args.devices = args.devices[0]
        return worker(args)
    from benchmarks.backends import cpu_flags, machine

    rows = []
    for model in args.models:
        for backend in args.backends:
            for devices in args.devices:
                r = {"model": model, "backend": backend, "devices": devices, **measure(backend, model, devices, args)}
                print(json.dumps(r), flush=True)
                rows.append(r)
    report = {"date": datetime.date.today().isoformat(), "machine": machine(), "cpu_flags": cpu_flags(),
              "settings": f"global batch 64, {args.steps} steps x {args.repeats} repeats after {args.warmup}",
              "results": rows}
    lines = [f"# Data-parallel scaling ({report['date']})", "", f"Machine: {report['machine']}", "",
             f"Settings: {report['settings']}. N devices share this machine's cores (see benchmarks/scaling.py).", "",
             "| model | backend | devices | train step ms, median (min–max) | samples/s | vs 1 device |",
             "|---|---|---|---|---|---|"]
    one = {(r["model"], r["backend"]): r for r in rows if r["devices"] == 1 and "error" not in r}
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['backend']} | {r['devices']} | failed: {r['error']} | | |")
            continue
        base = one.get((r["model"], r["backend"]))
        ratio = f"{base['step_ms'] / r['step_ms']:.2f}×" if base else "—"
        lines.append(f"| {r['model']} | {r['backend']} | {r['devices']} | {r['step_ms']} ({r['step_ms_min']}–"
                     f"{r['step_ms_max']}) | {r['samples_per_s']} | {ratio} |")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scaling.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "scaling.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
