"""The recipe harness: what every recipe shares: flags, resumable `fit`, pictures, and the
preset + card.

A recipe (recipes/NAME.py, installed as zoo.recipes.NAME) is: data -> model ->
`fit(model, x, args, ...)` -> `finish(model, args, ...)`. Runs live in `--workdir` (default runs/NAME, git-ignored):
`backup/` (BackupAndRestore: a killed run started again resumes from its last
epoch), `log.csv` (every epoch, across resumes), `grids/` (a grid from fixed noise
every epoch), `wall.json` (wall time across resumes).
"""

import argparse
import json
import os
import pathlib
import platform
import shlex
import time

from zoo.errors import ZooError


class TrainingDiverged(ZooError):
    pass


class RecipeParser(argparse.ArgumentParser):
    """Parses a recipe's flags and keeps them (`args.argv`, `args.recipe`) for its card."""

    def parse_args(self, args=None, namespace=None):
        argv = [] if args is None else [str(a) for a in args]
        parsed = super().parse_args(argv, namespace)
        parsed.argv, parsed.recipe = argv, self.recipe
        return parsed


def parser(name, description, epochs, batch_size, data):
    """The flags every recipe takes; `name` is the recipe's file name (recipes/NAME.py).
    `parse_args(argv)` reads the list it is given (the recipe's `main(sys.argv[1:])` passes
    the command line)."""
    p = RecipeParser(prog=f"recipes/{name}.py", description=description)
    p.recipe = name
    p.add_argument("--data", default=data, help=f"dataset name or path (default: {data})")
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init", default=None, help="start from this preset (name or directory): fine-tune")
    p.add_argument("--workdir", default=f"runs/{name}", help="checkpoints, logs, grids")
    p.add_argument("--out", default=None, help="preset directory to write (default: WORKDIR/preset)")
    p.add_argument("--fresh", action="store_true", help="ignore an earlier run's checkpoint in WORKDIR")
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    return p


def machine():
    """A one-line description of this machine, for cards."""
    import keras

    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        mem = f", {pages / 2**30:.0f} GiB RAM"
    except (ValueError, OSError, AttributeError):
        pass
    devices = []
    try:
        devices = [d for d in keras.distribution.list_devices() if "cpu" not in d.lower()]
    except Exception:  # noqa: BLE001
        pass
    gpu = ", ".join(devices) if devices else "no GPU"
    return f"{cpu}, {os.cpu_count()} cores{mem}, {gpu}, {platform.system()} {platform.python_version()}"


def _callbacks(model, workdir, grid, every, text=None):
    import keras
    import numpy as np

    from zoo import viz

    class SampleGrid(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if grid is not None and ((epoch + 1) % every == 0):
                viz.save_grid(grid(), workdir / "grids" / f"epoch_{epoch + 1:04d}.png")
            if text is not None and ((epoch + 1) % every == 0):
                path = workdir / "samples" / f"epoch_{epoch + 1:04d}.txt"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text(), encoding="utf-8")

    class StopOnNaN(keras.callbacks.Callback):
        """Stops at the first non-finite loss, before the epoch's checkpoint is written,
        so that the last good checkpoint stays in backup/."""

        def on_train_batch_end(self, batch, logs=None):
            for key, value in (logs or {}).items():
                if not np.all(np.isfinite(keras.ops.convert_to_numpy(value))):
                    raise TrainingDiverged(
                        f"training diverged: {key} is {value} at batch {batch}; the last good "
                        f"checkpoint is kept in {workdir / 'backup'} (lower the learning rate, "
                        "then run again to resume from it)")

    class WallClock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.time()

        def on_epoch_end(self, epoch, logs=None):
            path = workdir / "wall.json"
            total = json.loads(path.read_text())["seconds"] if path.exists() else 0.0
            path.write_text(json.dumps({"seconds": total + time.time() - self.start}))

    return [StopOnNaN(), WallClock(),
            # double_checkpoint: a kill while the checkpoint is written leaves the previous
            # one, which the next run falls back to
            keras.callbacks.BackupAndRestore(str(workdir / "backup"), delete_checkpoint=False,
                                             double_checkpoint=True),
            keras.callbacks.CSVLogger(str(workdir / "log.csv"), append=True),
            SampleGrid()]


def fit(model, x, args, grid=None, grid_every=1, text=None, **fit_kwargs):
    """`model.fit` with the recipe callbacks; returns the loss history of all epochs
    of this workdir (earlier, resumed runs included) as {name: [per epoch]}.

    `x`: arrays (batched here by --batch-size, shuffled) or a `keras.utils.PyDataset`
    (which batches itself). `grid()` -> images and `text()` -> str are saved every
    `grid_every` epochs under WORKDIR/grids and WORKDIR/samples."""
    import shutil

    import keras

    workdir = pathlib.Path(args.workdir)
    if args.fresh and workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if not isinstance(x, keras.utils.PyDataset):
        fit_kwargs = {"batch_size": args.batch_size, "shuffle": True, **fit_kwargs}
    elif hasattr(x, "epoch") and (workdir / "log.csv").exists():
        # a resumed run: a dataset that draws by (seed, epoch, step) goes on where it was
        x.epoch = len(next(iter(read_log(workdir / "log.csv").values()), []))
    model.fit(x, epochs=args.epochs, verbose=args.verbose,
              callbacks=_callbacks(model, workdir, grid, grid_every, text), **fit_kwargs)
    return read_log(workdir / "log.csv")


def read_log(path):
    import csv

    history = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            for key, value in row.items():
                if key != "epoch" and value not in ("", "NA"):
                    history.setdefault(key, []).append(float(value))
    return history


def init_model(args, build):
    """The recipe's model: a preset to fine-tune (`--init`) or a new one."""
    import keras

    keras.utils.set_random_seed(args.seed)
    if args.init:
        from zoo.registry import load

        return load(args.init)
    return build()


def dataset(name, size, description, unit="images", **more):
    """The card's structured dataset entry: name, size (in `unit`), description and more
    fields (image_size, held_out, labels)."""
    return {"name": str(name), "size": int(size), "unit": unit, **more, "description": description}


def finish(model, args, name, history, dataset, description, pictures, **card):
    """Writes the preset (weights, config, card) and its pictures; returns its path."""
    import keras

    from zoo import viz
    from zoo.registry import save_preset

    workdir = pathlib.Path(args.workdir)
    out = pathlib.Path(args.out or workdir / "preset")
    wall = workdir / "wall.json"
    final = {k: round(v[-1], 4) for k, v in history.items()}
    argv = " ".join(shlex.quote(a) for a in args.argv)
    # the recipe file that ran (one file can make several presets: recipes/vae.py, recipes/gpt.py)
    script = f"{args.recipe}.py"
    preset = save_preset(
        model, out, name=name, description=description, dataset=dataset,
        recipe=f"KERAS_BACKEND={keras.backend.backend()} python recipes/{script} {argv}".strip(),
        init=args.init, backend=keras.backend.backend(),
        epochs=len(next(iter(history.values()), [])), batch_size=args.batch_size,
        steps=int(keras.ops.convert_to_numpy(model.optimizer.iterations.value)),
        wall_time_s=round(json.loads(wall.read_text())["seconds"], 1) if wall.exists() else None,
        machine=machine(), final_epoch_metrics=final, **card)
    for filename, content in pictures.items():
        if isinstance(content, str):
            (preset / filename).write_text(content, encoding="utf-8")
        else:
            viz.save_grid(content, preset / filename)
    viz.save_loss_curves(history, preset / "loss.png", title=name)
    print(f"wrote preset {preset}")
    return preset
