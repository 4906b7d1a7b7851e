"""The character-level GPT: learning, causality, cached sampling, tokenizer, recipe, CLI."""

import json

import numpy as np
import pytest
from conftest import FIXTURES, next_backend, numpy, run, zoo_cli

import zoo
from zoo.models.gpt import GPT
from zoo.text import CharTokenizer, RandomWindows, UnknownCharacterError, windows

TEXT = (FIXTURES / "shakespeare_tiny.txt").read_text()


def small_gpt(text=TEXT, **kwargs):
    spec = dict(block_size=32, num_layers=2, num_heads=2, embed_dim=32, dropout=0.0)
    spec.update(kwargs)
    return GPT(CharTokenizer.from_text(text).vocabulary, **spec)


@pytest.fixture(scope="module")
def trained():
    """A tiny GPT after a few hundred steps on 6,000 characters of Shakespeare."""
    import keras

    keras.utils.set_random_seed(0)
    model = small_gpt()
    ids = model.tokenizer.encode(TEXT)
    model.compile()
    before = model.score(ids)
    history = model.fit(RandomWindows(ids, 32, 16, 100, seed=0), epochs=3, verbose=0)
    return model, before, history.history


def test_the_loss_falls_on_a_tiny_text(trained):
    model, before, history = trained
    ids = model.tokenizer.encode(TEXT)
    # an untrained model is near uniform: ln(vocab) nats per character
    assert abs(before - np.log(model.vocab_size)) < 0.3
    assert history["loss"][-1] < history["loss"][0] - 0.3
    assert model.score(ids) < before - 1.0
    np.testing.assert_allclose(history["perplexity"][-1], np.exp(history["loss"][-1]), rtol=1e-4)


def test_future_tokens_do_not_change_earlier_logits():
    model = small_gpt()
    ids = np.random.default_rng(0).integers(0, model.vocab_size, (2, 32))
    changed = ids.copy()
    changed[:, 20:] = (changed[:, 20:] + 7) % model.vocab_size
    a, b = numpy(model(ids)), numpy(model(changed))
    np.testing.assert_allclose(a[:, :20], b[:, :20], atol=1e-5)
    assert np.abs(a[:, 20:] - b[:, 20:]).max() > 1e-3


def test_the_key_value_cache_gives_the_full_forward_pass_logits():
    model = small_gpt()
    ids = np.random.default_rng(1).integers(0, model.vocab_size, (3, 20)).astype("int32")
    full = numpy(model(ids))
    logits, cache = model.call_cached(ids[:, :12], model.empty_cache(3), 0)
    steps = [numpy(logits)]
    for t in range(12, 20):  # then one token at a time
        logits, cache = model.call_cached(ids[:, t:t + 1], cache, t)
        steps.append(numpy(logits))
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-4)


@pytest.mark.parametrize("settings", [dict(), dict(temperature=0.7, top_k=5), dict(top_p=0.8),
                                      dict(temperature=0)])
def test_cached_and_uncached_sampling_give_the_same_text(trained, settings):
    model, _, _ = trained
    # 70 new characters cross the 32-character context: the window moves twice
    cached = model.generate("ROMEO:", 3, seed=3, max_new_tokens=70, **settings)
    uncached = model.generate("ROMEO:", 3, seed=3, max_new_tokens=70, use_cache=False, **settings)
    assert cached == uncached
    assert all(t.startswith("ROMEO:") and len(t) == 76 for t in cached)


def test_sampling_is_seeded_and_filters_as_asked(trained):
    model, _, _ = trained
    a = model.generate("\n", 4, seed=0, max_new_tokens=60)
    assert a == model.generate("\n", 4, seed=0, max_new_tokens=60)
    assert a != model.generate("\n", 4, seed=1, max_new_tokens=60)
    assert isinstance(model.generate("\n", seed=0, max_new_tokens=5), str)
    # greedy decoding ignores the seed; top_k=1 is greedy too
    greedy = model.generate("First", max_new_tokens=40, temperature=0)
    assert greedy == model.generate("First", max_new_tokens=40, temperature=1.0, top_k=1, seed=9)
    # the trained model has learnt which characters follow which
    assert " the " in "".join(model.generate("\n", 4, seed=0, max_new_tokens=300, temperature=0.5))


def test_pick_keeps_only_the_nucleus():
    import keras

    logits = keras.ops.log(keras.ops.convert_to_tensor([[0.5, 0.3, 0.15, 0.05]] * 200))
    u = keras.ops.convert_to_tensor(np.random.default_rng(0).random(200).astype("float32"))
    picked = numpy(GPT.pick(logits, u, 1.0, None, 0.7))  # 0.5 + 0.3 reach 0.7: two tokens
    assert set(picked) == {0, 1}
    picked = numpy(GPT.pick(logits, u, 1.0, 3, None))
    assert set(picked) == {0, 1, 2}
    share = np.mean(numpy(GPT.pick(logits, u, 1.0, None, None)) == 0)
    assert 0.4 < share < 0.6


def test_the_tokenizer_names_unknown_characters():
    tok = CharTokenizer.from_text("abc ")
    assert tok.decode(tok.encode("a cab")) == "a cab"
    with pytest.raises(UnknownCharacterError, match="2 character.*'zx'"):
        tok.encode("a zzx")
    assert tok.decode(tok.encode("a zzx", unknown="drop")) == "a "
    model = GPT(tok.vocabulary, block_size=8, num_layers=1, num_heads=1, embed_dim=8)
    with pytest.raises(UnknownCharacterError, match="'q'"):
        model.generate("aq", max_new_tokens=3)
    with pytest.raises(ValueError, match="shape"):
        model.compile()
        model.fit(np.zeros((4, 9), "int32"), np.zeros((4, 9), "int32"), verbose=0)


def test_windows_shift_by_one():
    x, y = windows(np.arange(10), 3)
    np.testing.assert_array_equal(x, [[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    np.testing.assert_array_equal(y, x + 1)
    xb, yb = RandomWindows(np.arange(100), 8, 4, 2, seed=0)[0]
    np.testing.assert_array_equal(yb, xb + 1)


def test_a_saved_gpt_loads_with_its_vocabulary_on_another_backend(trained, tmp_path, backend):
    model, _, _ = trained
    path = zoo.save_preset(model, tmp_path / "tiny_gpt", dataset="fixture")
    config = json.loads((path / "config.json").read_text())
    assert config["config"]["vocabulary"] == model.tokenizer.vocabulary  # JSON, in the preset
    ids = np.arange(64).reshape(2, 32) % model.vocab_size
    here = numpy(model(ids))
    script = ("import sys, numpy as np, keras, zoo; m = zoo.load(sys.argv[1]); "
              "np.save(sys.argv[2], keras.ops.convert_to_numpy(m(np.arange(64).reshape(2, 32) % m.vocab_size)))")
    other = next_backend(backend)
    run(["-c", script, str(path), str(tmp_path / f"{other}.npy")], backend=other)
    np.testing.assert_allclose(np.load(tmp_path / f"{other}.npy"), here, atol=1e-4, err_msg=other)


@pytest.mark.once_under("torch", "the recipe's data and vocabulary handling is the same on every backend; "
                                 "the model trains on every backend above, and `zoo train` runs a recipe "
                                 "on each in test_cli")
def test_the_recipe_trains_and_fine_tuning_says_what_happens_to_unknown_characters(tmp_path, backend):
    base = ["-m", "zoo", "train", "gpt_tang", "--backend", backend, "--verbose", "0", "--epochs", "1",
            "--steps-per-epoch", "3", "--batch-size", "4"]
    tiny = ["--layers", "1", "--heads", "2", "--width", "16", "--block-size", "16"]
    run(base + tiny + ["--data", str(FIXTURES / "tang_tiny.txt"), "--workdir", str(tmp_path / "a"),
                       "--out", str(tmp_path / "tang")])
    card = json.loads((tmp_path / "tang" / "metadata.json").read_text())
    assert card["steps"] == 3 and card["backend"] == backend
    assert card["measured"]["validation_loss_nats_per_char"] > 0
    assert 0 <= card["measured"]["regular_form_share"] <= 1
    assert (tmp_path / "tang" / "samples.txt").read_text().strip()
    assert (tmp_path / "a" / "samples" / "epoch_0001.txt").is_file()

    # Shakespeare's Latin letters are not in a Tang vocabulary: a clear stop...
    tune = base + ["--data", str(FIXTURES / "shakespeare_tiny.txt"), "--init", str(tmp_path / "tang")]
    proc = run(tune + ["--workdir", str(tmp_path / "b")], check=False)
    assert proc.returncode == 2 and "not in the model's vocabulary" in proc.stderr
    assert "Traceback" not in proc.stderr
    # ...or, asked for, the unknown characters are left out (here: all but the newlines)
    run(tune + ["--workdir", str(tmp_path / "c"), "--unknown", "drop", "--out", str(tmp_path / "tuned")])
    card = json.loads((tmp_path / "tuned" / "metadata.json").read_text())
    assert card["init"] == str(tmp_path / "tang")


def test_sample_prints_text_and_refuses_image_flags_for_text(tmp_path, backend, capsys):
    model = small_gpt(text=TEXT + "落霞")
    path = zoo.save_preset(model, tmp_path / "g", dataset="fixture")
    status, out, _ = zoo_cli(capsys, "sample", path, "--prompt", "ROMEO:", "--max-new-tokens", "20", "--seed", "0",
                             "--backend", backend)
    assert status == 0 and out.startswith("ROMEO:") and len(out.rstrip("\n")) >= 20
    status, _, err = zoo_cli(capsys, "sample", path, "--prompt", "落霞与孤鹜齐飞", "--backend", backend)
    assert status == 2 and "'与孤鹜齐飞'" in err
    status, _, err = zoo_cli(capsys, "sample", "gan_mnist", "--prompt", "x", "--out", tmp_path / "x.png")
    assert status == 2 and "gan_mnist has no option --prompt" in err


def test_regular_form_accepts_the_four_forms_and_nothing_else():
    from recipes.gpt import regular_form

    poems = (FIXTURES / "tang_tiny.txt").read_text().splitlines()
    assert sum(map(regular_form, poems)) == len(poems)  # the data is all regular verse
    wujue = "床前明月光，疑是地上霜。举头望明月，低头思故乡。"
    assert regular_form(wujue) and regular_form(wujue * 2) and regular_form("\n" + wujue)
    assert not regular_form(wujue * 3)  # 12 lines
    assert not regular_form(wujue.replace("明月光", "明月"))  # a short line
    assert not regular_form(wujue.replace("，疑", "。疑"))  # punctuation out of place
    assert not regular_form(wujue[:12])  # one couplet only


def test_a_resumed_run_draws_the_windows_of_the_next_epoch_not_the_first_again(tmp_path):
    import argparse

    from zoo import harness

    class Recorded(RandomWindows):
        seen = []

        def __getitem__(self, step):
            Recorded.seen.append(self.epoch)
            return super().__getitem__(step)

    model = small_gpt(num_layers=1, embed_dim=16)
    model.compile()
    ids = model.tokenizer.encode(TEXT)
    args = argparse.Namespace(workdir=str(tmp_path / "run"), fresh=False, epochs=1, verbose=0, batch_size=4)
    harness.fit(model, Recorded(ids, 32, 4, 2, seed=0), args)
    first = min(Recorded.seen)  # 0, or 1 where the backend's data adapter calls on_epoch_end first
    Recorded.seen.clear()
    args.epochs = 2  # the same workdir: the run resumes from its checkpoint at epoch 2
    harness.fit(model, Recorded(ids, 32, 4, 2, seed=0), args)
    assert min(Recorded.seen) == first + 1, (first, Recorded.seen)
