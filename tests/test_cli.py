"""The `zoo` command: run as a user would (python -m zoo ...) where the process matters (its
exit status, its output streams, the backend it starts, a recipe it runs), and through
`zoo.cli.main` in this process (conftest.zoo_cli) for the flags and one-line errors."""

import json

import numpy as np
import pytest
from conftest import numpy, run, zoo_cli


def test_list_and_info(capsys):
    status, out, _ = zoo_cli(capsys, "list")
    assert status == 0 and "gan_mnist" in out
    rows = [line.split("  ") for line in out.splitlines()]  # the family column holds "text-to-image" whole
    starts = {line.index(line.split()[2], len(line.split()[0]) + len(line.split()[1])) for line in out.splitlines()}
    assert len(starts) == 1 and all(len(row) >= 3 for row in rows), out  # every description starts in one column
    status, out, _ = zoo_cli(capsys, "info", "gan_mnist", "--json")
    card = json.loads(out)
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


def test_errors_are_one_line_without_a_traceback(tmp_path, capsys):
    proc = run(["-m", "zoo", "sample", "no_such_model", "--out", str(tmp_path / "x.png")], check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("zoo: error: unknown model 'no_such_model'") and "gan_mnist" in lines[-1]
    assert "Traceback" not in proc.stderr
    status, _, err = zoo_cli(capsys, "train", "no_such_recipe")
    assert status == 2 and "recipes: cgan_mnist, clip, dcgan_anime, ddpm" in err and "Traceback" not in err


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
    sampled = run(["-m", "zoo", "sample", str(work / "preset"), "--num", "4", "--out", str(tmp_path / "s.png")],
                  backend=backend)
    assert (tmp_path / "s.png").stat().st_size > 0
    # a user preset is checked against its own card only, and the CLI says so in one line
    assert sampled.stderr.count(f"zoo: note: loaded the user preset {work / 'preset'}") == 1


@pytest.mark.once_under("torch", "the folder and --init are handled the same on every backend")
def test_fine_tune_the_dcgan_recipe_on_a_folder_of_images(tmp_path, backend):
    """`zoo train dcgan_anime --data FOLDER --init PRESET` on a folder of odd-sized images
    (one unreadable). The start is a small DCGAN preset made here, so that the test does
    not depend on the shipped weights and runs in seconds. Once, under PyTorch: reading the folder
    and starting from --init are the same on every backend, and `zoo train` runs and resumes a
    recipe on each backend in the test above."""
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


def test_sample_a_diffusion_model_with_a_sampler_and_steps(tmp_path, backend, capsys):
    from PIL import Image

    out = tmp_path / "digits.png"
    status, stdout, _ = zoo_cli(capsys, "sample", "ddpm_mnist", "--sampler", "ddim", "--steps", "5", "--num", "4",
                                "--seed", "0", "--out", out, "--backend", backend)
    assert status == 0 and "4 samples of ddpm_mnist" in stdout
    image = np.asarray(Image.open(out))
    assert image.shape[:2] == (2 * (2 * 30 + 2), 2 * (2 * 30 + 2)) and image.std() > 30


def test_a_models_flags_come_from_its_declared_options_and_others_are_refused(capsys):
    for args, message in [(["gan_mnist", "--steps", "10"], "gan_mnist has no option --steps; its options: none"),
                          (["ddpm_mnist", "--prompt", "hello"], "ddpm_mnist has no option --prompt; its options: "
                                                                "--sampler, --steps, --clip-x0, --eta, --clipped-eps"),
                          (["gpt_tang", "--sampler", "ddim"], "gpt_tang has no option --sampler"),
                          (["ddpm_mnist", "--sampler", "ddpm", "--steps", "10"], "takes all T=1000 steps"),
                          (["ddpm_mnist", "--steps", "5.5"], "argument --steps: invalid int value: '5.5'"),
                          (["ddpm_mnist", "--eta", "nan"], "eta must be a finite number; got nan"),
                          (["ddpm_mnist", "--sampler", "dpmpp_2m", "--eta", "1"], "eta applies when sampler is ddim"),
                          (["cgan_mnist", "--labels", "3", "12"], "labels must be class ids in [0, 9]"),
                          (["gpt_tang", "--top-p", "0"], "top_p must be in (0, 1]; got 0"),
                          (["features_digits"], "features_digits is a FeatureNet, which generates nothing")]:
        status, _, err = zoo_cli(capsys, "sample", *args, "--num", "1")
        assert status == 2 and err.startswith("zoo: error: ") and message in err, (args, err[-300:])
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def test_text_to_image_from_a_prompt_and_clip_scores_of_a_folder(tmp_path, backend, capsys):
    from PIL import Image

    out = tmp_path / "faces.png"
    status, stdout, _ = zoo_cli(capsys, "sample", "txt2img_anime", "--prompt", "pink hair, green eyes",
                                "--guidance-scale", "3", "--num", "4", "--steps", "4", "--seed", "0", "--out", out,
                                "--backend", backend)
    assert status == 0 and "4 samples of txt2img_anime" in stdout
    image = np.asarray(Image.open(out))
    assert image.shape[2] == 3 and image.std() > 20
    faces = tmp_path / "faces"
    faces.mkdir()
    for i, colour in enumerate([(230, 60, 60), (60, 60, 230)]):
        Image.fromarray(np.full((64, 64, 3), colour, np.uint8)).save(faces / f"{i}.png")
    status, stdout, _ = zoo_cli(capsys, "sample", "clip_anime", "--images", faces, "--prompts", "red hair",
                                "blue hair", "--backend", backend)
    rows = stdout.strip().splitlines()
    assert status == 0
    assert rows[0].split()[0] == "image" and rows[1].startswith("0.png") and rows[2].startswith("1.png")
    assert len(rows[1].split()) == 1 + 2 + 2  # the file, two scores, the zero-shot pick (two words)
    for args, message in [(["txt2img_anime", "--prompt", "purple unicorn"], "'unicorn'"),
                          (["clip_anime", "--prompts", "red hair"], "the following arguments are required: --images"),
                          (["clip_anime", "--images", str(faces), "--prompts", "red hat"], "'hat'")]:
        status, _, err = zoo_cli(capsys, "sample", *args, *(["--num", "1"] if args[0] != "clip_anime" else []))
        assert status == 2 and err.startswith("zoo: error: ") and message in err, (args, err[-300:])
        assert len(err.strip().splitlines()) == 1, err


def test_sample_help_lists_the_models_options(capsys):
    status, out, _ = zoo_cli(capsys, "sample", "ddpm_mnist", "--help")
    for flag in ("--sampler {ddim,ddpm,dpmpp_2m}", "--steps", "--eta", "--clip-x0", "--clipped-eps"):
        assert status == 0 and flag in out, out
    assert "--prompt" in zoo_cli(capsys, "sample", "gpt_tang", "--help")[1]


def test_a_text_model_takes_num_and_its_own_flags(tmp_path, capsys):
    out = tmp_path / "poems.txt"
    status, text, _ = zoo_cli(capsys, "sample", "gpt_tang", "--num", "3", "--max-new-tokens", "12", "--temperature",
                              "0.8", "--stop", "\n", "--seed", "0", "--out", out)
    assert status == 0 and "3 samples of gpt_tang" in text
    assert len(out.read_text(encoding="utf-8").strip().split("\n\n")) == 3
    status, _, err = zoo_cli(capsys, "sample", "gpt_tang", "--max-new-tokens", "2", "--out", tmp_path / "poem.png")
    assert status == 2 and "writes text, not an image: name the file .txt" in err  # text was written into a .png
    assert not (tmp_path / "poem.png").exists()
    # a real process: the text goes to stdout as the user's shell gets it
    text = run(["-m", "zoo", "sample", "gpt_shakespeare", "--prompt", "ROMEO:", "--max-new-tokens", "20",
                "--seed", "1"]).stdout
    assert text.startswith("ROMEO:") and len(text) == len("ROMEO:") + 20 + 1


def test_list_takes_known_families_only(capsys):
    status, out, _ = zoo_cli(capsys, "list", "--family", "diffusion")
    assert status == 0 and [line.split()[0] for line in out.splitlines()] == ["ddpm_anime", "ddpm_fashion",
                                                                              "ddpm_mnist"]
    status, _, err = zoo_cli(capsys, "list", "--family", "foo")
    assert status == 2 and "unknown family 'foo'" in err


def test_train_help_shows_the_recipes_flags(capsys):
    status, out, _ = zoo_cli(capsys, "train", "ddpm_mnist", "--help")
    assert status == 0 and "recipes/ddpm.py" in out and "--variant" in out and "--ema-decay" in out


def test_help_shows_every_flag_with_its_text(capsys):
    status, out, _ = zoo_cli(capsys, "sample", "--help")
    assert status == 0 and "--seed SEED" in out and "random seed" in out and "hf://OWNER/REPO" in out
    status, out, _ = zoo_cli(capsys, "sample", "ddpm_mnist", "--help")
    assert status == 0 and "ddpm_mnist's options" in out and "--sampler" in out and "images per row" in out
    status, out, _ = zoo_cli(capsys, "train", "gan_mnist", "--help")
    assert status == 0 and "--epochs" in out and "--batch-size" in out


@pytest.mark.parametrize("argv, message", [
    (("sample", "gpt_shakespeare", "--nrow", "2"), "--nrow lays out image grids; gpt_shakespeare writes text"),
    (("sample", "gpt_shakespeare", "--view", "interpolation"), "--view draws an image model's pictures"),
    (("sample", "gan_mnist", "--separator", "x"), "--separator joins texts; gan_mnist draws images"),
    (("sample", "features_digits"), "features_digits is a FeatureNet, which generates nothing"),
    (("sample",), "give a preset"),
    (("list", "--family", "foo"), "unknown family 'foo'"),
    (("list", "nothing*"), "no shipped preset matches 'nothing*'"),
    (("sample", "gan_mnist", "--steps", "3"), "gan_mnist has no option --steps"),
])
def test_what_does_not_apply_is_refused_in_one_line(capsys, argv, message):
    status, out, err = zoo_cli(capsys, *argv)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_list_takes_a_pattern_and_info_reads_like_a_summary(capsys):
    status, out, _ = zoo_cli(capsys, "list", "*anime*")
    assert status == 0 and {line.split()[0] for line in out.splitlines()} == {
        "clip_anime", "dcgan_anime", "ddpm_anime", "features_anime", "stylegan_anime", "txt2img_anime",
        "wgan_gp_anime"}
    status, out, _ = zoo_cli(capsys, "info", "gan_mnist")
    assert status == 0 and out.startswith("gan_mnist: MLP GAN") and "FID / KID" in out and "{" not in out
    assert len(out.splitlines()) < 15


def test_progress_goes_to_stderr_in_plain_lines_off_a_terminal(capsys, tmp_path):
    status, out, err = zoo_cli(capsys, "sample", "ddpm_mnist", "--num", "2", "--steps", "4", "--seed", "0",
                            "--out", str(tmp_path / "d.png"))
    assert status == 0 and out.startswith("wrote ") and "steps" not in out
    assert "ddpm_mnist: ddim: 4/4 steps (100%)" in err
    assert "\r" not in err and "\x1b" not in err and "\b" not in err


def test_labels_without_num_give_the_count_as_the_readme_says(tmp_path, capsys):
    """The README's `zoo sample cgan_mnist --labels 7 7 7 1 1 1` failed ("num is 64 but 6
    labels were given"): a condition per image gives the count; one label is repeated."""
    status, out, err = zoo_cli(capsys, "sample", "cgan_mnist", "--labels", "7", "7", "7", "1", "1", "1", "--seed", "0",
                               "--out", tmp_path / "sevens.png")
    assert status == 0 and "6 samples of cgan_mnist" in out, err
    status, out, _ = zoo_cli(capsys, "sample", "cgan_mnist", "--labels", "7", "--out", tmp_path / "all.png")
    assert status == 0 and "64 samples of cgan_mnist" in out


@pytest.mark.once_under("torch", "it is about which backend is installed, not the one running")
def test_a_backend_that_is_not_installed_is_one_line_naming_those_that_are(tmp_path, monkeypatch):
    """A torch-only install whose keras.json names TensorFlow failed with Keras' traceback,
    from Python and the CLI, without a word of KERAS_BACKEND. Here keras.json names openvino
    (a Keras backend zoo does not run on) in real processes, and TensorFlow is made to look
    missing in this one."""
    (tmp_path / "keras.json").write_text('{"backend": "openvino"}')
    for args in (["-m", "zoo", "sample", "gan_mnist", "--out", str(tmp_path / "x.png")],
                 ["-c", "import zoo, sys\ntry:\n    zoo.load('gan_mnist')\nexcept zoo.errors.ZooError as e:\n"
                        "    sys.exit(f'zoo: error: {e}')"]):
        proc = run(args, check=False, env={"KERAS_HOME": str(tmp_path), "KERAS_BACKEND": ""})  # keras.json decides
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert proc.returncode != 0 and "Traceback" not in proc.stderr and len(lines) == 1, proc.stderr
        assert f"Keras is set to the openvino backend (by {tmp_path / 'keras.json'}), which zoo does not run on" \
            in lines[0] and "pick one with KERAS_BACKEND=" in lines[0] and "torch" in lines[0]
    import importlib.util

    from zoo import system
    from zoo.errors import UnsupportedBackendError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorflow" else real(name, *a))
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    with pytest.raises(UnsupportedBackendError, match=r"Keras is set to the tensorflow backend \(by KERAS_BACKEND\), "
                                                      r"which is not installed; installed here: jax, torch: pick one "
                                                      r"with KERAS_BACKEND=jax \(or zoo ... --backend jax\)"):
        system.check_backend()


def test_the_cli_draws_the_views_and_joins_texts_as_asked(tmp_path, capsys):
    """The Python API's pictures (interpolation, style mixing, the denoising strip) and a GPT's
    separator had no flag."""
    from PIL import Image

    status, out, err = zoo_cli(capsys, "sample", "vae_mnist", "--view", "interpolation", "--seed", "3",
                               "--out", tmp_path / "line.png")
    assert status == 0 and "interpolation of vae_mnist" in out, err
    assert Image.open(tmp_path / "line.png").size == (2 * (8 * 30 + 2), 2 * 32)  # one row of 8 digits at scale 2
    status, _, err = zoo_cli(capsys, "sample", "vae_mnist", "--view", "mixing")
    assert status == 2 and "vae_mnist has no view 'mixing'; its views: 'interpolation'" in err
    status, text, _ = zoo_cli(capsys, "sample", "gpt_shakespeare", "--num", "3", "--max-new-tokens", "5",
                              "--separator", "\\n---\\n", "--seed", "0")
    assert status == 0 and text.count("\n---\n") == 2
