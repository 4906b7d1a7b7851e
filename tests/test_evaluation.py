"""zoo eval and the feature networks: the numbers mean something on real data.

Real held-out images come from fixtures (1,000 MNIST test digits, 400 held-out anime
faces), measured with the shipped feature networks.
"""

import json
import shutil

import numpy as np
import pytest
from conftest import FIXTURES, ROOT

import zoo
from zoo import cards, data, evaluation, metrics
from zoo.registry import PRESETS_DIR


@pytest.fixture(scope="module")
def digits_net():
    return zoo.load("features_digits")


@pytest.fixture(scope="module")
def test_digits():
    """1,000 MNIST test digits (never seen by features_digits), uint8 (1000, 28, 28, 1)."""
    return np.load(FIXTURES / "mnist_test_1000.npz")["x_test"][..., None]


def blur(images, sigma):
    from PIL import Image, ImageFilter

    return np.stack([np.asarray(Image.fromarray(im.squeeze()).filter(ImageFilter.GaussianBlur(sigma)))
                     .reshape(im.shape) for im in images])


def add_noise(images, std, seed=0):
    noisy = images + np.random.default_rng(seed).normal(0, std, images.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def fid_kid(net, a, b):
    fa, fb = net.features(a), net.features(b)
    return metrics.frechet_distance(fa, fb), metrics.kernel_distance(fa, fb, subsets=50, subset_size=500)[0]


def test_fid_of_two_halves_of_real_data_is_near_zero_and_far_below_noise(digits_net, test_digits):
    a, b = test_digits[:500], test_digits[500:]
    noise = np.random.default_rng(0).integers(0, 256, b.shape).astype(np.uint8)
    halves, _ = fid_kid(digits_net, a, b)
    against_noise, _ = fid_kid(digits_net, a, noise)
    assert halves < 0.02 * against_noise, (halves, against_noise)


@pytest.mark.parametrize("corrupt, levels", [(blur, (0.5, 1.0, 1.5, 2.5)), (add_noise, (16, 40, 80, 160))],
                         ids=["blur", "noise"])
def test_fid_and_kid_rise_monotonically_with_corruption(digits_net, test_digits, corrupt, levels):
    a, b = test_digits[:500], test_digits[500:]
    fids, kids = zip(*[fid_kid(digits_net, a, b)] + [fid_kid(digits_net, a, corrupt(b, s)) for s in levels])
    assert all(x < y for x, y in zip(fids, fids[1:])), fids
    assert list(np.argsort(kids)) == list(range(len(kids))), kids  # KID ranks them the same way


def test_precision_falls_when_samples_are_corrupted_and_recall_when_they_collapse(digits_net, test_digits):
    real, fake = digits_net.features(test_digits[:500]), digits_net.features(test_digits[500:])
    precision, recall = metrics.precision_recall(real, fake)
    assert precision > 0.7 and recall > 0.7, (precision, recall)
    noisy = digits_net.features(add_noise(test_digits[500:], 80))
    assert metrics.precision_recall(real, noisy)[0] < precision - 0.3
    collapsed = digits_net.features(np.repeat(test_digits[500:510], 50, axis=0))  # 10 images, 50 times each
    c_precision, c_recall = metrics.precision_recall(real, collapsed)
    assert c_recall < recall - 0.5 and c_precision > 0.5, (c_precision, c_recall)


def test_inception_style_score_sees_diversity(digits_net, test_digits):
    probs = digits_net.embed(test_digits)[1]["digit"]
    varied = metrics.inception_score(probs)[0]
    one_digit = metrics.inception_score(digits_net.embed(np.repeat(test_digits[:1], 500, axis=0))[1]["digit"])[0]
    assert varied > 8.0 and one_digit < 1.1, (varied, one_digit)


def test_the_digit_network_classifies_held_out_digits(digits_net, test_digits):
    labels = np.load(FIXTURES / "mnist_test_1000.npz")["y_test"]
    assert digits_net.accuracy(test_digits, labels)["digit"] > 0.97
    card = zoo.info("features_digits")
    assert card["heldout_accuracy"]["digit"] > 0.97 and card["heldout_images"] == 10000


def test_anime_features_separate_real_faces_from_noise_and_blur():
    net = zoo.load("features_anime")
    faces = data.load_anime_faces(FIXTURES / "anime_heldout_400.npz")[0]
    a, b = faces[:200], faces[200:]
    noise = np.random.default_rng(0).integers(0, 256, b.shape).astype(np.uint8)
    fids = [fid_kid(net, a, x)[0] for x in (b, blur(b, 1.0), blur(b, 2.0), noise)]
    assert all(x < y for x, y in zip(fids, fids[1:])), fids
    # the shipped reference of held-out faces at 64x64 and 32x32
    for size in (64, 32):
        ref = evaluation.load_reference("features_anime", size)
        assert ref["features"].shape[1] == net.feature_dim and ref["mean"].shape == (net.feature_dim,)


def test_every_shipped_feature_network_states_its_accuracy_and_ships_references():
    names = zoo.list_models("features")
    assert names == ["features_anime", "features_clothing", "features_digits"]
    for name in names:
        card = zoo.info(name)
        assert all(0.5 < a <= 1.0 for a in card["heldout_accuracy"].values()), name
        for size in card["reference_sizes"]:
            assert (PRESETS_DIR / name / f"reference_{size}.npz").is_file()
        floor = card["real_training_images_vs_reference"]
        assert all(v["fid"] >= 0 for v in floor.values())


def test_zoo_eval_writes_json_and_the_card(tmp_path, monkeypatch):
    from zoo import cli

    shutil.copytree(PRESETS_DIR / "gan_mnist", tmp_path / "gan_mnist")
    monkeypatch.chdir(tmp_path)
    # a copied preset keeps its card, whose dataset picks features_digits
    assert cli.main(["eval", str(tmp_path / "gan_mnist"), "--num", "300", "--update-card"]) == 0
    result = json.loads((tmp_path / "eval_gan_mnist.json").read_text())
    assert result["features"] == "features_digits" and result["num"] == 300
    for key in ("fid", "kid", "precision", "recall", "inception_score"):
        assert np.isfinite(result[key]), key
    assert result["fid"] > 0 and 0 <= result["precision"] <= 1
    assert "not with Inception-v3" in result["note"]
    card = json.loads((tmp_path / "gan_mnist" / "metadata.json").read_text())
    assert card["evaluation"]["features_digits num=300"]["fid"] == result["fid"]
    assert zoo.load(tmp_path / "gan_mnist") is not None  # the weights' checksum still holds


def test_zoo_eval_refuses_what_it_cannot_measure(capsys):
    from zoo import cli

    assert cli.main(["eval", "gpt_tang", "--num", "100"]) == 2
    assert "zoo eval measures image generators" in capsys.readouterr().err
    assert cli.main(["eval", "gan_mnist", "--steps", "10"]) == 2
    assert "gan_mnist has no option --steps" in capsys.readouterr().err
    assert cli.main(["eval", "features_digits", "--num", "100"]) == 2
    assert "generates nothing" in capsys.readouterr().err
    assert cli.main(["eval", "gan_mnist", "--features", "gan_mnist", "--num", "100"]) == 2
    assert "not a feature network" in capsys.readouterr().err


def test_inception_features_offline_fail_with_a_clear_message(monkeypatch):
    import keras

    def offline(**kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: Name or service not known")

    monkeypatch.setattr(keras.applications, "InceptionV3", offline)
    with pytest.raises(evaluation.EvaluationError, match="Offline, use zoo's own feature networks"):
        evaluation.feature_network("inception")


def test_a_conditional_model_is_checked_for_the_labels_it_was_asked_for():
    result = evaluation.evaluate("cgan_mnist", num=200)
    assert result["label_accuracy"] > 0.9 and "labels" not in result


def test_the_sampler_table_puts_each_diffusion_cards_times_next_to_its_metrics():
    table = evaluation.sampler_table(["ddpm_anime", "gan_mnist"]).splitlines()
    card = zoo.info("ddpm_anime")
    times = card["sampling_seconds_64"]["tensorflow"]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table[2:]]
    assert len(rows) == len(card["evaluation"]) and all(r[0] == "`ddpm_anime`" for r in rows)  # no GAN rows
    for model, sampler, seconds, speedup, num, fid, *_ in rows:
        name = sampler.split()[0]
        if name not in times:  # a sampler the card has no time for
            assert seconds == speedup == "—"
            continue
        assert float(seconds) == times[name]
        assert speedup == f"{times['ddpm-1000'] / times[name]:.0f}×"
        assert any(abs(r["fid"] - float(fid)) <= 0.005 and f"{r['sampler']}-{r['steps']}" == name
                   for r in card["evaluation"].values())
    assert "<!-- sampler-table -->" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_a_model_is_measured_at_another_resolution_against_that_reference():
    """zoo eval --size: a 64x64 model compared at 32x32 (with the 32x32 reference), recorded
    as such in its card key and table cell."""
    result = evaluation.evaluate("dcgan_anime", num=200, size=32)
    assert result["image_size"] == "32x32" and result["resized_to"] == 32 and np.isfinite(result["fid"])
    assert evaluation.result_key(result) == "features_anime num=200 resized_to=32"
    assert cards.sampler_cell(result) == "resized to 32×32"
    del result["resized_to"], result["sampling"]
    assert cards.sampler_cell(result) == "—"  # a GAN without sampling settings
    with pytest.raises(ValueError, match=r"size must be in \[8, inf\]; got 5"):
        evaluation.evaluate("dcgan_anime", num=200, size=5)
