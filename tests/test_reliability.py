"""No silent corruption: one run per workdir, finite training, checkpoints that prove
themselves, the origin of shipped presets, and images in the convention zoo expects. Each
test follows a reproduction of the reliability issue."""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings

import keras
import numpy as np
import pytest
from conftest import ROOT, numpy, run, small_gan

import zoo
from zoo import harness, registry
from zoo.errors import DataError, PresetError, TrainingDiverged
from zoo.runs import Checkpoints, CheckpointError, ForeignFilesError, RunLockedError, WorkdirLock


def weights_of(model):
    return [numpy(v).copy() for v in model.weights]


def same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b))


# -- one run per workdir -----------------------------------------------------------------
@pytest.mark.once_under("torch", "three training processes; the lock and log are the same on every backend")
def test_a_second_run_in_a_busy_workdir_is_refused_and_a_killed_one_resumes(tmp_path, backend, mnist_tiny):
    """Two trainings in one --workdir: the second is refused, naming the first; the first,
    killed, leaves a stale lock that the next run takes over, and it resumes from its
    checkpoint with one log row per epoch and the card's steps from what was trained. Once, under
    PyTorch: the lock and the log are plain files, the same on every backend, and `zoo train`
    resumes a recipe from its checkpoint on each backend in test_cli."""
    work = tmp_path / "run"
    cmd = [sys.executable, str(ROOT / "recipes" / "gan_mnist.py"), "--data", str(mnist_tiny),
           "--batch-size", "30", "--workdir", str(work), "--verbose", "0"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    first = subprocess.Popen(cmd + ["--epochs", "1000"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        log = work / "log.csv"
        deadline = time.time() + 300
        while time.time() < deadline and (not log.exists() or len(log.read_text().splitlines()) < 2):
            time.sleep(0.5)
        second = run(cmd[1:] + ["--epochs", "2", "--seed", "1"], backend=backend, check=False)
        assert second.returncode != 0
        assert f"in use by another run: pid {first.pid}" in second.stderr
        while time.time() < deadline and len(log.read_text().splitlines()) < 3:
            time.sleep(0.5)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert json.loads((work / "run.lock").read_text())["pid"] == first.pid  # left behind by the kill
    done = len(log.read_text().splitlines()) - 1
    assert done >= 2, "the recipe did not get through two epochs"
    resumed = run(cmd[1:] + ["--epochs", str(done + 1)], backend=backend)
    assert f"took over the stale lock of pid {first.pid}" in resumed.stderr
    assert not (work / "run.lock").exists()
    epochs = [int(line.split(",")[0]) for line in log.read_text().splitlines()[1:]]
    # the log row is written before the checkpoint: a kill between them leaves a row that the
    # resumed run cuts back and trains again, so the epochs are 0..done, each once
    assert epochs == list(range(done + 1))
    card = json.loads((work / "preset" / "metadata.json").read_text())
    assert card["epochs"] == done + 1 and card["steps"] == (done + 1) * 10  # 300 images / batch 30


def test_a_stale_lock_is_taken_over_and_a_live_one_is_refused(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = tmp_path / "run.lock"
    lock.write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename, "since": "then"}))
    with WorkdirLock(tmp_path) as held:
        assert json.loads(lock.read_text())["pid"] == os.getpid() and held.held
    assert not lock.exists()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock.write_text(json.dumps({"pid": alive.pid, "host": os.uname().nodename, "since": "now"}))
        with pytest.raises(RunLockedError, match=f"pid {alive.pid} on this host"):
            WorkdirLock(tmp_path).acquire()
        assert json.loads(lock.read_text())["pid"] == alive.pid
    finally:
        alive.kill()
        alive.wait()


# -- finite training ------------------------------------------------------------------------
def test_nan_in_fit_on_a_loaded_preset_is_refused_and_loses_nothing():
    model = zoo.load("gan_mnist", compile=True)
    x = np.random.default_rng(0).integers(0, 256, (64, 28, 28, 1)).astype("uint8")
    bad = x.astype("float32") / 127.5 - 1
    bad[37, 3, 3, 0] = np.nan
    before = weights_of(model)
    with pytest.raises(DataError, match=r"nan at sample 37"):
        model.fit(bad, batch_size=32, epochs=1, verbose=0)

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return bad[32 * i:32 * (i + 1)]

    with pytest.raises(DataError, match=r"batch 1 holds nan at sample 5"):
        model.fit(Batches(), epochs=1, verbose=0)
    assert all(np.isfinite(w).all() for w in weights_of(model))

    def generator():  # not read ahead: the step's own check stops it
        yield (x[:32].astype("float32") / 127.5 - 1,)
        yield (bad[32:],)

    model = zoo.load("gan_mnist", compile=True)
    with pytest.raises(TrainingDiverged, match=r"at epoch 1, batch 1: d_loss is nan.*; put back the weights of "
                                               r"the start of this fit \(step 0\)"):
        model.fit(generator(), epochs=1, steps_per_epoch=2, verbose=0)
    assert same(weights_of(model), before)
    model.discriminator.weights[0].assign(np.full(model.discriminator.weights[0].shape, np.nan, "float32"))
    with pytest.raises(PresetError, match="non-finite values in"):  # nothing non-finite is ever written
        zoo.save_preset(model, "unused", dataset="none")


def test_train_on_batch_is_guarded_as_fit_is(digits):
    """train_on_batch returned NaN losses and kept NaN weights (zoo's guard read a dict, Keras
    returned a list): now a non-finite step is refused and the state of before it put back."""
    model = small_gan()
    model.compile()
    batch = digits[:32].astype("float32") / 127.5 - 1
    values = model.train_on_batch(batch)
    assert isinstance(values, list) and len(values) == len(model.metrics) and np.isfinite(values).all()
    logs = model.train_on_batch(batch, return_dict=True)
    assert set(logs) == {m.name for m in model.metrics}  # the guard's flag never shows
    good = weights_of(model)
    model.compile(g_optimizer=keras.optimizers.SGD(float("inf")), d_optimizer=keras.optimizers.SGD(1e-3))
    with pytest.raises(TrainingDiverged, match=r"training diverged on this batch: .*weight\(s\) non-finite .*put "
                                               r"back the weights and optimizer state of before it"):
        model.train_on_batch(batch)
    assert same(weights_of(model), good)
    nan = batch.copy()
    nan[3, 2, 2, 0] = np.nan
    with pytest.raises(DataError, match=r"nan at sample 3"):
        model.train_on_batch(nan)
    assert same(weights_of(model), good)


def test_a_step_that_makes_a_weight_non_finite_stops_fit_and_puts_back_the_last_epoch(digits):
    model = small_gan()
    model.compile()
    model.fit(digits[:64], batch_size=32, epochs=1, verbose=0)
    good = weights_of(model)
    # a learning rate of inf: the first step's losses are finite, its updated weights are not
    model.compile(g_optimizer=keras.optimizers.SGD(float("inf")), d_optimizer=keras.optimizers.SGD(1e-3))
    with pytest.raises(TrainingDiverged, match=r"training diverged at epoch 1, batch 1: .*weight \S+ "
                                               r"\(and \d+ more\) are non-finite .*put back the weights "
                                               r"of the start of this fit"):
        model.fit(digits[:64], batch_size=32, epochs=3, verbose=0)
    assert same(weights_of(model), good)
    # made non-finite by an epoch's last step: caught at the epoch's end, before it is kept
    with pytest.raises(TrainingDiverged, match=r"training diverged by the end of epoch 1: weight \S+ "
                                               r"\(and \d+ more\) are non-finite; put back the weights of the "
                                               r"start of this fit"):
        model.fit(digits[:32], batch_size=32, epochs=2, verbose=0)
    assert same(weights_of(model), good)
    model.compile()
    history = model.fit(digits[:64], batch_size=32, epochs=1, verbose=0, callbacks=[])
    assert "_zoo_finite" not in history.history  # the guard's flag never shows


def test_a_recipe_stops_at_a_non_finite_step_and_keeps_its_last_good_checkpoint(tmp_path, digits):
    args = argparse.Namespace(workdir=str(tmp_path / "run"), fresh=False, batch_size=32, epochs=1, verbose=0)
    model = small_gan()
    model.compile()
    harness.fit(model, digits[:64], args)
    checkpoints = sorted((tmp_path / "run" / "checkpoints").iterdir())
    digest = {p: zoo.io.sha256(p) for p in checkpoints}
    model.compile(g_optimizer=keras.optimizers.SGD(1e38), d_optimizer=keras.optimizers.SGD(1e38))
    args.epochs = 2
    with pytest.raises(TrainingDiverged, match="last good checkpoint is kept in"):
        harness.fit(model, digits[:64], args)
    assert {p: zoo.io.sha256(p) for p in sorted((tmp_path / "run" / "checkpoints").iterdir())} == digest


# -- checkpoints that prove themselves ------------------------------------------------------
def train(workdir, epochs, digits, fresh=False, keep_every=0):
    args = argparse.Namespace(workdir=str(workdir), fresh=fresh, batch_size=32, epochs=epochs, verbose=0,
                              out=None, argv=[], recipe="test", init=None, keep_every=keep_every)
    model = small_gan()
    model.compile()
    return model, args, harness.fit(model, digits[:64], args)


def flip_a_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))


def test_a_flipped_byte_in_a_checkpoint_falls_back_to_the_one_before(tmp_path, digits, capfd):
    work = tmp_path / "run"
    train(work, 3, digits)
    flip_a_byte(work / "checkpoints" / "epoch_0003.weights.h5")
    model, args, history = train(work, 4, digits)
    err = capfd.readouterr().err
    assert "epoch_0003.weights.h5 is corrupt or was modified" in err
    assert "falling back to the checkpoint of epoch 2" in err
    assert "resuming" in err and "at epoch 2 (step 4)" in err
    epochs = [int(line.split(",")[0]) for line in (work / "log.csv").read_text().splitlines()[1:]]
    assert epochs == [0, 1, 2, 3]  # epoch 3 trained again, logged once
    preset = harness.finish(model, args, "test", history, dataset="fixture", description="d", pictures={})
    card = json.loads((preset / "metadata.json").read_text())
    assert card["epochs"] == 4 and card["steps"] == 8


def test_no_trustworthy_checkpoint_is_an_error_naming_the_files_and_the_way_out(tmp_path, digits):
    work = tmp_path / "run"
    train(work, 2, digits)
    for p in (work / "checkpoints").glob("*.weights.h5"):
        flip_a_byte(p)
    with pytest.raises(CheckpointError, match=r"no usable checkpoint in .*epoch_0002\.weights\.h5 is corrupt.*"
                                              r"epoch_0001\.weights\.h5 is corrupt.*--fresh"):
        train(work, 3, digits)
    (work / "checkpoints" / "epoch_0002.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"sidecar epoch_0002\.json is not valid"):
        train(work, 3, digits)
    train(work, 1, digits, fresh=True)  # --fresh starts again
    assert sorted(p.name for p in (work / "checkpoints").iterdir()) == ["epoch_0001.json", "epoch_0001.weights.h5"]


def test_fresh_removes_only_what_a_run_wrote_and_refuses_a_folder_with_anything_else(tmp_path, digits):
    """`--fresh` in a project folder deleted .git and the user's files: now it refuses the
    folder, naming what no run wrote, and removes nothing."""
    work = tmp_path / "project"
    (work / ".git").mkdir(parents=True)
    (work / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (work / "notes.txt").write_text("mine")
    train(work, 1, digits)  # a run may share the folder; --fresh may not empty it
    with pytest.raises(ForeignFilesError, match=r"holds '\.git' \(and 1 more\), which no run wrote; nothing was "
                                                r"removed"):
        train(work, 1, digits, fresh=True)
    assert (work / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n" and (work / "notes.txt").read_text() == "mine"
    assert (work / "checkpoints" / "epoch_0001.json").is_file() and (work / "log.csv").is_file()
    shutil.rmtree(work / ".git")
    (work / "notes.txt").unlink()
    (work / ".log.csv.123.tmp").write_text("a killed write's leftover")
    train(work, 1, digits, fresh=True)
    assert sorted(p.name for p in work.iterdir()) == ["checkpoints", "log.csv", "run.lock", "wall.json"]  # held till exit


@pytest.mark.parametrize("fails_at", ["write_metadata", "write_card", "replace_folder"])
def test_a_preset_saved_over_another_is_the_old_one_or_the_new_one_never_a_mix(tmp_path, monkeypatch, fails_at):
    """A kill during save_preset left the new weights beside the old card (the old preset lost):
    now the folder is written beside it and swapped in, in one step."""
    from zoo import cards, publish

    model = small_gan()
    target = publish.save_preset(model, tmp_path / "mine", dataset="fixture", description="old")
    old = zoo.io.sha256(target / "model.weights.h5")
    for v in model.trainable_variables:
        v.assign(v + 0.5)
    where = publish if fails_at == "replace_folder" else cards

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(where, fails_at, killed)
    with pytest.raises(KeyboardInterrupt):
        publish.save_preset(model, target, dataset="fixture", description="new")
    monkeypatch.undo()
    assert zoo.io.sha256(target / "model.weights.h5") == old and zoo.info(target)["description"] == "old"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", registry.UnverifiedPresetWarning)
        zoo.load(target)  # whole, and checked against its own card
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]  # nothing half-written left beside it
    publish.save_preset(model, target, dataset="fixture", description="new")
    assert zoo.io.sha256(target / "model.weights.h5") != old and zoo.info(target)["description"] == "new"
    (target / "notes.txt").write_text("mine")
    with pytest.raises(PresetError, match=r"cannot write a preset over .*mine: it holds 'notes.txt', which is not "
                                          r"a file of the preset there; nothing was changed"):
        publish.save_preset(model, target, dataset="fixture", description="newer")
    assert (target / "notes.txt").read_text() == "mine" and zoo.info(target)["description"] == "new"


def test_a_folder_named_like_a_shipped_preset_does_not_take_over_its_name(tmp_path, monkeypatch):
    """A folder ./gan_mnist silently replaced the shipped gan_mnist: now the bare name is the
    shipped preset, with a note, and the folder loads as ./gan_mnist."""
    from zoo import publish

    monkeypatch.chdir(tmp_path)
    publish.save_preset(small_gan(), tmp_path / "gan_mnist", dataset="fixture", description="mine")
    with pytest.warns(registry.ShadowedPresetWarning, match=r"'gan_mnist' is zoo's shipped preset; the folder "
                                                             r"gan_mnist here is not loaded \(give ./gan_mnist"):
        assert zoo.load("gan_mnist").preset_origin == "shipped"
    with pytest.warns(registry.UnverifiedPresetWarning):
        assert zoo.load("./gan_mnist").preset_origin == "user"
    assert zoo.info("./gan_mnist")["description"] == "mine"


def test_a_run_continued_from_a_preset_says_what_training_the_preset_had(tmp_path, digits):
    model, args, history = train(tmp_path / "first", 2, digits)
    first = harness.finish(model, args, "test", history, dataset="fixture", description="d", pictures={})
    model, args, history = train(tmp_path / "more", 1, digits)
    args.init = str(first)
    preset = harness.finish(model, args, "test", history, dataset="fixture", description="d", pictures={})
    card = json.loads((preset / "metadata.json").read_text())
    assert card["init"] == str(first) and card["epochs"] == 1
    assert card["init_training"]["epochs"] == 2 and card["init_training"]["steps"] == 4
    readme = (preset / "README.md").read_text()
    assert "2 epochs, 4 steps" in readme and "3 epochs in all" in readme


def test_keep_every_keeps_a_curve_of_checkpoints_that_still_prove_themselves(tmp_path, digits):
    work = tmp_path / "run"
    train(work, 5, digits, keep_every=2)
    kept = Checkpoints(work).kept()
    assert list(kept) == [2, 4, 5]  # every 2nd epoch's, and the newest two
    flip_a_byte(kept[2])
    assert list(Checkpoints(work).kept()) == [4, 5]  # a corrupt one drops out of the curve
    with pytest.raises(ValueError, match="keep_every is a number of epochs, an integer >= 0"):
        Checkpoints(work, keep_every=-1)


def test_fid_curve_measures_the_init_preset_and_every_kept_checkpoint(tmp_path, digits):
    model, args, history = train(tmp_path / "first", 2, digits)
    first = harness.finish(model, args, "test", history, dataset="fixture", description="d", pictures={})
    model, args, history = train(tmp_path / "more", 4, digits, keep_every=2)
    trained = [numpy(w).copy() for w in model.weights]
    args.init, args.data, args.fid_curve, args.fid_reference = str(first), "mnist", 64, "gan_mnist"
    args.fid_drawn_with = "the generator"
    harness.check_fid_curve(args)
    curve = harness.fid_curve(model, args)["fid_curve"]
    assert list(curve["fid"]) == list(curve["recall"]) == ["2", "4", "5", "6"]  # the init's 2 epochs, then 2, 3, 4
    assert all(np.isfinite(v) and v > 0 for v in curve["fid"].values())
    assert curve["reference"]["preset"] == "gan_mnist" and curve["fid"]["6"] > curve["reference"]["fid"]
    assert all(np.array_equal(a, numpy(b)) for a, b in zip(trained, model.weights))  # the weights it trained to
    preset = harness.finish(model, args, "test", history, dataset="fixture", description="d", pictures={},
                            fid_curve=curve)
    assert (preset / "fid_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    row = f"| FID by epoch (64 samples, the generator, seed 0) | 2: {curve['fid']['2']}, 4: "
    assert row in (preset / "README.md").read_text()
    args.data = "my_folder"
    with pytest.raises(ValueError, match="--fid-curve needs one of the datasets with a feature network"):
        harness.check_fid_curve(args)
    args.data, args.fid_reference = "mnist", "no_such_preset"
    with pytest.raises(KeyError, match="unknown model 'no_such_preset'"):
        harness.check_fid_curve(args)


# -- origin of presets ------------------------------------------------------------------------
def test_a_rewritten_shipped_preset_is_refused_even_with_its_metadata_rewritten(tmp_path, monkeypatch):
    presets = tmp_path / "presets"
    shutil.copytree(registry.PRESETS_DIR / "gan_mnist", presets / "gan_mnist")
    monkeypatch.setattr(registry, "PRESETS_DIR", presets)
    assert zoo.load("gan_mnist").preset_origin == "shipped"
    model = small_gan()  # someone else's weights, written in place with a matching card
    other = zoo.save_preset(model, tmp_path / "other", dataset="none")
    shutil.copy(other / "model.weights.h5", presets / "gan_mnist" / "model.weights.h5")
    card = json.loads((presets / "gan_mnist" / "metadata.json").read_text())
    card["weights_sha256"] = zoo.io.sha256(presets / "gan_mnist" / "model.weights.h5")
    (presets / "gan_mnist" / "metadata.json").write_text(json.dumps(card))
    with pytest.raises(PresetError, match="shipped preset gan_mnist: model.weights.h5 is corrupt or was modified "
                                          r".*zoo's manifest says"):
        zoo.load("gan_mnist")


def test_user_presets_say_they_are_unverified_and_copies_of_shipped_ones_are_recognized(tmp_path):
    copy = shutil.copytree(registry.PRESETS_DIR / "gan_mnist", tmp_path / "mine")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert zoo.load(copy).preset_origin == "copy of gan_mnist"
    path = zoo.save_preset(small_gan(), tmp_path / "user", dataset="none")
    with pytest.warns(registry.UnverifiedPresetWarning, match="user preset .* its own metadata.json"):
        assert zoo.load(path).preset_origin == "user"


def test_the_manifest_covers_every_shipped_preset():
    from zoo.manifest import SHIPPED

    assert sorted(SHIPPED) == zoo.list_models()
    for name in SHIPPED:
        assert registry.Preset(name).verify() == "shipped"


# -- value ranges ---------------------------------------------------------------------------------
def test_images_in_the_wrong_range_are_refused_with_the_convention_expected(digits):
    model = small_gan()
    model.compile()
    before = weights_of(model)
    with pytest.raises(DataError, match=r"float images must be in \[-1, 1\] .*got float32 in \[0, 255\]"):
        model.fit(digits.astype("float32"), batch_size=32, epochs=1, verbose=0)
    with pytest.raises(DataError, match=r"looks like \[0, 1\]; give x \* 2 - 1"):
        model.fit(digits.astype("float32") / 255, batch_size=32, epochs=1, verbose=0)
    with pytest.raises(DataError, match="uint8 in .0, 255. or floats in .-1, 1.; got int64"):
        model.fit(digits.astype("int64"), batch_size=32, epochs=1, verbose=0)
    assert same(weights_of(model), before)
    model.fit(digits.astype("float32") / 127.5 - 1, batch_size=32, epochs=1, verbose=0)  # the documented floats

    vae = zoo.load("vae_mnist")
    with pytest.raises(ValueError, match=r"takes uint8 images in \[0, 255\]; got float32 in \[0, 1\]"):
        vae.encode(digits[:4].astype("float32") / 255)
    assert vae.encode(digits[:4])[0].shape == (4, vae.latent_dim)


def test_token_ids_outside_the_vocabulary_are_refused():
    from zoo.models.gpt import GPT

    gpt = GPT("abc\n", block_size=8, num_layers=1, num_heads=1, embed_dim=8)
    gpt.compile()
    x = np.array([[0, 1, 2, 4]] * 4)
    with pytest.raises(DataError, match=r"integer token ids in \[0, 3\]; got ids in \[0, 4\]"):
        gpt.fit(x, x, batch_size=2, epochs=1, verbose=0)


# -- a full disk, a file size limit, a read-only folder --------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB file system of its own (a tmpfs: needs root, as in CI's container; skipped elsewhere,
    where the file-size-limit test below still covers the write that fails midway)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (not root)")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


def fill(disk, leave):
    """Fills `disk` up to `leave` bytes free; returns the filler file."""
    filler = disk / "filler"
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, shutil.disk_usage(disk).free - leave))
    return filler


def hidden(folder):
    return sorted(p.name for p in folder.rglob(".*"))


def test_a_full_disk_stops_training_in_one_line_and_keeps_the_last_checkpoint(small_disk, digits, tmp_path):
    """A full disk during a checkpoint crashed h5py (exit 139) and left a temp file of the
    checkpoint's size: now one line names the folder and the space, the last good checkpoint
    stays, nothing half-written is left, and the run resumes once there is room."""
    from zoo.io import WriteError

    work = small_disk / "run"
    train(work, 1, digits)
    kept = {p.name: zoo.io.sha256(p) for p in (work / "checkpoints").iterdir()}
    filler = fill(small_disk, 64 << 10)
    with pytest.raises(WriteError, match=r"cannot write .*epoch_0002\.weights\.h5: the disk holding .* has .* free "
                                         r"and .* MB are needed; nothing was changed.*checkpoint of epoch 1 is kept"):
        train(work, 2, digits)
    assert {p.name: zoo.io.sha256(p) for p in (work / "checkpoints").iterdir()} == kept and not hidden(work)
    # a preset, a picture, a remote file: refused whole, nothing left half-written
    model = small_gan()
    with pytest.raises(WriteError, match="is full|are needed"):
        zoo.save_preset(model, small_disk / "preset", dataset="fixture")
    with pytest.raises(WriteError, match="are needed"):
        zoo.viz.save_grid(np.random.default_rng(0).integers(0, 256, (64, 64, 64, 3), dtype=np.uint8),
                          small_disk / "grid.png")
    # the remote cache (a download announcing its size) and an export: refused whole too
    from preset_server import PresetServer

    server = PresetServer()
    server.files["/big.weights.h5"] = os.urandom(256 << 10)
    try:
        with pytest.raises(WriteError, match=r"cannot write .*big\.weights\.h5: the disk holding .* are needed"):
            zoo.io.download(f"{server.url}/big.weights.h5", small_disk / "cache" / "big.weights.h5")
    finally:
        server.stop()
    if keras.backend.backend() != "torch":  # (torch's ONNX export is refused before anything is written)
        with pytest.raises(WriteError, match=r"cannot write .*g\.onnx: the disk holding"):
            zoo.export.export("gan_mnist", "onnx", small_disk / "g.onnx")
    assert not [p for p in small_disk.rglob("*") if p.is_file() and p.name != "filler" and "run" not in p.parts]
    assert not hidden(small_disk)
    filler.unlink()
    model, args, history = train(work, 2, digits)  # room again: it resumes from epoch 1
    assert len(history["d_loss"]) == 2 and sorted(kept) != sorted(p.name for p in (work / "checkpoints").iterdir())


def test_a_write_that_fails_midway_leaves_the_old_file_and_no_partial_one(tmp_path):
    """The same guarantee where the space check passes and the write itself fails (here a
    file-size limit, as `ulimit -f` sets: the kernel refuses the write midway)."""
    import resource

    from zoo.io import WriteError

    model = small_gan()
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)
    before = zoo.io.sha256(path)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, hard))
    try:
        with pytest.raises(WriteError, match=r"cannot write .*w\.weights\.h5: the file is larger than this system "
                                             r"allows .*; nothing was changed"):
            small_gan(seed=1).save_weights(path)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)
    assert zoo.io.sha256(path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["w.weights.h5"]


def test_a_read_only_folder_is_named_with_why(tmp_path):
    from zoo.io import WriteError

    folder = tmp_path / "ro"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(folder)], capture_output=True)
    if not subprocess.run(["findmnt", str(folder)], capture_output=True).returncode:
        expected = "is on a read-only file system"
    elif os.geteuid() != 0:
        folder.chmod(0o500)
        expected = "no permission to write in"
    else:
        pytest.skip("root can write anywhere, and no read-only file system could be mounted")
    try:
        with pytest.raises(WriteError, match=f"cannot write {folder}/w.weights.h5: .*{expected}.*; nothing was "
                                             "changed"):
            small_gan().save_weights(folder / "w.weights.h5")
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


# -- refusals: one line, naming the problem and the expected form ------------------------------
@pytest.mark.parametrize("argv, expected", [
    (["train", "gan_mnist", "--epochs", "-1"], "argument --epochs: must be a whole number >= 1; got '-1'"),
    (["train", "gan_mnist", "--limit", "0"], "argument --limit: must be a whole number >= 1; got '0'"),
    (["train", "gan_mnist", "--batch-size", "0"], "argument --batch-size: must be a whole number >= 1; got '0'"),
    (["train", "ddpm", "--ema-decay", "1"], "argument --ema-decay: must be a number in [0, 1); got '1'"),
    (["train", "vae_mnist", "--lr", "nan"], "argument --lr: must be a number > 0; got 'nan'"),
    (["sample", "gan_mnist", "--nrow", "0"], "argument --nrow: must be a whole number >= 1; got '0'"),
    (["sample", "gan_mnist", "--num", "1000000000000"], "num must be a whole number from 0 to 100000"),
    (["demo", "--time-limit", "0"], "argument --time-limit: must be a number > 0; got '0'"),
])
def test_bad_flags_are_one_line_naming_the_expected_form(capsys, argv, expected):
    """`--limit 0` trained on the whole set, `--batch-size 0` at 32 with 0 on the card, `--epochs
    -1` and a huge `--num` gave tracebacks: every flag is checked like a sampling option."""
    from conftest import zoo_cli

    status, out, err = zoo_cli(capsys, *argv, "--out", os.devnull) if argv[0] == "sample" else zoo_cli(capsys, *argv)
    assert status == 2 and expected in err and len(err.strip().splitlines()) == 1, err


def test_unclear_refusals_are_one_line(tmp_path, digits):
    from zoo.core import distribute
    from zoo.errors import UnknownModelError

    for name in (None, "", "  "):
        with pytest.raises(UnknownModelError, match=r"a preset is a shipped name .* or an https:// URL; got"):
            zoo.load(name)
    gan = small_gan()
    real = zoo.save_preset(gan, tmp_path / "real", dataset="fixture")
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(PresetError, match=r"link: it is a link \(to .*real\); nothing was changed"):
        zoo.save_preset(gan, tmp_path / "link", dataset="fixture")
    config = json.loads((real / "config.json").read_text())
    config["config"]["latent_dim"] = 9  # a config that does not match its weights
    (real / "config.json").write_text(json.dumps(config))
    zoo.cards.write_card(real)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(PresetError) as error:
            zoo.load(real)
    assert "config.json does not describe its weights" in str(error.value) and "\n" not in str(error.value)
    args = argparse.Namespace(devices=3, batch_size=32, precision="float32")
    with pytest.raises(distribute.DistributionError, match="--batch-size 32 does not divide among the 3 devices"):
        harness.configure(args)  # before torchrun starts three processes that each fail


def test_ctrl_c_during_training_says_where_it_stopped_and_how_to_resume(tmp_path, digits):
    class CtrlC(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    model, args, _ = train(tmp_path / "run", 1, digits)
    args.epochs = 3
    with pytest.raises(harness.Interrupted, match=r"stopped by the user \(Ctrl-C\) during training; the checkpoint "
                                                  r"of epoch 1 is kept in .*epoch_0001.weights.h5: run the same "
                                                  r"command again to resume from it"):
        harness.fit(model, digits[:64], args, callbacks=[CtrlC()])


def test_init_from_a_preset_of_another_class_is_refused(tmp_path, capsys, mnist_tiny):
    """`--init` with a preset of another class wrote a preset of that class under the recipe's
    name."""
    from conftest import zoo_cli

    status, _, err = zoo_cli(capsys, "train", "gan_mnist", "--init", "cgan_mnist", "--epochs", "1",
                             "--workdir", tmp_path / "run", "--data", mnist_tiny)
    assert status == 2 and "--init cgan_mnist is a CGAN; recipes/gan_mnist.py trains a GAN" in err, err
    assert not (tmp_path / "run").exists()
