"""The reliability battery (issue 33): bad input and faults, tried as a new user and an unkind
one would, each in a fresh process, classified by what zoo did. Not a test module (pytest does
not collect it): it takes minutes, and its counts go into the issue's closing note.

    python tests/battery.py [--backend torch] [--only SUBSTRING]

Each case expects a clear refusal (exit status 1 or 2, one line naming the problem, no
traceback, and nothing lost) or a correct result (exit status 0 and a check of what was
written). What happened is one of: refused clearly, correct, unclear (a traceback, or more
than one line), silent (a wrong result without a word, or nothing lost checked false), crash
(a signal, a segfault, a hang past the case's time).
"""

import argparse
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
NOISE = re.compile(r"^(I0000|W0000|E0000|WARNING: All log|To enable the following|.*cpu_feature_guard|.*port\.cc|"
                   r"\s*$|Epoch \d|\d+/\d+ |.*UserWarning|  warnings\.warn|zoo: note:|zoo: resuming|wrote )")


def refuse(pattern, check=None):
    return ("refuse", pattern, check)


def ok(check):
    return ("ok", None, check)


def cli(*argv):
    return [sys.executable, "-m", "zoo", *map(str, argv)]


def py(code):
    return [sys.executable, "-c", textwrap.dedent(code)]


def zoo_call(statements, status=2):
    """`python -c` running `statements` (zoo imported) and printing a ZooError as the CLI does."""
    body = textwrap.indent(textwrap.dedent(statements).strip(), "    ")
    return py(f"import sys, zoo\ntry:\n{body}\nexcept zoo.errors.ZooError as e:\n"
              f"    print(f'zoo: error: {{e}}', file=sys.stderr); sys.exit({status})\n")


def cases(work):
    """(class, name, command, expectation, setup, timeout) for every case."""
    mnist = FIXTURES / "mnist_tiny.npz"
    train = ["train", "gan_mnist", "--data", mnist, "--workdir", work / "run", "--verbose", "0"]
    out = work / "x.png"
    c = []

    def add(klass, name, command, expectation, setup=None, timeout=300):
        c.append((klass, name, command, expectation, setup, timeout))

    # -- CLI flags -------------------------------------------------------------------------
    for flags, pattern in [(["--num", "0"], "--num: must be a whole number >= 1"),
                           (["--num", "-5"], "--num: must be"), (["--num", "10" * 7], "num must be a whole number from"),
                           (["--nrow", "0"], "--nrow: must be"), (["--seed", "-1"], "--seed: must be"),
                           (["--seed", str(2 ** 40)], "seed must be a whole number from 0 to"),
                           (["--num", "1.5"], "--num: must be a whole number")]:
        add("cli flag", f"sample gan_mnist {' '.join(flags)}", cli("sample", "gan_mnist", *flags, "--out", out),
            refuse(pattern, lambda: not out.exists()))
    add("cli flag", "sample an unknown model", cli("sample", "no_such", "--out", out), refuse("unknown model"))
    add("cli flag", "sample an image model into .txt", cli("sample", "gan_mnist", "--num", "4", "--out", work / "x.txt"),
        refuse(r"name it \.png"))
    add("cli flag", "sample a text model into .png", cli("sample", "gpt_shakespeare", "--max-new-tokens", "5",
                                                          "--out", work / "t.png"), refuse(r"\.txt|text"))
    add("option range", "GPT temperature 99", cli("sample", "gpt_shakespeare", "--temperature", "99"),
        refuse(r"temperature must be in \[0, 5\]"))
    add("option range", "GPT prompt with a character outside its vocabulary",
        cli("sample", "gpt_shakespeare", "--prompt", "naïve", "--max-new-tokens", "5"), refuse("vocabulary"))
    add("silent result", "txt2img prompt in Chinese", cli("sample", "txt2img_anime", "--prompt", "粉色头发", "--num", "1",
                                                          "--steps", "2", "--out", out), refuse("cannot read: '粉'"))
    add("silent result", "txt2img prompt with a full stop", cli("sample", "txt2img_anime", "--prompt", "pink hair.",
                                                                "--num", "1", "--steps", "2", "--out", out),
        refuse(r"cannot read: '\.'"))
    add("option range", "DDPM steps 0", cli("sample", "ddpm_mnist", "--steps", "0", "--out", out), refuse("steps must"))
    add("option range", "DDIM eta 2", cli("sample", "ddpm_mnist", "--sampler", "ddim", "--eta", "2", "--out", out),
        refuse(r"eta must be in \[0, 1\]"))
    add("option range", "txt2img guidance 1e6", cli("sample", "txt2img_anime", "--guidance-scale", "1e6", "--num", "1",
                                                    "--out", out), refuse(r"guidance_scale must be in \[0, 20\]"))
    add("option range", "StyleGAN psi nan", cli("sample", "stylegan_anime", "--truncation-psi", "nan", "--out", out),
        refuse("truncation_psi"))
    add("option range", "cGAN label 10", cli("sample", "cgan_mnist", "--labels", "10", "--out", out), refuse("labels"))
    add("cli flag", "eval with 1 image", cli("eval", "gan_mnist", "--num", "1"), refuse("--num: must be"))
    add("cli flag", "export to a .zip", cli("export", "gan_mnist", "--format", "onnx", "--out", work / "g.zip"),
        refuse(r"must end in \.onnx"))
    mine = work / "mine"
    add("file", "export a SavedModel over a folder of the user's",
        cli("export", "gan_mnist", "--format", "tf_saved_model", "--out", mine, "--backend", "tensorflow"),
        refuse("holds files other than a SavedModel", lambda: (mine / "notes.txt").read_text() == "mine"),
        setup=lambda: (mine.mkdir(exist_ok=True), (mine / "notes.txt").write_text("mine")))
    add("cli flag", "info ''", cli("info", ""), refuse("a preset is a shipped name"))
    add("cli flag", "demo --time-limit 0", cli("demo", "--time-limit", "0"), refuse("--time-limit: must be"))
    add("cli flag", "demo --port 70000", cli("demo", "--port", "70000"), refuse("--port: must be"))
    add("cli flag", "an unknown flag", cli("sample", "gan_mnist", "--temprature", "1"), refuse("no option --temprature"))

    # -- recipe flags ----------------------------------------------------------------------
    for flags, pattern in [(["--epochs", "0"], "--epochs: must be"), (["--epochs", "-1"], "--epochs: must be"),
                           (["--batch-size", "0"], "--batch-size: must be"), (["--limit", "0"], "--limit: must be"),
                           (["--limit", "-3"], "--limit: must be"), (["--seed", "-1"], "--seed: must be"),
                           (["--keep-every", "-1"], "--keep-every: must be"), (["--devices", "0"], "--devices: must be"),
                           (["--precision", "float8"], "invalid choice: 'float8'")]:
        add("recipe flag", f"train gan_mnist {' '.join(flags)}", cli(*train, *flags),
            refuse(pattern, lambda: not (work / "run").exists()))
    for recipe, flags, pattern in [("ddpm", ["--ema-decay", "1.5"], "--ema-decay: must be a number in"),
                                   ("gpt", ["--dropout", "1"], "--dropout: must be a number in"),
                                   ("vae_mnist", ["--lr", "0"], "--lr: must be a number > 0"),
                                   ("stylegan", ["--size", "2"], "--size: must be"),
                                   ("txt2img", ["--guidance-scale", "50"], "--guidance-scale: must be"),
                                   ("dcgan_anime", ["--label-smoothing", "-0.1"], "--label-smoothing: must be"),
                                   ("wgan_gp_anime", ["--n-critic", "0"], "--n-critic: must be")]:
        add("recipe flag", f"train {recipe} {' '.join(flags)}", cli("train", recipe, *flags, "--workdir", work / "r2"),
            refuse(pattern, lambda: not (work / "r2").exists()))
    add("silent result", "--init with a preset of another class", cli(*train, "--init", "cgan_mnist", "--epochs", "1"),
        refuse("--init cgan_mnist is a CGAN; recipes/gan_mnist.py trains a GAN"))
    add("recipe flag", "a missing dataset", cli("train", "gan_mnist", "--data", work / "none", "--workdir", work / "r3"),
        refuse("dataset not found"))
    add("recipe flag", "--devices 3 with a batch of 32",
        cli(*train, "--devices", "3", "--batch-size", "32", "--epochs", "1"),
        refuse("--batch-size 32 does not divide among the 3 devices"))

    # -- files -----------------------------------------------------------------------------
    project = work / "project"

    def make_project():
        (project / ".git").mkdir(parents=True, exist_ok=True)
        (project / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
        (project / "notes.txt").write_text("mine")

    add("data loss", "--fresh in a project folder",
        cli("train", "gan_mnist", "--data", mnist, "--workdir", project, "--fresh", "--epochs", "1", "--verbose", "0"),
        refuse("which no run wrote; nothing was removed", lambda: (project / "notes.txt").read_text() == "mine"
               and (project / ".git" / "HEAD").is_file()), setup=make_project)
    linked = work / "linked"
    tiny_gan = "from zoo.models.gan import GAN\nmodel = GAN(latent_dim=4, g_units=(8,), d_units=(8,))\n"
    add("file", "save a preset over a link", zoo_call(
        f"{tiny_gan}zoo.save_preset(model, {str(linked)!r}, dataset='x')"), refuse("it is a link", lambda: (work / "target" / "keep.txt").is_file()),
        setup=lambda: ((work / "target").mkdir(exist_ok=True), (work / "target" / "keep.txt").write_text("k"),
                       linked.is_symlink() or linked.symlink_to(work / "target")))
    users = work / "users"
    add("data loss", "save a preset over a folder of the user's", zoo_call(
        f"{tiny_gan}zoo.save_preset(model, {str(users)!r}, dataset='x')"), refuse("which is not a file of the preset there", lambda: (users / "thesis.tex").is_file()),
        setup=lambda: (users.mkdir(exist_ok=True), (users / "thesis.tex").write_text("x")))
    for code in ("zoo.load(None)", "zoo.load('')"):
        add("unclear refusal", code, zoo_call(code), refuse("a preset is a shipped name"))
    bad = work / "bad_config"

    def make_bad():
        import json

        shutil.copytree(ROOT / "zoo" / "presets" / "gan_mnist", bad, dirs_exist_ok=True)
        config = json.loads((bad / "config.json").read_text())
        config["config"]["latent_dim"] = 9
        (bad / "config.json").write_text(json.dumps(config))
        subprocess.run([sys.executable, "-c", f"from zoo.cards import write_card; write_card({str(bad)!r})"],
                       check=True, capture_output=True)

    add("unclear refusal", "a config that does not match its weights", cli("sample", bad, "--out", out),
        refuse("does not describe its weights"), setup=make_bad)
    flipped = work / "flipped"

    def make_flipped():
        shutil.copytree(ROOT / "zoo" / "presets" / "gan_mnist", flipped, dirs_exist_ok=True)
        data = bytearray((flipped / "model.weights.h5").read_bytes())
        data[len(data) // 2] ^= 1
        (flipped / "model.weights.h5").write_bytes(bytes(data))

    add("file", "a preset with a flipped byte", cli("sample", flipped, "--out", out), refuse("sha256|corrupt|modified"),
        setup=make_flipped)
    add("file", "zoo eval --out into a read-only folder", cli("eval", "gan_mnist", "--num", "100", "--out",
                                                                 "/proc/zoo_eval.json"),
        refuse("cannot write /proc/zoo_eval.json"), timeout=600)
    disk = work / "disk"

    def small_disk():
        disk.mkdir(exist_ok=True)
        if not os.path.ismount(disk):
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(disk)], check=True)

    add("full disk", "a sample grid on a full disk", cli("sample", "stylegan_anime", "--num", "256", "--out",
                                                         disk / "g.png"),
        refuse("cannot write .*g.png: the disk holding", lambda: not any(disk.iterdir())), setup=small_disk)
    add("full disk", "a checkpoint on a full disk", cli("train", "gan_mnist", "--data", mnist, "--workdir", disk / "run",
                                                        "--epochs", "1", "--verbose", "0"),
        refuse(r"epoch_0001\.weights\.h5: the disk holding .* needed; nothing was changed.*Training stopped",
               lambda: not [p for p in disk.rglob(".*")]), setup=small_disk)
    add("full disk", "an ONNX export on a full disk", cli("export", "gan_mnist", "--format", "onnx", "--out",
                                                          disk / "g.onnx", "--backend", "tensorflow"),
        refuse("cannot write .*g.onnx", lambda: not [p for p in disk.rglob("*") if "g.onnx" in p.name or
                                                      p.name.startswith(".")]), setup=small_disk)
    add("full disk", "the remote cache on a full disk", py(f"""
        import os, sys, threading, http.server, pathlib
        os.environ["ZOO_HOME"] = {str(disk / "cache")!r}
        folder = pathlib.Path({str(ROOT / "zoo" / "presets" / "gan_mnist")!r})
        class H(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **k): super().__init__(*a, directory=str(folder), **k)
            def log_message(self, *a): pass
        s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        s.handle_error = lambda *a: None  # the client hanging up is not zoo's output
        threading.Thread(target=s.serve_forever, daemon=True).start()
        import zoo
        try:
            zoo.load(f"http://127.0.0.1:{{s.server_address[1]}}/")
        except zoo.errors.ZooError as e:
            print(f"zoo: error: {{e}}", file=sys.stderr); sys.exit(1)
        """), refuse("cannot write .*model.weights.h5: the disk holding",
                     lambda: not [p for p in disk.rglob("*.part")]), setup=small_disk)
    add("file", "a download that trickles", py("""
        import os, sys, threading, http.server, time
        os.environ["ZOO_DOWNLOAD_DEADLINE_S"] = "2"
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200); self.send_header("Content-Length", "100000"); self.end_headers()
                try:
                    for _ in range(100000):
                        self.wfile.write(b"x"); self.wfile.flush(); time.sleep(0.3)
                except OSError:
                    pass
            def log_message(self, *a): pass
        s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=s.serve_forever, daemon=True).start()
        from zoo.io import download
        try:
            download(f"http://127.0.0.1:{s.server_address[1]}/w", %r)
        except OSError as e:
            print(f"zoo: error: {e}", file=sys.stderr); sys.exit(1)
        """ % str(work / "dl" / "w")), refuse("took longer than 2 s", lambda: not (work / "dl").exists()
                                              or not any((work / "dl").iterdir())), timeout=60)

    # -- training faults -------------------------------------------------------------------
    add("recovery", "kill -9 mid-run, then the same command", ["KILL", *cli(*train[:-2], "--epochs", "3",
                                                                             "--verbose", "2")],
        ok(lambda: (work / "run" / "preset" / "metadata.json").is_file()), timeout=600)
    add("recovery", "Ctrl-C mid-run", ["INT", *cli(*train[:-2], "--workdir", work / "run_int", "--epochs", "50",
                                                     "--verbose", "2")],
        refuse(r"stopped by the user \(Ctrl-C\) during training; the checkpoint of epoch \d+ is kept"), timeout=600)
    add("silent result", "NaN in the data", py(f"""
        import sys, numpy as np, zoo
        from zoo.models.gan import GAN
        x = np.load({str(mnist)!r})["x_train"][:64, ..., None].astype("float32") / 127.5 - 1
        x[3, 0, 0, 0] = np.nan
        m = GAN(latent_dim=4, g_units=(8,), d_units=(8,)); m.compile()
        try:
            m.fit(x, epochs=1, batch_size=32, verbose=0)
        except zoo.errors.ZooError as e:
            print(f"zoo: error: {{e}}", file=sys.stderr); sys.exit(2)
        """), refuse("(?i)nan|non-finite"))
    add("silent result", "train_on_batch on NaN", py("""
        import sys, numpy as np, zoo
        from zoo.models.gan import GAN
        x = np.full((8, 28, 28, 1), np.nan, "float32")
        m = GAN(latent_dim=4, g_units=(8,), d_units=(8,)); m.compile()
        try:
            m.train_on_batch(x)
        except zoo.errors.ZooError as e:
            print(f"zoo: error: {e}", file=sys.stderr); sys.exit(2)
        """), refuse("(?i)nan|non-finite"))
    add("silent result", "images in [0, 1] given to fit", py(f"""
        import sys, numpy as np, zoo
        from zoo.models.gan import GAN
        x = np.load({str(mnist)!r})["x_train"][:64, ..., None].astype("float32") / 255
        m = GAN(latent_dim=4, g_units=(8,), d_units=(8,)); m.compile()
        try:
            m.fit(x, epochs=1, batch_size=32, verbose=0)
        except zoo.errors.ZooError as e:
            print(f"zoo: error: {{e}}", file=sys.stderr); sys.exit(2)
        """), refuse(r"\[-1, 1\]"))
    return c


def problem_lines(stderr):
    return [line for line in stderr.splitlines() if not NOISE.match(line)]


def run_case(command, timeout):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT), PYTHONWARNINGS="ignore")
    signal_name = command[0] if command[0] in ("KILL", "INT") else None
    command = command[1:] if signal_name else command
    if signal_name is None:
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
            return proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired:
            return "timeout", "", ""
    # start, wait for two epochs' lines, then send the signal; KILL is followed by the same command
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    seen, deadline = 0, time.time() + timeout
    for line in proc.stdout:
        seen += line.startswith("Epoch ") or " - loss" in line or "d_loss" in line
        if seen >= 2 or time.time() > deadline:
            break
    proc.send_signal(signal.SIGKILL if signal_name == "KILL" else signal.SIGINT)
    rest = proc.communicate(timeout=120)[0]
    if signal_name == "INT":
        return proc.returncode, "", rest
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    return proc.returncode, proc.stdout, proc.stderr


def judge(expectation, status, stderr):
    kind, pattern, check = expectation
    lines = problem_lines(stderr)
    if status == "timeout":
        return "crash", "no answer within its time"
    if status < 0 or status >= 128 and status != 130 or "Segmentation fault" in stderr:
        return "crash", f"exit status {status}"
    if kind == "ok":
        if status != 0:
            return ("unclear" if "Traceback" in stderr else "silent"), f"exit {status}: {lines[-1:] or ''}"
        return ("correct", "") if check() else ("silent", "the result's check failed")
    if status == 0:
        return "silent", "accepted (exit 0)"
    if "Traceback" in stderr or len(lines) > 1:
        return "unclear", f"{len(lines)} lines: {lines[-1][:160] if lines else ''}"
    if not lines or not re.search(pattern, lines[-1]):
        return "unclear", f"the line does not say {pattern!r}: {lines[-1][:160] if lines else '(nothing)'}"
    if check is not None and not check():
        return "data loss", "refused, but what was there changed"
    return "refused clearly", ""


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="torch")
    p.add_argument("--only", default=None, help="only cases whose name holds this")
    args = p.parse_args()
    os.environ["KERAS_BACKEND"] = args.backend
    work = pathlib.Path(tempfile.mkdtemp(prefix="zoo-battery-"))
    counts, rows = {}, []
    try:
        for klass, name, command, expectation, setup, timeout in cases(work):
            if args.only and args.only not in name:
                continue
            try:
                if setup:
                    setup()
            except (OSError, subprocess.CalledProcessError) as e:
                print(f"SKIP  {klass:16s} {name}: its setup failed ({e})", flush=True)
                continue
            start = time.time()
            status, _, stderr = run_case(command, timeout)
            outcome, why = judge(expectation, status, stderr)
            counts[outcome] = counts.get(outcome, 0) + 1
            rows.append((klass, name, outcome, why))
            print(f"{outcome:16s} {klass:16s} {name} ({time.time() - start:.0f} s) {why}", flush=True)
            if (work / "disk").is_dir() and os.path.ismount(work / "disk"):
                for entry in (work / "disk").iterdir():
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    finally:
        if os.path.ismount(work / "disk"):
            subprocess.run(["umount", "-l", str(work / "disk")])
        shutil.rmtree(work, ignore_errors=True)
    print("\n" + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) + f" ({sum(counts.values())} cases, "
          f"{args.backend})")
    return 0 if set(counts) <= {"refused clearly", "correct"} else 1


if __name__ == "__main__":
    raise SystemExit(main())
