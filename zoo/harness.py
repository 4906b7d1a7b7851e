"""The recipe harness: what every recipe shares: flags, resumable `fit`, pictures, and the
preset + card.

A recipe (recipes/NAME.py, installed as zoo.recipes.NAME) is: data -> model ->
`fit(model, x, args, ...)` -> `finish(model, args, ...)`. Runs live in `--workdir` (default runs/NAME, git-ignored):
one run at a time (`run.lock`), `checkpoints/` (a killed run started again resumes from
its newest checkpoint that proves itself; see zoo.runs), `log.csv` (every epoch, across
resumes), `grids/` (a grid from fixed noise every epoch), `wall.json` (wall time across
resumes).

Every recipe takes `--devices N` (data-parallel training on the backend's own engine, see
zoo.core.distribute; on torch the recipe starts itself again under torchrun) and
`--precision` (a Keras mixed-precision policy), which `configure(args)` applies: a recipe
calls it right after parsing its flags.
"""

import argparse
import json
import pathlib
import shlex
import sys
import time

from zoo import system
from zoo.errors import TrainingDiverged, ZooError
from zoo.io import WriteError


class RecipeParser(argparse.ArgumentParser):
    """Parses a recipe's flags and keeps them (`args.argv`, `args.recipe`) for its card.
    Parsing only parses: the recipe then calls `configure(args)` before it builds a model."""

    def error(self, message):
        """One line, as zoo's other errors (argparse prints the whole usage first)."""
        self.exit(2, f"{self.prog}: error: {message} ({self.prog} --help: its flags)\n")

    def parse_args(self, args=None, namespace=None):
        argv = [] if args is None else [str(a) for a in args]
        parsed = super().parse_args(argv, namespace)
        parsed.argv, parsed.recipe, parsed.configured = argv, self.recipe, False
        return parsed


PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
PROG = None  # how the recipe was started, for its usage line: `zoo train NAME` sets it (else recipes/NAME.py)


def number(convert=int, low=None, high=None, low_open=False, high_open=False):
    """An argparse `type`: a finite number (a whole one for `int`) in the range given, refused
    in one line otherwise (`--epochs -1`, `--batch-size 0`, `--limit 0` were taken silently)."""
    import math

    kind = "a whole number" if convert is int else "a number"
    if high is None:
        wanted = f"{kind} {'>' if low_open else '>='} {low:g}"
    else:
        wanted = f"{kind} in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {wanted}; got {text!r}") from None
        if not math.isfinite(value) or (low is not None and (value < low or (low_open and value == low))) \
                or (high is not None and (value > high or (high_open and value == high))):
            raise argparse.ArgumentTypeError(f"must be {wanted}; got {text!r}")
        return value

    parse.__name__ = wanted
    return parse


def at_least(low, convert=int):
    """`number(convert, low)`: the count flags' type."""
    return number(convert, low)


POSITIVE = number(float, 0, low_open=True)  # a learning rate, a time
FRACTION = number(float, 0, 1, high_open=True)  # a dropout, a decay, a smoothing


def configure(args):
    """Devices and precision, from the recipe's flags: what a recipe calls right after parsing
    them, before it loads data or builds a model (`init_model` and `fit` refuse to run without
    it). On torch, `--devices N` with N > 1 in a process that torchrun did not start runs this
    same command again under torchrun, in N processes, and exits with its status."""
    import keras

    from zoo.core import distribute

    devices = getattr(args, "devices", 1)
    distribute.check_batch_size(getattr(args, "batch_size", None), "--batch-size", devices)  # once, before torchrun
    if distribute.needs_launcher(devices):
        import subprocess

        command = distribute.launch_command(devices, sys.argv)
        print(f"zoo: starting {devices} processes: {' '.join(shlex.quote(c) for c in command)}", file=sys.stderr)
        raise SystemExit(subprocess.call(command))
    distribute.setup(devices)
    distribute.check_batch_size(getattr(args, "batch_size", None), "--batch-size")
    keras.mixed_precision.set_global_policy(getattr(args, "precision", "float32"))
    args.configured = True
    return args


def _check_configured(args):
    if getattr(args, "configured", True) is False:
        raise RuntimeError(f"recipe {args.recipe}: call harness.configure(args) after parsing the flags, before "
                           "building the model (it sets the devices and the precision)")


def parser(name, description, epochs, batch_size, data):
    """The flags every recipe takes; `name` is the recipe's file name (recipes/NAME.py).
    `parse_args(argv)` reads the list it is given (the recipe's `main(sys.argv[1:])` passes
    the command line)."""
    p = RecipeParser(prog=PROG or f"recipes/{name}.py", description=description,
                     formatter_class=argparse.RawDescriptionHelpFormatter)  # the docstring's lines and examples kept
    p.recipe = name
    p.add_argument("--data", default=data, help=f"dataset name or path (default: {data})")
    p.add_argument("--epochs", type=at_least(1), default=epochs,
                   help=f"epochs in all, counting those of a run resumed in WORKDIR (default {epochs})")
    p.add_argument("--batch-size", type=at_least(1), default=batch_size,
                   help=f"examples per step, over all devices (default {batch_size})")
    p.add_argument("--limit", type=at_least(1), default=None, help="train on the first N examples only")
    p.add_argument("--seed", type=at_least(0), default=0, help="seed of the weights' initialization (default 0)")
    p.add_argument("--init", default=None, help="start from this preset (name or directory): fine-tune")
    p.add_argument("--workdir", default=f"runs/{name}", help="checkpoints, logs, grids")
    p.add_argument("--out", default=None, help="preset directory to write (default: WORKDIR/preset)")
    p.add_argument("--fresh", action="store_true", help="ignore an earlier run's checkpoint in WORKDIR")
    p.add_argument("--keep-every", type=at_least(0), default=0, metavar="N",
                   help="also keep every N-th epoch's checkpoint (default 0: the newest two only)")
    p.add_argument("--devices", type=at_least(1), default=1,
                   help="train data-parallel on N devices (GPUs, or logical CPU devices); --batch-size is the "
                        "global batch, split among them (README, 'Scaling out')")
    p.add_argument("--precision", choices=PRECISIONS, default="float32",
                   help="Keras dtype policy: mixed_* compute in bfloat16/float16 with float32 weights")
    p.add_argument("--verbose", type=int, default=1 if sys.stdout.isatty() else 2, choices=(0, 1, 2),
                   help="Keras' fit output: 0 silent, 1 a bar (the default on a terminal), 2 a line per epoch "
                        "(the default in a pipe or log: no carriage returns or colour codes)")
    return p


def add_fid_curve(p, drawn_with):
    """The `--fid-curve N` and `--fid-reference PRESET` flags of an image recipe whose
    samples are `drawn_with` (words for the card); see `fid_curve`."""
    p.add_argument("--fid-curve", type=at_least(0), default=0, metavar="N",
                   help=f"FID and recall of N images ({drawn_with}, seed 0) from the --init preset and every kept "
                        "checkpoint (--keep-every), into the card with fid_curve.png (default 0: not measured)")
    p.add_argument("--fid-reference", default=None, metavar="PRESET",
                   help="with --fid-curve: also this preset's FID at the same N, the dashed line of fid_curve.png")
    p.set_defaults(fid_drawn_with=drawn_with)


def check_fid_curve(args):
    """Before training: --fid-curve needs a dataset with a feature network and a known
    --fid-reference, so that a long run does not fail at its end."""
    if not getattr(args, "fid_curve", 0):
        return
    from zoo.evaluation import FEATURES
    from zoo.tasks import OptionError

    if args.fid_curve < 2:
        raise OptionError(f"--fid-curve takes a number of images, 2 or more; got {args.fid_curve}")
    if args.data not in FEATURES:
        raise OptionError(f"--fid-curve needs one of the datasets with a feature network ({', '.join(FEATURES)}); "
                          f"got {args.data!r}")
    if args.fid_reference:
        from zoo.registry import info

        info(args.fid_reference)  # an unknown preset is refused here, in one line


def fid_curve(model, args, **options):
    """The card's `fid_curve` entry ({} without --fid-curve): zoo.evaluation.fid_curve over the
    --init preset and the checkpoints kept in the workdir, drawn with `options`."""
    if not getattr(args, "fid_curve", 0):
        return {}
    from zoo import evaluation
    from zoo.runs import Checkpoints

    return evaluation.fid_curve(model, args.fid_curve, args.data, Checkpoints(args.workdir).kept(), init=args.init,
                                reference=args.fid_reference, drawn_with=args.fid_drawn_with, **options)


def _callbacks(model, workdir, wall_s, grid, every, text=None, keep_every=0):
    import keras

    from zoo import viz
    from zoo.runs import Checkpoints, atomic_write, atomic_write_json, read_rows, write_rows

    class SampleGrid(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if grid is not None and ((epoch + 1) % every == 0):
                viz.save_grid(grid(), workdir / "grids" / f"epoch_{epoch + 1:04d}.png")
            if text is not None and ((epoch + 1) % every == 0):
                atomic_write(workdir / "samples" / f"epoch_{epoch + 1:04d}.txt", text())

    class RunFolder(keras.callbacks.Callback):
        """At each epoch's end: the log row, the wall time, then the checkpoint (a kill
        between them leaves a log row past the checkpoint, which the next run cuts back)."""

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.time()

        def on_epoch_end(self, epoch, logs=None):
            nonlocal wall_s
            wall_s += time.time() - self.start
            row = {"epoch": epoch, **{k: float(v) for k, v in sorted((logs or {}).items())}}
            write_rows(workdir / "log.csv", read_rows(workdir / "log.csv") + [row])
            atomic_write_json(workdir / "wall.json", {"seconds": wall_s})
            Checkpoints(workdir, keep_every).save(model, epoch + 1, wall_s)

    return [RunFolder(), SampleGrid()]


def _start(workdir, fresh, model):
    """Holds the workdir for this process, then restores its newest good checkpoint (or
    empties it, with --fresh); returns (epochs done, wall seconds)."""
    import atexit

    from zoo.runs import Checkpoints, WorkdirLock, atomic_write_json, clear_run, read_rows, write_rows

    from zoo.core import distribute

    if distribute.is_chief():  # one process holds the run folder (torch ranks > 0 only read it)
        lock = WorkdirLock(workdir).acquire()
        atexit.register(lock.release)
        if fresh:
            clear_run(workdir)  # what a run wrote, and only in a folder that holds nothing else
    distribute.barrier()
    meta = Checkpoints(workdir).restore(model)
    if not distribute.is_chief():
        return (meta["epoch"], 0.0) if meta else (0, 0.0)
    epochs, wall_s = (meta["epoch"], float(meta.get("wall_s") or 0.0)) if meta else (0, 0.0)
    rows = read_rows(workdir / "log.csv")
    if len(rows) > epochs:
        print(f"zoo: {workdir / 'log.csv'} had {len(rows) - epochs} row(s) past the checkpoint of "
              f"epoch {epochs}; cut back to it", file=sys.stderr)
        write_rows(workdir / "log.csv", rows[:epochs])
    atomic_write_json(workdir / "wall.json", {"seconds": wall_s})
    if meta:
        print(f"zoo: resuming {workdir} at epoch {epochs} (step {meta['step']})", file=sys.stderr)
    return epochs, wall_s


def fit(model, x, args, grid=None, grid_every=1, text=None, **fit_kwargs):
    """`model.fit` in the run folder `args.workdir` (see zoo.runs): held by this process
    alone, resumed from its newest good checkpoint, checkpointed and logged every epoch.
    Returns the loss history of all epochs of this workdir (earlier, resumed runs
    included) as {name: [per epoch]}.

    `x`: arrays (batched here by --batch-size, shuffled) or a `keras.utils.PyDataset`
    (which batches itself). `grid()` -> images and `text()` -> str are saved every
    `grid_every` epochs under WORKDIR/grids and WORKDIR/samples."""
    import keras

    from zoo.core import distribute

    _check_configured(args)
    check_fid_curve(args)
    workdir = pathlib.Path(args.workdir)
    done, wall_s = _start(workdir, args.fresh, model)
    if not isinstance(x, keras.utils.PyDataset):
        fit_kwargs = {"batch_size": args.batch_size, "shuffle": True, **fit_kwargs}
        n = len(keras.tree.flatten(x)[0])
        keep = n - n % distribute.count()
        if keep < n:  # so the last, partial batch divides among the devices too
            print(f"zoo: training on {keep} of the {n} examples, a multiple of the {distribute.count()} devices",
                  file=sys.stderr)
            x = keras.tree.map_structure(lambda a: a[:keep], x)
            if fit_kwargs.get("y") is not None:
                fit_kwargs["y"] = keras.tree.map_structure(lambda a: a[:keep], fit_kwargs["y"])
    elif hasattr(x, "epoch"):
        x.epoch = done  # a dataset that draws by (seed, epoch, step) goes on where it was
    chief = distribute.is_chief()
    extra = list(fit_kwargs.pop("callbacks", None) or [])
    try:
        model.fit(x, epochs=args.epochs, initial_epoch=min(done, args.epochs), verbose=args.verbose if chief else 0,
                  callbacks=(_callbacks(model, workdir, wall_s, grid, grid_every, text,
                                        getattr(args, "keep_every", 0)) if chief else []) + extra,
                  **fit_kwargs)
    except TrainingDiverged as e:
        raise TrainingDiverged(f"{e}; the last good checkpoint is kept in {workdir / 'checkpoints'} "
                               "(lower the learning rate, then run again to resume from it)") from None
    except WriteError as e:
        raise WriteError(f"{e}. Training stopped; {_last_kept(workdir)}: free some space, then run the same "
                         "command again to resume from it") from None
    except KeyboardInterrupt:
        raise Interrupted(f"stopped by the user (Ctrl-C) during training; {_last_kept(workdir)}: run the same "
                          "command again to resume from it") from None
    if not chief:  # rank 0 alone measures the model and writes the preset
        raise SystemExit(0)
    return read_log(workdir / "log.csv")


class Interrupted(ZooError, KeyboardInterrupt):
    """Training was stopped by the user; the message says where it can resume from."""


def _last_kept(workdir):
    from zoo.runs import Checkpoints

    kept = Checkpoints(workdir).kept()
    if not kept:
        return f"no checkpoint was written yet in {workdir} (the next run starts at epoch 0)"
    epoch = max(kept)
    return f"the checkpoint of epoch {epoch} is kept in {kept[epoch]}"


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

    _check_configured(args)
    keras.utils.set_random_seed(args.seed)
    if not args.init:
        return build()
    import warnings

    from zoo.errors import ZooWarning
    from zoo.registry import load

    model, fresh = load(args.init), build()  # the new one: what the recipe's flags would have made
    if type(model) is not type(fresh):
        raise ZooError(f"--init {args.init} is a {type(model).__name__}; recipes/{args.recipe}.py trains a "
                       f"{type(fresh).__name__}: give a {type(fresh).__name__} preset (or no --init)")
    ours, theirs = model.get_config(), fresh.get_config()
    simple = (int, float, str, bool, list, tuple, type(None))
    differ = sorted(k for k in ours if k not in ("name", "seed", "trainable", "dtype") and k in theirs
                    and isinstance(ours[k], simple) and isinstance(theirs[k], simple) and ours[k] != theirs[k])
    if differ:
        warnings.warn(f"--init {args.init}: its architecture is kept ({', '.join(f'{k}={ours[k]!r}' for k in differ)}"
                      f"), not the flags' ({', '.join(f'{k}={theirs[k]!r}' for k in differ)})", ZooWarning,
                      stacklevel=2)
    return model


def dataset(name, size, description, unit="images", **more):
    """The card's structured dataset entry: name, size (in `unit`), description and more
    fields (image_size, held_out, labels)."""
    return {"name": str(name), "size": int(size), "unit": unit, **more, "description": description}


def finish(model, args, name, history, dataset, description, pictures, **card):
    """Writes the preset (weights, config, card) and its pictures; returns its path."""
    import keras

    from zoo import viz
    from zoo.cards import write_card
    from zoo.core import distribute
    from zoo.publish import save_preset
    from zoo.runs import atomic_write

    workdir = pathlib.Path(args.workdir)
    out = pathlib.Path(args.out or workdir / "preset")
    wall = workdir / "wall.json"
    from zoo.cards import DATASETS

    data = getattr(args, "data", None)
    if args.init and data is not None and str(data) not in DATASETS:
        # fine-tuned on the user's data: its own name (the folder's, or NAME_DATA), not the shipped one it came from
        name = out.name if out.name != "preset" else f"{name}_{pathlib.Path(str(data).rstrip('/')).stem}"
    final = {k: round(v[-1], 4) for k, v in history.items()}
    argv = " ".join(shlex.quote(a) for a in args.argv)
    if args.init and "init_training" not in card:  # the training the --init preset had had
        from zoo.registry import info

        before = info(args.init)
        card["init_training"] = {k: before.get(k) for k in ("epochs", "steps", "wall_time_s", "machine",
                                                             "weights_sha256")}
    # the recipe file that ran (one file can make several presets: recipes/vae.py, recipes/gpt.py)
    script = f"{args.recipe}.py"
    preset = save_preset(
        model, out, name=name, description=description, dataset=dataset,
        recipe=f"KERAS_BACKEND={keras.backend.backend()} python recipes/{script} {argv}".strip(),
        init=args.init, backend=keras.backend.backend(),
        epochs=len(next(iter(history.values()), [])), batch_size=args.batch_size,
        steps=int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
        wall_time_s=round(json.loads(wall.read_text())["seconds"], 1) if wall.exists() else None,
        machine=system.machine(), final_epoch_metrics=final, devices=distribute.count(),
        precision=keras.mixed_precision.global_policy().name, **card)
    for filename, content in pictures.items():
        if isinstance(content, str):
            atomic_write(preset / filename, content)
        else:
            viz.save_grid(content, preset / filename)
    viz.save_loss_curves(history, preset / "loss.png", title=name)
    curve = card.get("fid_curve")
    if curve:
        viz.save_fid_curve(curve, preset / "fid_curve.png", name)
    write_card(preset)  # again, now that the pictures are there
    print(f"wrote preset {preset}")
    return preset
