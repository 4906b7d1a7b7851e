"""Where the time of a train step goes on PyTorch: Keras (zoo's DCGAN 64x64, or the DDPM
UNet of ddpm_mnist, under `model.fit`) against the native channels_last reference of
benchmarks/native.py, op by op (torch.profiler).

    python -m benchmarks.profile_torch                  # DCGAN, zoo's layers as shipped
    python -m benchmarks.profile_torch --keras-layers   # zoo's DCGAN built from Keras' own
                                                        # Conv2D/Conv2DTranspose/BatchNorm
    python -m benchmarks.profile_torch --model ddpm_mnist   # the UNet step
    python -m benchmarks.profile_torch --model gpt_shakespeare   # the GPT step (batch 32 x 128)
    python -m benchmarks.profile_torch --model ddpm_mnist --python --rows 60
                                                        # its Python functions (cProfile)

Prints, for each, the ops by self CPU time per step and the ops' callers (the parent op),
which is how the copies, pads and unfused batch norms of Keras' torch backend showed up
(see README, "Choosing a backend").
"""

import argparse
import collections
import os

os.environ["KERAS_BACKEND"] = "torch"


def keras_step(width, batch, keras_layers):
    import numpy as np

    if keras_layers:  # build the model from Keras' layers instead of zoo.layers' fast ones
        from keras import layers

        import zoo.models.dcgan as dcgan

        dcgan.Conv2D, dcgan.Conv2DTranspose = layers.Conv2D, layers.Conv2DTranspose
        dcgan.BatchNormalization = layers.BatchNormalization
    from zoo.models.dcgan import DCGAN

    model = DCGAN(width=width, seed=0)
    model.compile()
    x = np.random.default_rng(0).integers(0, 256, (batch, 64, 64, 3)).astype("uint8")
    return lambda: model.fit(x, batch_size=batch, epochs=1, verbose=0)


def keras_unet_step(batch):
    import numpy as np

    from benchmarks.backends import MODELS, build_keras

    model = build_keras("ddpm_mnist")
    model.compile()
    x = np.random.default_rng(0).integers(0, 256, (batch, *MODELS["ddpm_mnist"]["shape"])).astype("uint8")
    return lambda: model.fit(x, batch_size=batch, epochs=1, verbose=0)


def keras_gpt_step(batch):
    import numpy as np

    from benchmarks.backends import MODELS, build_keras

    model = build_keras("gpt_shakespeare")
    model.compile()
    ids = np.random.default_rng(0).integers(0, model.vocab_size, (batch, MODELS["gpt_shakespeare"]["block"] + 1))
    return lambda: model.fit(ids[:, :-1], ids[:, 1:], batch_size=batch, epochs=1, verbose=0)


def profile(step, steps, rows):
    from torch.profiler import ProfilerActivity, profile

    for _ in range(3):
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    total = collections.Counter()
    calls = collections.Counter()
    for event in prof.events():
        parent = event.cpu_parent.name if event.cpu_parent is not None else "(python)"
        key = (event.name, parent)
        total[key] += event.self_cpu_time_total
        calls[key] += 1
    all_ms = sum(total.values()) / 1000 / steps
    print(f"self CPU time per step: {all_ms:.1f} ms")
    print(f"{'ms/step':>8} {'calls':>6}  op <- caller")
    for (name, parent), us in total.most_common(rows):
        print(f"{us / 1000 / steps:8.1f} {calls[(name, parent)] // steps:6d}  {name} <- {parent}")


def profile_python(step, steps, rows):
    """The Python functions of a step by cumulative time and calls per step (cProfile):
    where Keras' own Python (layer calls, per-variable optimizer work) spends its time."""
    import cProfile
    import pstats

    for _ in range(3):
        step()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        step()
    prof.disable()
    stats = pstats.Stats(prof).sort_stats("cumulative")
    print(f"{'ms/step':>8} {'calls':>6}  function (cumulative time, cProfile's overhead included)")
    for func in stats.fcn_list[:rows]:
        _, calls, _, cumulative, _ = stats.stats[func]
        print(f"{cumulative * 1000 / steps:8.1f} {calls // steps:6d}  {pstats.func_std_string(func)}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=("dcgan_anime", "ddpm_mnist", "gpt_shakespeare"), default="dcgan_anime")
    p.add_argument("--width", type=int, default=32, help="DCGAN width")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--rows", type=int, default=20)
    p.add_argument("--keras-layers", action="store_true")
    p.add_argument("--python", action="store_true",
                   help="profile the Keras step's Python functions (cProfile) instead of torch's ops")
    args = p.parse_args(argv)
    from benchmarks import native

    if args.model == "ddpm_mnist":
        from benchmarks.backends import MODELS

        spec = MODELS["ddpm_mnist"]
        keras_run = keras_unet_step(args.batch)
        native_run = native.torch_unet_step(spec["widths"], args.batch, spec["shape"], channels_last=True)
    elif args.model == "gpt_shakespeare":
        from benchmarks.backends import MODELS

        batch = MODELS["gpt_shakespeare"]["batch"] if args.batch == 64 else args.batch
        keras_run = keras_gpt_step(batch)
        native_run = native.torch_gpt_step(block=MODELS["gpt_shakespeare"]["block"], batch=batch)
    else:
        keras_run = keras_step(args.width, args.batch, args.keras_layers)
        native_run = native.torch_step(args.width, args.batch, channels_last=True)
    print(f"== {args.model}: Keras on torch ({'Keras layers' if args.keras_layers else 'zoo.layers'}) ==")
    if args.python:
        profile_python(keras_run, args.steps, args.rows)
        return
    profile(keras_run, args.steps, args.rows)
    print("\n== native PyTorch, channels_last ==")
    profile(native_run, args.steps, args.rows)


if __name__ == "__main__":
    main()
