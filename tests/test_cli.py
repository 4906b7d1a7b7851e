"""The `zoo` command, run as a user would (python -m zoo ...)."""

import json

import numpy as np
from conftest import numpy, run


def test_list_and_info():
    out = run(["-m", "zoo", "list"]).stdout
    assert "gan_mnist" in out
    card = json.loads(run(["-m", "zoo", "info", "gan_mnist"]).stdout)
    assert card["name"] == "gan_mnist" and card["family"] == "gan"


def test_sample_writes_a_real_image(tmp_path, backend):
    from PIL import Image

    out = tmp_path / "grid.png"
    proc = run(["-m", "zoo", "sample", "gan_mnist", "--num", "16", "--seed", "0",
                "--out", str(out), "--backend", backend])
    assert f"{backend} backend" in proc.stdout
    image = np.asarray(Image.open(out))
    # 4 x 4 digits of 28 pixels, 2-pixel borders, drawn at scale 2
    assert image.shape[:2] == (2 * (4 * 30 + 2), 2 * (4 * 30 + 2))
    assert image.std() > 30


def test_errors_are_one_line_without_a_traceback(tmp_path):
    proc = run(["-m", "zoo", "sample", "no_such_model", "--out", str(tmp_path / "x.png")], check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("zoo: error: unknown model 'no_such_model'") and "gan_mnist" in lines[-1]
    assert "Traceback" not in proc.stderr
    proc = run(["-m", "zoo", "train", "no_such_recipe"], check=False)
    assert proc.returncode == 2 and "recipes: " in proc.stderr and "Traceback" not in proc.stderr


def test_train_runs_the_recipe_writes_a_preset_and_resumes(tmp_path, backend, mnist_tiny):
    work = tmp_path / "run"
    args = ["-m", "zoo", "train", "gan_mnist", "--backend", backend, "--data", str(mnist_tiny),
            "--limit", "64", "--batch-size", "32", "--workdir", str(work), "--verbose", "0"]
    run(args + ["--epochs", "1"])
    run(args + ["--epochs", "2"])  # the same workdir: continues at epoch 2
    log = (work / "log.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in log[1:]] == ["0", "1"]
    card = json.loads((work / "preset" / "metadata.json").read_text())
    assert card["steps"] == 4 and card["epochs"] == 2 and card["backend"] == backend
    for name in ("sample.png", "loss.png", "model.weights.h5"):
        assert (work / "preset" / name).is_file()
    assert len(list((work / "grids").glob("epoch_*.png"))) == 2
    run(["-c", "import sys, zoo; assert zoo.load(sys.argv[1]).generate(2).shape == (2, 28, 28, 1)",
         str(work / "preset")], backend=backend)


def test_fine_tune_the_dcgan_recipe_on_a_folder_of_images(tmp_path, backend):
    """`zoo train dcgan_anime --data FOLDER --init PRESET` on a folder of odd-sized images
    (one unreadable). The start is a small DCGAN preset made here, so that the test does
    not depend on the shipped weights and runs in seconds."""
    from PIL import Image

    import zoo
    from zoo.models.dcgan import DCGAN

    start = zoo.save_preset(DCGAN(width=4, seed=0), tmp_path / "start", dataset="none")
    folder = tmp_path / "my_faces"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i, size in enumerate([(64, 64), (96, 80), (40, 50), (128, 128), (64, 32), (70, 70)]):
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 this is not a JPEG")
    work = tmp_path / "run"
    proc = run(["-m", "zoo", "train", "dcgan_anime", "--backend", backend, "--data", str(folder),
                "--init", str(start), "--epochs", "1", "--batch-size", "4", "--workdir", str(work),
                "--verbose", "0"])
    assert "skipped 1 unreadable image file(s) of 7" in proc.stderr
    card = json.loads((work / "preset" / "metadata.json").read_text())
    assert card["init"] == str(start) and card["steps"] == 2 and card["backend"] == backend
    tuned, before = zoo.load(work / "preset"), zoo.load(start)
    z = before.sample_noise(4, seed=0)
    a, b = numpy(tuned(z)), numpy(before(z))
    assert np.isfinite(a).all() and np.abs(a - b).max() > 1e-4


def test_sample_a_diffusion_model_with_a_sampler_and_steps(tmp_path, backend):
    from PIL import Image

    out = tmp_path / "digits.png"
    proc = run(["-m", "zoo", "sample", "ddpm_mnist", "--sampler", "ddim", "--steps", "5", "--num", "4",
                "--seed", "0", "--out", str(out), "--backend", backend])
    assert "4 samples of ddpm_mnist" in proc.stdout
    image = np.asarray(Image.open(out))
    assert image.shape[:2] == (2 * (2 * 30 + 2), 2 * (2 * 30 + 2)) and image.std() > 30


def test_flags_of_another_kind_of_model_are_refused():
    for args, message in [(["gan_mnist", "--steps", "10"], "apply to diffusion models"),
                          (["ddpm_mnist", "--prompt", "hello"], "--prompt applies to text models"),
                          (["gpt_tang", "--sampler", "ddim"], "apply to diffusion models"),
                          (["ddpm_mnist", "--sampler", "ddpm", "--steps", "10"], "takes all T=1000 steps")]:
        proc = run(["-m", "zoo", "sample", *args, "--num", "1"], check=False)
        assert proc.returncode == 2 and message in proc.stderr, (args, proc.stderr[-300:])


def test_bench_measures_a_backend_against_itself_and_writes_the_table(tmp_path, backend):
    # `zoo bench` = benchmarks/backends.py: each configuration in its own process, a table,
    # JSON and a chart. (What it measures is checked for shape and sense, never for speed.)
    run(["-m", "zoo", "bench", "--quick", "--models", "gan_mnist", "--configs", f"keras-{backend}",
         "--out", str(tmp_path)], timeout=900)
    report = json.loads((tmp_path / "backends.json").read_text())
    (result,) = report["results"]
    assert "error" not in result, result
    assert result["keras_backend"] == backend and result["step_ms_min"] <= result["step_ms"] <= result["step_ms_max"]
    assert result["flops_per_step"] > 0 and 0 < result["utilization"] and result["sampling"]["images_per_s"] > 0
    assert all(v > 0 for v in report["matmul_peak_gflops"].values())
    assert f"| gan_mnist | keras-{backend} |" in (tmp_path / "backends.md").read_text()
    assert (tmp_path / "backends.png").stat().st_size > 1000
