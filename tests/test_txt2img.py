"""Text to image (zoo/models/txt2img.py) on a toy problem: squares of four colours on grey (8x8), captioned
by colour. Guidance's arithmetic, the null prompt, the start from an unconditional model,
negative prompts, reranking, errors, and the recipe (train, resume, load on another backend)."""

import numpy as np
import pytest

from zoo.tasks import OptionError

COLOURS = {"red": (220, 40, 40), "green": (40, 200, 60), "blue": (40, 60, 220), "yellow": (230, 220, 40)}
TEMPLATES = ("{c}", "a {c} square")


def toy(n, seed):
    rng = np.random.default_rng(seed)
    names = list(COLOURS)
    labels = rng.integers(0, len(names), n)
    images = np.full((n, 8, 8, 3), 128.0, "float32")  # a coloured square on grey (a plain colour would not do:
    images[:, 2:6, 2:6] = np.array([COLOURS[names[k]] for k in labels], "float32")[:, None, None, :]  # GroupNorm
    images += rng.normal(0, 8, images.shape)  # takes out each feature map's mean)
    captions = [TEMPLATES[rng.integers(len(TEMPLATES))].format(c=names[k]) for k in labels]
    return np.clip(images, 0, 255).astype("uint8"), captions, labels


def small(**kwargs):
    from zoo.models.txt2img import TextToImage

    vocabulary = sorted({w for c in COLOURS for t in TEMPLATES for w in t.format(c=c).split()})
    spec = dict(length=4, text_width=16, text_layers=1, text_heads=2, embed_dim=16, image_shape=(8, 8, 3),
                widths=(8, 16), attention=(1,), cross_attention=(1,), train_text=True, timesteps=20, ema_decay=0.9, seed=0)
    return TextToImage(vocabulary, **{**spec, **kwargs})


@pytest.fixture(scope="module")
def trained():
    import keras

    keras.utils.set_random_seed(0)
    model = small()
    model.compile(keras.optimizers.AdamW(3e-3, weight_decay=0.0))
    images, captions, _ = toy(256, 0)
    history = model.fit(images, model.tokenizer.encode(captions), batch_size=32, epochs=40, verbose=0).history
    return model, history


def test_the_loss_falls_and_prompts_steer_the_colour(trained):
    model, history = trained
    assert history["loss"][-1] < history["loss"][0] * 0.6, history["loss"]
    names = list(COLOURS)
    images = model.generate([f"a {c} square" for c in names for _ in range(4)], seed=0, steps=20,
                            eta=1.0, guidance_scale=3.0, progress=False)
    means = images[:, 2:6, 2:6].reshape(len(names), 4, -1, 3).mean(axis=(1, 2))  # each prompt's squares' colour
    targets = np.array([COLOURS[c] for c in names], "float32")
    nearest = np.argmin(((means[:, None, :] - targets[None]) ** 2).sum(-1), axis=1)
    assert (nearest == np.arange(len(names))).sum() >= 3, means.round()


def test_guidance_steered_from_the_prompt_itself_is_the_conditional_prediction(trained):
    model, _ = trained
    x_T = model.sample_noise(4, seed=1)
    settings = model.resolve_condition(model.resolve_options(steps=5, guidance_scale=1.0), 4)
    settings["prompt"] = np.array(["red", "blue", "a green square", "yellow"], dtype=object)
    condition = model.condition_for_sampling(settings, slice(None))
    negative = model.null_condition(condition)
    plain = model._denoise(x_T, settings, 0, condition)
    settings["guidance_scale"] = 3.0  # the guided path, steered from the prompt itself: eps_c + 3 (eps_c - eps_c)
    guided = model._denoise(x_T, settings, 0, condition, negative=condition)
    np.testing.assert_allclose(guided, plain, atol=2e-5)
    assert np.abs(model._denoise(x_T, settings, 0, condition, negative=negative) - plain).max() > 1e-3


def test_the_empty_prompt_and_caption_dropout_give_the_null_condition(trained):
    from keras import ops

    model, _ = trained
    ids = model.tokenizer.encode(["red", "", "a blue square"])
    kept = [ops.convert_to_numpy(c) for c in model.encode(ids)]
    dropped = [ops.convert_to_numpy(c) for c in model.encode(ids, np.array([False, False, True]))]
    null = model.encode_prompts([""])
    assert len(kept) == 3  # pooled embedding, word states, mask
    for k, d, n in zip(kept, dropped, null):
        np.testing.assert_array_equal(k[1], n[0])  # the empty prompt is the null condition
        np.testing.assert_array_equal(d[2], n[0])  # and so is a dropped caption
    assert np.abs(kept[0][0] - null[0][0]).max() > 0.1  # a prompt's is not
    # the empty prompt, guided or not, is the unconditional model: guidance has nothing to push from
    a = model.generate("", num=3, seed=2, steps=5, guidance_scale=1.0, progress=False)
    b = model.generate("", num=3, seed=2, steps=5, guidance_scale=4.0, progress=False)
    np.testing.assert_array_equal(a, b)


def test_a_negative_prompt_replaces_the_null_one(trained):
    model, _ = trained
    plain = model.generate("red", num=2, seed=3, steps=5, progress=False)
    same = model.generate({"prompts": "red", "negative_prompts": ""}, num=2, seed=3, steps=5, progress=False)
    np.testing.assert_array_equal(same, plain)
    away = model.generate({"prompts": "red", "negative_prompts": "yellow"}, num=2, seed=3, steps=5, progress=False)
    assert np.abs(away.astype(int) - plain.astype(int)).max() > 0


def test_candidates_keep_the_image_clip_scores_best(trained):
    model, _ = trained

    class ByRed:  # a stand-in CLIP that prefers red images, whatever the prompt
        image_shape = (8, 8, 3)

        def encode_image(self, images):
            return images[..., 0].reshape(len(images), -1).mean(1, keepdims=True).astype("float32")

        def encode_text(self, prompts):
            return np.ones((len(prompts), 1), "float32")

    model.reranker = "stand-in"
    model.set_reranker(ByRed())
    try:
        best = model.generate("blue", num=2, seed=4, steps=5, candidates=3, progress=False)
        pool = model.generate("blue", num=6, seed=4, steps=5, progress=False).reshape(2, 3, 8, 8, 3)
    finally:
        model.reranker = None
        model.set_reranker(None)
    pick = pool[..., 0].reshape(2, 3, -1).mean(-1).argmax(axis=1)
    np.testing.assert_array_equal(best, pool[np.arange(2), pick])


def test_unknown_words_and_bad_inputs_are_refused(trained):
    model, _ = trained
    with pytest.raises(OptionError, match="'purple'"):
        model.generate("a purple square", num=1, progress=False)
    # another script was reduced to the empty prompt, silently: what tokenizing would lose is refused
    with pytest.raises(OptionError, match="holds 2 character\\(s\\) the model cannot read: '红' '色'"):
        model.generate("红色", num=1, progress=False)
    with pytest.raises(OptionError, match="cannot read: '!'"):
        model.generate("red!", num=1, progress=False)
    with pytest.raises(OptionError, match="prompt must be a prompt or a list of prompts"):
        model.generate(prompt=3, num=1)
    with pytest.raises(OptionError, match="'prompts'"):
        model.generate({"prompt": "red"})
    with pytest.raises(OptionError, match="num is 3 but 2 prompt"):
        model.generate(["red", "blue"], num=3)
    with pytest.raises(OptionError, match="candidates"):
        model.generate("red", num=1, candidates=2)  # no reranker: no such option
    with pytest.raises(Exception, match=r"token ids must be integers of shape \(N, 4\)"):
        model.fit(np.zeros((4, 8, 8, 3), "uint8"), np.zeros((4, 5), "int32"), verbose=0)


def test_it_starts_as_the_unconditional_model_it_was_built_from():
    import keras

    from zoo.models.diffusion import DiffusionModel

    keras.utils.set_random_seed(1)
    base = DiffusionModel(image_shape=(8, 8, 3), widths=(8, 16), attention=(1,), timesteps=100, seed=0)
    base.network.set_weights([w + np.random.default_rng(i).normal(0, 0.05, w.shape).astype("float32")
                              for i, w in enumerate(base.network.get_weights())])  # the zero-init out-convolution too
    model = small()
    model.start_from(base)
    x = np.random.default_rng(0).normal(size=(3, 8, 8, 3)).astype("float32")
    t = np.array([5, 50, 90], "int32")
    condition = model.encode_prompts(["red", "a blue square", ""])
    for ours, theirs in ((model.network, base.network), (model.ema_network, base.ema_network)):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(ours([x, t, *condition])),
                                   keras.ops.convert_to_numpy(theirs([x, t])), atol=1e-5)


@pytest.mark.once_under("tensorflow", "the recipe's captions, measurements and card are the same on every "
                                      "backend; its preset is loaded on JAX")
def test_the_recipe_trains_resumes_and_loads_on_another_backend(tmp_path):
    """Once, under TensorFlow (the toy tests above train on every backend): the recipe's preset
    then draws the same images on JAX (the shipped txt2img presets are compared on all three in
    test_presets)."""
    import json

    from conftest import FIXTURES, ROOT, run

    import zoo


    work = tmp_path / "run"
    args = [str(ROOT / "recipes" / "txt2img.py"), "--variant", "txt2img_anime",
            "--data", str(FIXTURES / "anime_heldout_400.npz"), "--batch-size", "32", "--workdir", str(work),
            "--verbose", "0", "--sample-steps", "2", "--scales", "1", "3", "--per-prompt", "1", "--fid-num", "20",
            "--steps", "2"]
    run(args + ["--epochs", "1"])
    resumed = run(args + ["--epochs", "2"])
    assert "resuming" in resumed.stderr
    card = json.loads((work / "preset" / "metadata.json").read_text())
    assert card["epochs"] == 2 and card["unet_initialised_from"] == "ddpm_anime"
    measured = card["prompt_measurements"]
    assert set(measured["adherence"]) == {"1.0", "3.0"} and set(measured["ceiling"]) == {"hair", "eye"}
    assert {"fid", "kid", "clip_score"} <= set(measured["quality"]["3.0"])
    run(args[:-9] + ["--measure", str(work / "preset"), "--scales", "--rerank", "2", "--per-prompt", "1",
                     "--steps", "2"])  # measure again: reranking only
    card = json.loads((work / "preset" / "metadata.json").read_text())
    assert card["reranking"]["candidates"] == 2 and set(card["reranking"]["hair"]) == {"one", "reranked"}
    assert card["prompt_measurements"] == measured and "best of 2 by CLIP" in (work / "preset" / "README.md").read_text()
    code = ("import numpy as np, zoo; m = zoo.load(%r); "  # eta 0: the noise is numpy's x_T alone, as on every backend
            "print(m.generate(['red hair', 'blue eyes'], seed=0, steps=3, guidance_scale=2, eta=0.0, progress=False)"
            ".astype(int).sum(axis=(1, 2, 3)).tolist())")
    here = zoo.load(work / "preset").generate(["red hair", "blue eyes"], seed=0, steps=3, guidance_scale=2, eta=0.0,
                                              progress=False).astype(int).sum(axis=(1, 2, 3)).tolist()
    there = json.loads(run(["-c", code % str(work / "preset")], backend="jax").stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(there, here, rtol=0.01)
