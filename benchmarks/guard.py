"""What zoo's training guard costs per step (zoo/core/guard.py): the finite flag computed in
every compiled step, read by `FiniteGuard` after each batch, plus the host-side data check
before `fit`. Goal: under 2% of a step.

    python -m benchmarks.guard                       # gan_mnist, dcgan_anime, ddpm_mnist on 3 backends
    python -m benchmarks.guard --models gan_mnist --backends torch --repeats 3

Each (model, backend) runs in a fresh process on the shipped preset's architecture (random
weights, random uint8 data). "guarded" is `model.fit` as users call it; "bare" is Keras' own
`keras.Model.fit` on the same model with the model's step as written (no flag, no guard
callback, no data check). The two alternate, `repeats` times each, after a warm-up of both;
the overhead is the ratio of their medians. Also measured: copying every variable (model and
optimizer) to the host, which is what putting back the previous *step* (rather than the
last epoch end) would cost per step. Results: benchmarks/results/guard.{md,json}.
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


def worker(name, steps, repeats):
    import keras
    import numpy as np

    from zoo.core import backend

    spec = MODELS[name]
    guarded = build_keras(name)
    bare = bare_copy(guarded)
    x = np.random.default_rng(0).integers(0, 256, (spec["batch"] * steps, *spec["shape"])).astype("uint8")
    times = {"guarded": [], "bare": []}
    for model in (guarded, bare):
        model.compile()
        model.fit(x[:spec["batch"] * 2], batch_size=spec["batch"], epochs=1, verbose=0, shuffle=False)
    for _ in range(repeats):
        for label, model in (("guarded", guarded), ("bare", bare)):
            start = time.perf_counter()
            model.fit(x, batch_size=spec["batch"], epochs=1, verbose=0, shuffle=False)
            times[label].append((time.perf_counter() - start) / steps)
    state = list(guarded.variables) + list(guarded.optimizer.variables)
    start = time.perf_counter()
    for _ in range(5):
        backend.sync_state(guarded)
        [np.array(keras.ops.convert_to_numpy(v.value)) for v in state]
    copy_s = (time.perf_counter() - start) / 5
    g, b = statistics.median(times["guarded"]), statistics.median(times["bare"])
    return {"model": name, "backend": keras.backend.backend(), "batch": spec["batch"], "steps": steps,
            "guarded_ms": round(1000 * g, 2), "bare_ms": round(1000 * b, 2),
            "overhead_pct": round(100 * (g / b - 1), 2),
            "guarded_ms_all": [round(1000 * t, 2) for t in times["guarded"]],
            "bare_ms_all": [round(1000 * t, 2) for t in times["bare"]],
            "state_mib": round(sum(int(np.prod(v.shape)) * 4 for v in state) / 2**20, 1),
            "copy_state_ms": round(1000 * copy_s, 2), "copy_state_pct_of_step": round(100 * copy_s / b, 1)}


def markdown(report):
    lines = [f"Training guard cost, {report['date']}, {report['machine']}.", "",
             "| model | backend | bare step (ms) | guarded step (ms) | overhead | copy of all state per step |",
             "|---|---|---|---|---|---|"]
    for r in report["results"]:
        lines.append(f"| {r['model']} | {r['backend']} | {r['bare_ms']} | {r['guarded_ms']} | "
                     f"{r['overhead_pct']:+.1f}% | {r['copy_state_ms']} ms ({r['copy_state_pct_of_step']}% of a step, "
                     f"{r['state_mib']} MiB) |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--backends", nargs="+", default=["tensorflow", "jax", "torch"])
    p.add_argument("--steps", type=int, default=20, help="steps per timed fit")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print("RESULT " + json.dumps(worker(args.worker, args.steps, args.repeats)))
        return
    results = []
    for backend in args.backends:
        for name in args.models:
            proc = subprocess.run([sys.executable, "-m", "benchmarks.guard", "--worker", name, "--steps",
                                   str(args.steps), "--repeats", str(args.repeats)], cwd=ROOT, capture_output=True,
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
