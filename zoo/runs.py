"""A training run's folder, kept consistent: one run at a time, files written whole, and
checkpoints that prove themselves.

    WORKDIR/run.lock                     pid, host and command of the run that holds the folder
    WORKDIR/checkpoints/epoch_0007.weights.h5   model + optimizer state after 7 epochs
    WORKDIR/checkpoints/epoch_0007.json         its sidecar: epoch, step, sha256, wall time,
                                                written (atomically) after the weights
                                                (the newest two are kept, and with
                                                `keep_every=N` every N-th epoch's too: a
                                                curve of a metric against epochs)
    WORKDIR/log.csv                      one row per trained epoch, rewritten whole each epoch
    WORKDIR/wall.json                    training seconds across resumes

A checkpoint counts only once its sidecar exists and the weights file still has the
sidecar's sha256. A resumed run takes the newest checkpoint that proves itself, says so
when it had to fall back to an older one, and cuts `log.csv` and the wall time back to
that checkpoint, so that no epoch is repeated or missing.
"""

import contextlib
import csv
import hashlib
import io
import json
import os
import pathlib
import socket
import sys
import time

from zoo.errors import ZooError
from zoo.io import atomic_write, atomic_write_json, sha256

LOCK = "run.lock"
KEEP = 2  # checkpoints kept: the newest and the one before it
# what a run writes in its folder (WORKDIR/preset: the preset, when no --out names another)
RUN_ENTRIES = (LOCK, "checkpoints", "log.csv", "wall.json", "grids", "samples", "preset")


class RunLockedError(ZooError, RuntimeError):
    """Another live run holds the workdir."""


class CheckpointError(ZooError, RuntimeError):
    """No checkpoint in the workdir can be trusted."""


class ForeignFilesError(ZooError, RuntimeError):
    """A run was asked to empty a folder that holds files it did not write."""


def clear_run(workdir):
    """Removes what a run wrote in `workdir` (`RUN_ENTRIES` but the lock, and their temporary
    files, `.NAME.*`), for `--fresh`. A folder that holds anything else is refused whole,
    naming one such entry, before anything is removed: zoo deletes only what it wrote."""
    import shutil

    workdir = pathlib.Path(workdir)
    ours = lambda name: name in RUN_ENTRIES or any(name.startswith(f".{e}.") for e in RUN_ENTRIES)  # noqa: E731
    foreign = sorted(p.name for p in workdir.iterdir() if not ours(p.name))
    if foreign:
        raise ForeignFilesError(
            f"--fresh empties only a run's folder, and {workdir} holds {foreign[0]!r}"
            + (f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else "") + ", which no run wrote; nothing "
            "was removed: use a --workdir of its own (the default is runs/NAME)")
    for path in sorted(workdir.iterdir()):
        if path.name == LOCK or path.name.startswith(f".{LOCK}."):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


# -- one run per workdir ----------------------------------------------------------------------
def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


class WorkdirLock:
    """`WORKDIR/run.lock`, created atomically with this process's pid and host. A lock whose
    process is gone (same host) is stale and taken over; a live one is an error naming it."""

    def __init__(self, workdir):
        self.path = pathlib.Path(workdir) / LOCK
        self.held = False

    def holder(self):
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (ValueError, UnicodeDecodeError):
            return {}

    def acquire(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "command": " ".join(sys.argv)}
        tmp = self.path.with_name(f".{LOCK}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(me))
        try:
            for _ in range(3):
                try:
                    os.link(tmp, self.path)  # atomic: fails if a lock exists
                    self.held = True
                    return self
                except FileExistsError:
                    pass
                holder = self.holder()
                if holder is None:
                    continue  # released meanwhile
                if holder.get("pid") == os.getpid() and holder.get("host") == me["host"]:
                    self.held = True
                    return self
                if holder and holder.get("host") != me["host"]:
                    raise RunLockedError(
                        f"{self.path.parent} is in use by pid {holder.get('pid')} on host {holder.get('host')} "
                        f"(since {holder.get('since')}); use another --workdir, or delete {self.path} "
                        "if that run is gone")
                if holder and _alive(int(holder.get("pid", -1))):
                    raise RunLockedError(
                        f"{self.path.parent} is in use by another run: pid {holder['pid']} on this host "
                        f"(since {holder.get('since')}: {holder.get('command', '?')}); wait for it, or use "
                        "another --workdir")
                # stale (its process is gone) or unreadable: take it over
                stale = self.path.with_name(f".{LOCK}.stale.{os.getpid()}")
                with contextlib.suppress(FileNotFoundError):
                    os.replace(self.path, stale)
                    stale.unlink()
                    print(f"zoo: took over the stale lock of pid {holder.get('pid', '?')} in {self.path.parent}",
                          file=sys.stderr)
            raise RunLockedError(f"could not take the lock {self.path}; another run keeps taking it")
        finally:
            tmp.unlink(missing_ok=True)

    def release(self):
        if self.held:
            holder = self.holder()
            if holder and holder.get("pid") == os.getpid():
                self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


# -- the log ------------------------------------------------------------------------------------
def read_rows(path):
    """log.csv as a list of row dicts (an absent file: none)."""
    path = pathlib.Path(path)
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_rows(path, rows):
    keys = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    keys = ["epoch"] + [k for k in keys if k != "epoch"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=keys, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, out.getvalue())


# -- checkpoints ------------------------------------------------------------------------------
def _seed_states(model):
    """The model's random-number state (its and its layers' `SeedGenerator`s), which
    `save_weights` leaves out."""
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


class Checkpoints:
    """The checkpoints of a workdir: `save(model, epoch, wall_s)` and `restore(model)`."""

    def __init__(self, workdir, keep_every=0):
        if not isinstance(keep_every, int) or isinstance(keep_every, bool) or keep_every < 0:
            raise ValueError(f"keep_every is a number of epochs, an integer >= 0 (0: keep the newest {KEEP} "
                             f"checkpoints only); got {keep_every!r}")
        self.dir, self.keep_every = pathlib.Path(workdir) / "checkpoints", keep_every

    def sidecars(self):
        return sorted(self.dir.glob("epoch_*.json"), reverse=True)

    def save(self, model, epoch, wall_s):
        """After `epoch` finished epochs: the weights, then the sidecar that certifies them."""
        import keras

        from zoo.core.model import weights_bytes

        weights = self.dir / f"epoch_{epoch:04d}.weights.h5"
        self.dir.mkdir(parents=True, exist_ok=True)
        data = weights_bytes(model)  # made in memory, written whole (a full disk is one line, nothing half-written)
        step = int(keras.ops.convert_to_numpy(model.optimizer.iterations)) if model.optimizer else 0
        atomic_write(weights, data)
        try:
            atomic_write_json(weights.with_suffix("").with_suffix(".json"), {
                "epoch": epoch, "step": step, "sha256": hashlib.sha256(data).hexdigest(), "weights": weights.name,
                "wall_s": wall_s, "written": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "seed_states": {v.path: keras.ops.convert_to_numpy(v).tolist() for v in _seed_states(model)}})
        except OSError:
            weights.unlink(missing_ok=True)  # weights without their sidecar would only be skipped: not kept
            raise
        for old in self.sidecars()[KEEP:]:
            if self.keep_every and self._epoch_of(old) % self.keep_every == 0:
                continue
            (self.dir / old.name.replace(".json", ".weights.h5")).unlink(missing_ok=True)
            old.unlink(missing_ok=True)

    def kept(self):
        """{epoch: weights file} of the checkpoints that prove themselves, oldest first."""
        found = {}
        for sidecar in self.sidecars():
            meta, problem = self._check(sidecar)
            if problem is None:
                found[meta["epoch"]] = self.dir / meta["weights"]
        return dict(sorted(found.items()))

    @staticmethod
    def _epoch_of(sidecar):
        try:
            return int(sidecar.stem.split("_")[1])
        except (IndexError, ValueError):
            return -1

    def restore(self, model):
        """Loads the newest checkpoint that proves itself; returns its sidecar (None where the
        workdir has no checkpoint). Falls back to older ones, saying why; refuses with the
        files and the way out when none can be trusted."""
        import keras
        import numpy as np

        problems = []
        for sidecar in self.sidecars():
            meta, problem = self._check(sidecar)
            if problem is None:
                try:
                    if model.optimizer is not None and not model.optimizer.built:
                        model.optimizer.build(model.trainable_variables)
                    model.load_weights(self.dir / meta["weights"])
                    states = meta.get("seed_states") or {}
                    for v in _seed_states(model):  # the noise goes on where it was, as without the stop
                        if v.path in states:
                            v.assign(np.asarray(states[v.path], dtype=keras.backend.standardize_dtype(v.dtype)))
                except Exception as e:  # noqa: BLE001  (h5py and Keras raise many kinds)
                    problem = f"cannot be loaded ({type(e).__name__}: {str(e).splitlines()[0][:200]})"
            if problem is None:
                for p in problems:
                    print(f"zoo: {p}; falling back to the checkpoint of epoch {meta['epoch']}", file=sys.stderr)
                return meta
            problems.append(f"checkpoint {sidecar.with_suffix('')}: {problem}")
        if problems:
            raise CheckpointError(
                f"no usable checkpoint in {self.dir}: {'; '.join(problems)}. Delete {self.dir} (or run "
                "with --fresh) to start again from epoch 0")
        return None

    def _check(self, sidecar):
        try:
            meta = json.loads(sidecar.read_text())
            epoch, step, digest, name = int(meta["epoch"]), int(meta["step"]), str(meta["sha256"]), meta["weights"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            return None, f"its sidecar {sidecar.name} is not valid ({type(e).__name__}: {e})"
        weights = self.dir / str(name)
        if weights.parent != self.dir or not weights.is_file():
            return None, f"its weights file {name} is missing"
        actual = sha256(weights)
        if actual != digest:
            return None, (f"{weights.name} is corrupt or was modified (sha256 {actual[:12]}..., its sidecar "
                          f"says {digest[:12]}...)")
        return {**meta, "epoch": epoch, "step": step}, None
