"""CLIP (zoo/models/clip.py) on a toy problem: 16x16 images of four colours, captioned by
colour with varied templates. The contrastive loss falls, aligned pairs score above
shuffled ones, and zero-shot prompts find the colour."""

import numpy as np
import pytest

import zoo
from zoo.text import UnknownWordError

COLOURS = {"red": (220, 40, 40), "green": (40, 200, 60), "blue": (40, 60, 220), "yellow": (230, 220, 40)}
TEMPLATES = ("{c}", "a {c} square", "{c} colour", "a picture of {c}")


def toy(n, seed):
    rng = np.random.default_rng(seed)
    names = list(COLOURS)
    labels = rng.integers(0, len(names), n)
    images = np.array([COLOURS[names[k]] for k in labels], "float32")[:, None, None, :] + rng.normal(0, 12, (n, 16, 16, 3))
    captions = [TEMPLATES[rng.integers(len(TEMPLATES))].format(c=names[k]) for k in labels]
    return np.clip(images, 0, 255).astype("uint8"), captions, labels


@pytest.fixture(scope="module")
def trained():
    import keras

    from zoo.models.clip import CLIP
    from zoo.text import WordTokenizer

    keras.utils.set_random_seed(0)
    images, captions, labels = toy(256, 0)
    vocabulary = WordTokenizer.from_texts(captions, length=6).vocabulary
    model = CLIP(vocabulary, length=6, image_shape=(16, 16, 3), image_widths=(16, 32), text_width=32,
                 text_layers=1, text_heads=2, embed_dim=32, seed=0)
    model.compile(keras.optimizers.AdamW(3e-3, weight_decay=0.0))
    ids = model.tokenizer.encode(captions)
    history = model.fit([images, ids], labels, batch_size=32, epochs=6, verbose=0).history
    return model, history


def test_the_contrastive_loss_falls_and_aligned_pairs_score_above_shuffled(trained):
    model, history = trained
    # with 4 colours in a batch of 32, each row has ~8 positives: the floor is about ln 8, not 0
    assert history["loss"][-1] < history["loss"][0] - 0.5 and history["loss"][-1] < np.log(8) + 0.2, history["loss"]
    assert history["accuracy"][-1] > 0.95
    images, captions, labels = toy(64, 1)
    scores = model.score(images, captions)  # (64, 64): row i against every caption
    aligned = np.diag(scores)
    other = scores[labels[:, None] != labels[None, :]]
    assert aligned.mean() > other.mean() + 10  # CLIP score: 100 x cosine


def test_zero_shot_prompts_find_the_colour(trained):
    model, _ = trained
    images, _, labels = toy(64, 2)
    probabilities = model.zero_shot(images, ["red", "green", "blue", "yellow"])
    assert probabilities.shape == (64, 4)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert (probabilities.argmax(axis=1) == labels).mean() >= 0.95


def test_same_group_captions_are_positives_not_negatives():
    """Rows 0 and 1 are one group (say, one tag pair in two templates). With groups, the loss
    prefers their embeddings equal over pulled apart; with one group per row (plain InfoNCE),
    the reverse: it would push captions of the same pair apart as negatives."""
    from keras import ops

    from zoo.models.clip import MAX_LOG_SCALE, contrastive_loss, positives_of

    e = np.eye(3, dtype="float32")
    same, apart = e[[0, 0, 2]], e[[0, 1, 2]]

    def loss(embeddings, groups):
        x = ops.convert_to_tensor(embeddings)
        positives = positives_of(ops.convert_to_tensor(groups))
        value, _ = contrastive_loss(x, x, ops.convert_to_tensor(MAX_LOG_SCALE, "float32"), positives)
        return float(value)

    assert loss(same, [0, 0, 1]) < loss(apart, [0, 0, 1]) - 1.0
    assert loss(apart, [0, 1, 2]) < loss(same, [0, 1, 2]) - 0.3
    assert loss(same, [0, 0, 1]) == pytest.approx(2 / 3 * np.log(2), abs=1e-3)  # the floor: targets' entropy


def test_a_one_tag_caption_is_true_of_every_face_with_that_tag():
    from keras import ops

    from zoo.models.clip import positives_of

    # faces (hair, eye): (0, 1), (0, 2), (3, 1); captions: "hair 0, eye 1", "hair 0" (no eye), "eye 1"
    labels = np.array([[0, 1, 0, 1], [0, 2, 0, -1], [3, 1, -1, 1]])
    positives = np.asarray(ops.convert_to_numpy(positives_of(ops.convert_to_tensor(labels))))
    np.testing.assert_array_equal(positives, [[True, True, True], [False, True, False], [False, False, True]])


def test_prompts_outside_the_vocabulary_and_wrong_inputs_are_refused(trained):
    model, _ = trained
    with pytest.raises(UnknownWordError, match="'purple'"):
        model.encode_text(["red", "purple square"])
    with pytest.raises(ValueError, match="uint8"):
        model.encode_image(np.zeros((2, 16, 16, 3), "float32"))
    with pytest.raises(Exception, match=r"token ids must be integers of shape \(N, 6\)"):
        model.fit([np.zeros((4, 16, 16, 3), "uint8"), np.zeros((4, 7), "int32")], np.zeros(4), verbose=0)


def test_config_round_trip_gives_the_same_embeddings(trained):
    import json

    from zoo.models.clip import CLIP

    model, _ = trained
    again = CLIP.from_config(json.loads(json.dumps(model.get_config())))
    again.set_weights(model.get_weights())
    images, captions, _ = toy(8, 3)
    np.testing.assert_allclose(again.score(images, captions), model.score(images, captions), atol=1e-3)


@pytest.mark.once_under("torch", "the recipe's data, resuming and card are the same on every backend; CLIP "
                                 "trains on every backend above")
def test_the_recipe_trains_resumes_and_loads_on_another_backend(tmp_path, backend):
    """Once, under PyTorch (the contrastive loss falls on every backend above): the recipe's
    preset then scores the same on TensorFlow."""
    import json

    from conftest import FIXTURES, ROOT, next_backend, run

    work = tmp_path / "run"
    args = [str(ROOT / "recipes" / "clip.py"), "--variant", "clip_anime", "--data", str(FIXTURES / "anime_heldout_400.npz"),
            "--batch-size", "32", "--workdir", str(work), "--verbose", "0"]
    run(args + ["--epochs", "1"])
    resumed = run(args + ["--epochs", "2"])
    assert "resuming" in resumed.stderr
    card = json.loads((work / "preset" / "metadata.json").read_text())
    assert card["epochs"] == 2 and card["steps"] == 6  # 111 tagged faces: 3 full batches of 32 an epoch
    assert set(card["heldout"]) >= {"zero_shot_hair_accuracy", "zero_shot_eye_accuracy", "retrieval_top1",
                                    "retrieval_top5"} and card["heldout"]["retrieval_candidates"] == 132
    code = ("import numpy as np, zoo; m = zoo.load(%r); "
            "print(np.round(m.score(np.zeros((1, 64, 64, 3), 'uint8'), ['red hair', 'blue eyes']), 3).tolist())")
    here = zoo.load(work / "preset").score(np.zeros((1, 64, 64, 3), "uint8"), ["red hair", "blue eyes"])
    there = run(["-c", code % str(work / "preset")], backend=next_backend(backend)).stdout.strip().splitlines()[-1]
    np.testing.assert_allclose(json.loads(there), np.asarray(here), atol=0.01)
