"""TensorFlow, JAX and PyTorch compared on the same work, against native references.

    python -m benchmarks.backends                      # everything (about 20 min on a 2-core CPU)
    python -m benchmarks.backends --quick              # a smoke run: fewer, shorter timings
    python -m benchmarks.backends --models dcgan_anime --configs keras-torch native-torch-cl

Run from the root of a source checkout (benchmarks/ is not part of the installed package).

For each model and configuration, one fresh process (`--worker`) builds the model from the
shipped preset's config (random weights, random data: speed does not depend on them) and
measures:

* the first train step (tracing/compilation included), in seconds;
* train-step time: `repeats` timed runs of `steps` steps each after `warmup` steps;
  median (min-max) per step, and samples/s from the median;
* sampling: images/s of `generate` (after a first call), for the Keras models;
* peak resident memory of the process (MiB).

Configurations: Keras on TensorFlow (graph, and XLA with jit_compile=True), JAX (jit), and
PyTorch (eager, and torch.compile with jit_compile=True); for the DCGAN and the DDPM UNet
train steps the same networks written natively (benchmarks/native.py; the same parameter
counts) in PyTorch (eager NCHW, channels_last, torch.compile) and JAX (flax + optax, jit).
Every figure is also given as a ratio to its native reference, measured in the same run.

The machine's matmul peak (float32, 2048x2048, best of several runs, numpy and torch) and
each model's FLOPs per train step (counted from its layers; a multiply-add is 2 FLOPs;
a step counts forward + backward as 3x the forward pass: DCGAN/GAN 3G + 8D, since D
runs forward and backward on fake images in the G update and on real + fake images in the
D update; DDPM 3U) give the utilization. Results: benchmarks/results/backends.{md,json,png}.

Mixed precision: `--precision float32 mixed_bfloat16 --name precision` runs every configuration
under each Keras policy; the native PyTorch references run their step under
`torch.autocast("cpu", torch.bfloat16)` (the native JAX ones have no bf16 variant). Each bf16
row also gives its speed-up over the same configuration in float32, measured in the same run,
and the report names the CPU's bf16/AMX/AVX-512 flags (results/precision.{md,json,png}).
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MODELS = {  # the shipped presets' sizes
    "gan_mnist": dict(batch=64, shape=(28, 28, 1)),
    "dcgan_anime": dict(batch=64, shape=(64, 64, 3), width=32),
    "ddpm_mnist": dict(batch=64, shape=(28, 28, 1), widths=(32, 64, 96)),
    "wgan_gp_anime": dict(batch=64, shape=(64, 64, 3)),  # a step: 5 critic updates + 1 generator update
    "stylegan_anime": dict(batch=32, shape=(32, 32, 3)),
    "gpt_shakespeare": dict(batch=32, block=128),  # windows of 128 characters
}
TEXTS, NEW_CHARS = 8, 127  # sampling: 8 texts of 127 new characters (the context holds 128)
CONFIGS = {  # name: (kind, backend, options)
    "keras-tensorflow": ("keras", "tensorflow", {"jit_compile": False}),
    "keras-tensorflow-xla": ("keras", "tensorflow", {"jit_compile": True}),
    "keras-jax": ("keras", "jax", {"jit_compile": True}),
    "keras-torch": ("keras", "torch", {"jit_compile": False}),
    "keras-torch-compile": ("keras", "torch", {"jit_compile": True}),
    "native-torch": ("native", "torch", {"channels_last": False, "compile": False}),
    "native-torch-cl": ("native", "torch", {"channels_last": True, "compile": False}),
    "native-torch-compile": ("native", "torch", {"channels_last": True, "compile": True}),
    "native-jax": ("native", "jax", {}),
}
NATIVE = ("dcgan_anime", "ddpm_mnist", "gpt_shakespeare")  # the models benchmarks/native.py writes natively
REFERENCE = {"keras-torch": "native-torch-cl", "keras-torch-compile": "native-torch-compile",
             "keras-jax": "native-jax", "keras-tensorflow": "native-torch-cl",
             "keras-tensorflow-xla": "native-torch-cl"}


# -- FLOPs ---------------------------------------------------------------------------
def forward_flops(model):
    """FLOPs of one forward pass of a functional Keras model for one example (convolutions,
    transposed convolutions, dense layers, attention; a multiply-add is 2), or of a network
    whose layers count themselves (`layer.flops()`)."""
    from keras import layers

    total = 0
    for layer in model._flatten_layers(include_self=False):
        if hasattr(layer, "flops"):  # a layer that counts itself (StyleGAN's)
            total += layer.flops()
        elif isinstance(layer, layers.Conv2DTranspose):
            h, w, cin = layer.input.shape[1:]
            total += 2 * h * w * cin * layer.filters * layer.kernel_size[0] * layer.kernel_size[1]
        elif isinstance(layer, layers.Conv2D):
            h, w, cout = layer.output.shape[1:]
            total += 2 * h * w * cout * layer.input.shape[-1] * layer.kernel_size[0] * layer.kernel_size[1]
        elif isinstance(layer, layers.Dense):
            rows = 1
            for d in layer.input.shape[1:-1]:
                rows *= d
            total += 2 * rows * layer.input.shape[-1] * layer.units
        elif isinstance(layer, layers.MultiHeadAttention):
            _, seq, dim = layer._inbound_nodes[0].input_tensors[0].shape
            inner = layer._num_heads * layer._key_dim
            total += 2 * seq * dim * inner * 4 + 2 * 2 * seq * seq * inner
    return total


def transformer_flops(model, length):
    """FLOPs of one forward pass of a GPT over one window of `length` tokens: the dense
    layers and the tied output layer (2 per weight per token) and attention's two
    length x length products per layer (counted in full, as the unfused kernels compute)."""
    dense = sum(int(np.prod(w.shape)) for w in model.trainable_weights if len(w.shape) == 2
                and "embedding" not in w.path)
    head = model.embed_dim * model.vocab_size
    return length * (2 * dense + 2 * head) + model.num_layers * 4 * length * length * model.embed_dim


def step_flops(model):
    """FLOPs of one train step for one example, from the networks' forward FLOPs and the
    number of forward-pass equivalents the model declares for each
    (`forward_passes_per_step`); None for a model that declares none (WGAN-GP's double backprop)."""
    if model.forward_passes_per_step is None:
        return None
    return sum(passes * forward_flops(getattr(model, part))
               for part, passes in model.forward_passes_per_step.items())


def build_keras(name):
    """The shipped preset's model with fresh weights (its architecture and size)."""
    from zoo.registry import Preset

    return Preset(name).build()


def sampling_options(model):
    """What the sampling figure draws: 64 images with 10 steps from a model with a step
    count (diffusion), 1,024 images otherwise."""
    declared = {o.name for o in model.sampling_options()}
    return (64, {"steps": 10}) if "steps" in declared else (1024, {})


def timed_runs(run_steps, warmup, steps, repeats):
    start = time.perf_counter()
    run_steps(1)
    first = time.perf_counter() - start
    if warmup > 1:
        run_steps(warmup - 1)
    per_step = []
    for _ in range(repeats):
        start = time.perf_counter()
        run_steps(steps)
        per_step.append((time.perf_counter() - start) / steps)
    return first, per_step


def timed_in_one_fit(model, x, y, batch, warmup, steps, repeats):
    """Like `timed_runs`, for a Keras model, from one `fit` over warmup + steps x repeats batches:
    the runs are consecutive windows of `steps` batches. One `fit`, not one per run: on
    TensorFlow some `fit` calls end with a fixed ~1.2 s (the data iterator's teardown, outside
    any Python frame), which per-run `fit` calls spread over their steps (README)."""
    import keras

    class Clock(keras.callbacks.Callback):
        """The time at the end of every batch (zoo's guard reads each step's flag, so every
        step has finished on the device by then)."""

        def __init__(self):
            super().__init__()
            self.ends = []

        def on_train_batch_end(self, batch, logs=None):
            self.ends.append(time.perf_counter())

    clock = Clock()
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False, callbacks=[clock])
    ends = clock.ends
    first = ends[0] - start
    per_step = [(ends[warmup - 1 + (r + 1) * steps] - ends[warmup - 1 + r * steps]) / steps for r in range(repeats)]
    return first, per_step


def worker(args):
    kind, backend, options = CONFIGS[args.config]
    spec = MODELS[args.model]
    out = {"model": args.model, "config": args.config, "backend": backend, "batch": spec["batch"],
           "precision": args.precision}

    if kind == "native":
        if args.model not in NATIVE:
            raise SystemExit(f"native references exist for {', '.join(NATIVE)} only, not {args.model}")
        from benchmarks import native

        sizes = {key: value for key, value in spec.items() if key != "batch"}
        options = options if backend == "torch" else {}
        step = native.STEPS[args.model][backend](batch=spec["batch"], **sizes, **options)
        if args.precision != "float32":
            if backend != "torch" or args.precision != "mixed_bfloat16":
                raise SystemExit(f"the native {backend} reference has no {args.precision} variant")
            step = native.autocast_bf16(step)
        first, per_step = timed_runs(lambda n: [step() for _ in range(n)], args.warmup, args.steps, args.repeats)
        if hasattr(step, "sample"):  # the native KV-cache sampling loop
            step.sample(TEXTS, NEW_CHARS)
            start = time.perf_counter()
            step.sample(TEXTS, NEW_CHARS, seed=1)
            out["sampling"] = {"texts": TEXTS, "new_chars": NEW_CHARS,
                               "chars_per_s": round(TEXTS * NEW_CHARS / (time.perf_counter() - start), 1)}
    else:
        import keras

        from zoo.tasks import TextGenerator

        keras.mixed_precision.set_global_policy(args.precision)
        model = build_keras(args.model)
        model.compile(jit_compile=options["jit_compile"])
        batch, text = spec["batch"], isinstance(model, TextGenerator)
        rng = np.random.default_rng(0)
        count = batch * (args.warmup + args.steps * args.repeats)
        if text:
            ids = rng.integers(0, model.vocab_size, (count, spec["block"] + 1)).astype("int32")
            x, y = ids[:, :-1], ids[:, 1:]
            out["flops_per_step"] = 3 * transformer_flops(model, spec["block"]) * batch
        else:
            x = rng.integers(0, 256, (count, *spec["shape"])).astype("uint8")
            y = None
            flops = step_flops(model)
            if flops:
                out["flops_per_step"] = flops * batch

        first, per_step = timed_in_one_fit(model, x, y, batch, args.warmup, args.steps, args.repeats)
        # sampling throughput (generate, after one call of the same size has compiled it)
        if text:
            model.generate("\n", TEXTS, seed=0, max_new_tokens=NEW_CHARS)
            start = time.perf_counter()
            model.generate("\n", TEXTS, seed=1, max_new_tokens=NEW_CHARS)
            out["sampling"] = {"texts": TEXTS, "new_chars": NEW_CHARS,
                               "chars_per_s": round(TEXTS * NEW_CHARS / (time.perf_counter() - start), 1)}
        else:
            num, options = sampling_options(model)
            settings = {k: v for k, v in model.resolve_options(**options).items() if v is not None}
            model.generate(num, seed=0, progress=False, **options)
            start = time.perf_counter()
            model.generate(num, seed=1, progress=False, **options)
            out["sampling"] = {"images": num, **settings,
                               "images_per_s": round(num / (time.perf_counter() - start), 1)}
        out["keras_backend"] = keras.backend.backend()
    median = statistics.median(per_step)
    out.update(first_step_s=round(first, 3), step_ms=round(1000 * median, 2),
               step_ms_min=round(1000 * min(per_step), 2), step_ms_max=round(1000 * max(per_step), 2),
               samples_per_s=round(spec["batch"] / median, 1),
               peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))
    print("RESULT " + json.dumps(out))


# -- the parent ----------------------------------------------------------------------
def matmul_peak(n=2048, repeats=5):
    """Best float32 GFLOP/s of an n x n matmul with numpy and with torch (if installed)."""
    import numpy as np

    a = np.random.default_rng(0).standard_normal((n, n)).astype("float32")
    best = {}
    for name in ("numpy", "torch"):
        if name == "torch":
            try:
                import torch
            except ImportError:
                continue
            t = torch.from_numpy(a)
            fn = lambda: torch.mm(t, t)  # noqa: E731
        else:
            fn = lambda: a @ a  # noqa: E731
        fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        best[name] = round(2 * n ** 3 / min(times) / 1e9, 1)
    return best


def machine():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    from zoo.system import machine as describe

    return describe()


def cpu_flags():
    """The CPU's flags that decide low-precision speed (bf16/fp16/AMX/AVX-512 ones), from /proc/cpuinfo."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("flags"):
                return sorted(f for f in line.split(":", 1)[1].split()
                              if any(k in f for k in ("bf16", "fp16", "amx", "avx512f", "avx512_vnni")))
    except OSError:
        pass
    return []


def run_config(model, config, args, precision="float32"):
    env = dict(os.environ, KERAS_BACKEND=CONFIGS[config][1], TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, "-m", "benchmarks.backends", "--worker", "--model", model, "--config", config,
           "--steps", str(args.steps), "--warmup", str(args.warmup), "--repeats", str(args.repeats),
           "--precision", precision]
    start = time.time()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"model": model, "config": config, "precision": precision, "error": f"timed out after {args.timeout}s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[7:])
            result["wall_s"] = round(time.time() - start, 1)
            return result
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
    return {"model": model, "config": config, "precision": precision, "error": tail[0][:300]}


def add_ratios(results, peak):
    by = {(r["model"], r["config"], r.get("precision", "float32")): r for r in results if "error" not in r}
    for r in results:
        if "error" in r:
            continue
        precision = r.get("precision", "float32")
        ref = by.get((r["model"], REFERENCE.get(r["config"], ""), precision))
        if ref:
            r["vs_native"] = {"reference": ref["config"], "speed_ratio": round(ref["step_ms"] / r["step_ms"], 3)}
        plain = by.get((r["model"], r["config"], "float32"))
        if precision != "float32" and plain:
            r["vs_float32"] = round(plain["step_ms"] / r["step_ms"], 3)
        if r.get("flops_per_step"):
            r["gflops_per_s"] = round(r["flops_per_step"] / (r["step_ms"] / 1000) / 1e9, 1)
            r["utilization"] = round(r["gflops_per_s"] / max(peak.values()), 3)
    # the natives have the same FLOPs as their Keras twin
    for r in results:
        twin = by.get((r["model"], "keras-torch", r.get("precision", "float32")))
        if "error" not in r and "flops_per_step" not in r and twin and twin.get("flops_per_step"):
            r["flops_per_step"] = twin["flops_per_step"]
            r["gflops_per_s"] = round(r["flops_per_step"] / (r["step_ms"] / 1000) / 1e9, 1)
            r["utilization"] = round(r["gflops_per_s"] / max(peak.values()), 3)


def markdown(report):
    lines = [f"# Backends compared ({report['date']})", "", f"Machine: {report['machine']}", "",
             f"CPU flags for low precision: {' '.join(report.get('cpu_flags', [])) or 'not recorded'}", "",
             "Matmul peak (float32 2048², best of 5): "
             + ", ".join(f"{k} {v} GFLOP/s" for k, v in report["matmul_peak_gflops"].items()),
             f"; settings: {report['settings']}", "",
             "| model | configuration | train step ms, median (min–max) | samples/s | vs native | "
             "first step s | GFLOP/s (utilization) | sampling | peak RSS MiB |",
             "|---|---|---|---|---|---|---|---|---|"]
    mixed = any(r.get("precision", "float32") != "float32" for r in report["results"])
    for r in report["results"]:
        if "error" in r:
            lines.append(f"| {r['model']} | {label(r, mixed)} | failed: {r['error']} | | | | | | |")
            continue
        ratio = r.get("vs_native")
        speedup = f" ({r['vs_float32']:.2f}× its float32)" if "vs_float32" in r else ""
        lines.append(
            f"| {r['model']} | {label(r, mixed)} | {r['step_ms']} ({r['step_ms_min']}–{r['step_ms_max']}){speedup} | "
            f"{r['samples_per_s']} | "
            + (f"{ratio['speed_ratio']:.2f}× {ratio['reference']}" if ratio else "—")
            + f" | {r['first_step_s']} | "
            + (f"{r['gflops_per_s']} ({100 * r['utilization']:.1f}%)" if "gflops_per_s" in r else "—")
            + f" | {sampling_cell(r.get('sampling', {}))} | {r['peak_rss_mib']} |")
    lines += ["", "vs native: native step time / this step time (above 1: faster than the reference)."]
    runs = {}
    for r in report["results"]:
        runs.setdefault((r.get("date", report["date"]), r.get("machine", report["machine"])), set()).add(r["model"])
    if len(runs) > 1:
        lines += ["", "Measured: " + "; ".join(f"{', '.join(sorted(m))} on {d} ({where})"
                                              for (d, where), m in sorted(runs.items()))
                  + " (the machine line and the matmul peak above are the latest run's). Compare ratios within "
                  "one model's rows: they come from one run on one machine."]
    return "\n".join(lines) + "\n"


def label(row, mixed):
    precision = row.get("precision", "float32")
    return f"{row['config']} {'bf16' if precision == 'mixed_bfloat16' else precision}" if mixed else row["config"]


def sampling_cell(sampling):
    if "images_per_s" in sampling:
        return f"{sampling['images_per_s']} images/s"
    if "chars_per_s" in sampling:
        return f"{sampling['chars_per_s']} chars/s"
    return "—"


def chart(report, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = sorted({r["model"] for r in report["results"]})
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 4), squeeze=False)
    for ax, model in zip(axes[0], models):
        rows = [r for r in report["results"] if r["model"] == model and "error" not in r]
        names = [label(r, any(x.get("precision", "float32") != "float32" for x in rows)) for r in rows]
        ax.barh(names, [r["samples_per_s"] for r in rows],
                xerr=[[max(0.0, r["samples_per_s"] - r["batch"] / (r["step_ms_max"] / 1000)) for r in rows],
                      [max(0.0, r["batch"] / (r["step_ms_min"] / 1000) - r["samples_per_s"]) for r in rows]],
                color=["tab:gray" if n.startswith("native") else "tab:blue" for n in names])
        ax.set_title(f"{model}: train samples/s")
        ax.invert_yaxis()
    fig.suptitle(f"{report['machine'][:90]}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--steps", type=int, default=10, help="steps per timed run")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (compilation included)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--timeout", type=int, default=600, help="seconds per configuration")
    p.add_argument("--quick", action="store_true", help="steps 2, warmup 2, repeats 2")
    p.add_argument("--out", default=str(RESULTS))
    p.add_argument("--name", default="backends", help="the result files' name: OUT/NAME.{md,json,png}")
    p.add_argument("--precision", nargs="+", default=["float32"],
                   choices=["float32", "mixed_bfloat16", "mixed_float16"],
                   help="Keras dtype policies to run each configuration under")
    p.add_argument("--merge", action="store_true",
                   help="keep the rows of models not run now from the backends.json in --out (each row "
                        "keeps its run's date; ratios are always within one model's run)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--config", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        args.precision = args.precision[0]
        return worker(args)
    if args.quick:
        args.steps, args.warmup, args.repeats = 2, 2, 2
    start = time.time()
    peak = matmul_peak()
    results = []
    for model in args.models:
        for config in args.configs:
            if CONFIGS[config][0] == "native" and model not in NATIVE:
                continue
            for precision in args.precision:
                if precision != "float32" and config == "native-jax":
                    continue  # no bf16 variant
                r = run_config(model, config, args, precision)
                print(json.dumps(r), flush=True)
                results.append(r)
    add_ratios(results, peak)
    today, where = datetime.date.today().isoformat(), machine()
    for r in results:
        r["date"], r["machine"] = today, where
    out = pathlib.Path(args.out)
    if args.merge and (out / f"{args.name}.json").exists():
        earlier = json.loads((out / f"{args.name}.json").read_text())
        def where_run(r):  # a row from before rows kept their machine: the file's, if it is of that run
            return r.get("machine") or (earlier["machine"] if r.get("date", earlier["date"]) == earlier["date"]
                                        else "machine not recorded")

        kept = [dict(r, date=r.get("date", earlier["date"]), machine=where_run(r))
                for r in earlier["results"] if r["model"] not in args.models]
        results = kept + results
    report = {"date": today, "machine": where, "cpu_flags": cpu_flags(), "python": platform.python_version(),
              "matmul_peak_gflops": peak, "results": results, "total_s": round(time.time() - start),
              "settings": f"steps {args.steps} x repeats {args.repeats} after warmup {args.warmup}"}
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / f"{args.name}.md").write_text(markdown(report))
    chart(report, out / f"{args.name}.png")
    print(markdown(report))
    print(f"wrote {out}/{args.name}.{{md,json,png}} in {report['total_s']} s")


if __name__ == "__main__":
    main()
