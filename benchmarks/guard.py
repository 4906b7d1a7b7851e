"""What zoo's training guard costs per step (zoo/core/guard.py): the finite flag computed in
every compiled step, read by `FiniteGuard` after each batch, plus the host-side data check
before `fit`. Goal: under 2% of a step.

    python -m benchmarks.guard                       # gan_mnist, dcgan_anime, ddpm_mnist on 3 backends
    python -m benchmarks.guard --models gan_mnist --backends torch --repeats 5

Each (model, backend) runs in a fresh process on the shipped preset's architecture (random
weights, random uint8 data). "guarded" is `model.fit` as users call it; "bare" is Keras' own
`keras.Model.fit` on the same model with the model's step as written (no flag, no guard
callback, no data check). The two alternate, `repeats` times each, after a warm-up of both;
each repeat times a short and a long fit, and the step time is the slope between them, so
that what a fit costs once (data adapter, callbacks, the guard's snapshots) cancels; the
overhead is the ratio of the medians. Also measured: copying every variable (model and
optimizer) to the host, which is what putting back the previous *step* (rather than the
last epoch end) would cost per step; and the flag alone (the finite check over the
trainable weights) as a compiled call of its own, which is precise where the end-to-end
difference drowns in the machine's noise. Results: benchmarks/results/guard.{md,json}.
"""

import argparse
import datetime
import inspect
import json
import pathlib
import statistics
import subprocess
import sys
import time

from benchmarks.backends import MODELS, build_keras, machine

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
STEPS = {"gan_mnist": (10, 60), "dcgan_anime": (4, 12), "ddpm_mnist": (4, 12)}  # the two fit lengths timed


def bare_copy(model):
    """The model with its step as written (no finite flag), fit by Keras' own `fit`."""
    import keras

    from zoo.core import backend

    cls = type(model)
    bare = type(f"Bare{cls.__name__}", (cls,), {})
    bare.train_step = backend.stateless_step(inspect.unwrap(cls.train_step), True)
    other = bare.from_config(model.get_config())
    other.set_weights(model.get_weights())
    other.fit = lambda *a, **k: keras.Model.fit(other, *a, **k)
    return other


def worker(name, repeats):
    import keras
    import numpy as np

    from zoo.core import backend, guard

    spec, (short, long) = MODELS[name], STEPS[name]
    guarded = build_keras(name)
    bare = bare_copy(guarded)
    x = np.random.default_rng(0).integers(0, 256, (spec["batch"] * long, *spec["shape"])).astype("uint8")

    def seconds(model, steps):
        start = time.perf_counter()
        model.fit(x[:spec["batch"] * steps], batch_size=spec["batch"], epochs=1, verbose=0, shuffle=False)
        return time.perf_counter() - start

    per_step = {"guarded": [], "bare": []}
    per_fit = {"guarded": [], "bare": []}
    for model in (guarded, bare):
        model.compile()
        seconds(model, 2)
    for _ in range(repeats):
        for label, model in (("guarded", guarded), ("bare", bare)):
            a, b = seconds(model, short), seconds(model, long)
            per_step[label].append((b - a) / (long - short))  # the slope: fixed costs of a fit cancel
            per_fit[label].append(a - short * per_step[label][-1])
    # the flag alone, as a compiled call of its own (an upper bound: in the step, no call overhead)
    trainable = guarded.trainable_variables
    flag = backend.compile_inference(lambda: guard.finite_flag([v.value for v in trainable]), trainable)
    for _ in range(3):
        float(keras.ops.convert_to_numpy(flag()))
    calls = []
    for _ in range(50):
        start = time.perf_counter()
        float(keras.ops.convert_to_numpy(flag()))
        calls.append(time.perf_counter() - start)
    flag_s = statistics.median(calls)
    state = list(guarded.variables) + list(guarded.optimizer.variables)
    start = time.perf_counter()
    for _ in range(5):
        backend.sync_state(guarded)
        [np.array(keras.ops.convert_to_numpy(v.value)) for v in state]
    copy_s = (time.perf_counter() - start) / 5
    g, b = statistics.median(per_step["guarded"]), statistics.median(per_step["bare"])
    return {"model": name, "backend": keras.backend.backend(), "batch": spec["batch"], "steps": [short, long],
            "guarded_ms": round(1000 * g, 2), "bare_ms": round(1000 * b, 2),
            "overhead_pct": round(100 * (g / b - 1), 2),
            "flag_ms": round(1000 * flag_s, 3), "flag_pct_of_step": round(100 * flag_s / b, 2),
            "guarded_ms_all": [round(1000 * t, 2) for t in per_step["guarded"]],
            "bare_ms_all": [round(1000 * t, 2) for t in per_step["bare"]],
            "fixed_per_fit_ms": {k: round(1000 * statistics.median(v), 1) for k, v in per_fit.items()},
            "state_mib": round(sum(int(np.prod(v.shape)) * 4 for v in state) / 2**20, 1),
            "snapshot_ms": round(1000 * copy_s, 2), "snapshot_pct_of_step": round(100 * copy_s / b, 1)}


def markdown(report):
    lines = [f"Training guard cost, {report['date']}, {report['machine']}. End to end: the step time as the "
             "slope between fits of two lengths, guarded against bare, median of the repeats (on a shared 2-core "
             "CPU this varies by more than the guard costs). The flag alone: the finite check over the trainable "
             "weights as a compiled call of its own, as a share of the bare step. The snapshot (all model and "
             "optimizer state copied to the host) is taken at each epoch end and at the start of a fit.", "",
             "| model | backend | bare step (ms) | guarded step (ms) | end-to-end difference | the flag alone | "
             "snapshot, once per epoch |",
             "|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        lines.append(f"| {r['model']} | {r['backend']} | {r['bare_ms']} | {r['guarded_ms']} | "
                     f"{r['overhead_pct']:+.1f}% | {r['flag_ms']} ms ({r['flag_pct_of_step']}%) | {r['snapshot_ms']} ms ({r['state_mib']} MiB; "
                     f"{r['snapshot_pct_of_step']}% of one step) |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--backends", nargs="+", default=["tensorflow", "jax", "torch"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print("RESULT " + json.dumps(worker(args.worker, args.repeats)))
        return
    results = []
    for backend in args.backends:
        for name in args.models:
            proc = subprocess.run([sys.executable, "-m", "benchmarks.guard", "--worker", name,
                                   "--repeats", str(args.repeats)], cwd=ROOT, capture_output=True,
                                  text=True, env={**__import__("os").environ, "KERAS_BACKEND": backend,
                                                  "TF_CPP_MIN_LOG_LEVEL": "3"})
            lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
            if proc.returncode or not lines:
                raise SystemExit(f"{name} on {backend} failed:\n{proc.stderr[-3000:]}")
            results.append(json.loads(lines[-1][7:]))
            print(json.dumps(results[-1]))
    report = {"date": datetime.date.today().isoformat(), "machine": machine(), "results": results}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "guard.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "guard.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
