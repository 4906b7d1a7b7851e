"""Captions from dataset labels and the word tokenizer of prompts (zoo/captions.py,
zoo/text.py), the text side of text-conditioned models."""

import json

import numpy as np
import pytest
from conftest import FIXTURES

from zoo import captions
from zoo.text import UnknownWordError, WordTokenizer


@pytest.fixture(scope="module")
def faces():
    d = np.load(FIXTURES / "anime_heldout_400.npz")
    return d["hair"], d["eye"], [str(s) for s in d["hair_names"]], [str(s) for s in d["eye_names"]]


def test_anime_captions_name_their_tags_in_varied_orders(faces):
    hair, eye, hair_names, eye_names = faces
    texts = captions.anime_captions(hair, eye, hair_names, eye_names, seed=0)
    assert len(texts) == len(hair)
    for text, h, e in zip(texts, hair, eye):
        if h < 0 and e < 0:
            assert text == ""  # untagged: the empty (unconditional) prompt
            continue
        named = [hair_names[h] in text, eye_names[e] in text]
        assert any(named) and all(name in hair_names + eye_names for name in _tags(text, hair_names, eye_names))
    tagged = [t for t, h in zip(texts, hair) if h >= 0]
    singles = [t for t in tagged if ("hair" in t) != ("eyes" in t)]
    assert 0.05 < len(singles) / len(tagged) < 0.4  # about `single` = 0.2 of them name one tag
    pairs = [t for t in tagged if "hair" in t and "eyes" in t]
    assert any(t.index("hair") < t.index("eyes") for t in pairs) and any(t.index("eyes") < t.index("hair") for t in pairs)
    assert texts == captions.anime_captions(hair, eye, hair_names, eye_names, seed=0)  # reproducible
    assert texts != captions.anime_captions(hair, eye, hair_names, eye_names, seed=1)


def _tags(text, hair_names, eye_names):
    return [name for name in hair_names + eye_names if name in text]


def test_class_captions_name_the_class():
    labels = np.arange(10).repeat(3)
    fashion = captions.class_captions(labels, "fashion_mnist", seed=0)
    assert all(captions.FASHION_NAMES[c] in t for c, t in zip(labels, fashion))
    digits = captions.class_captions(labels, "mnist", seed=0)
    assert all(str(c) in t or captions.DIGIT_WORDS[c] in t for c, t in zip(labels, digits))
    with pytest.raises(ValueError, match="not 'cifar10'"):
        captions.class_captions(labels, "cifar10")


def test_word_tokenizer_round_trips_and_keeps_its_vocabulary_in_json(faces):
    hair, eye, hair_names, eye_names = faces
    texts = captions.anime_captions(hair, eye, hair_names, eye_names, seed=0)
    tok = WordTokenizer.from_texts(texts, length=12)
    ids = tok.encode(texts)
    assert ids.shape == (len(texts), 12) and ids.dtype == np.int32
    assert tok.decode(ids) == [" ".join(WordTokenizer.split(t)).replace(" ,", ",") for t in texts]
    assert tok.decode(tok.encode("Pink hair,  GREEN eyes")) == "pink hair, green eyes"
    assert tok.encode("").shape == (12,) and not tok.encode("").any()  # the empty prompt is all padding
    again = WordTokenizer(**json.loads(json.dumps(tok.get_config())))
    np.testing.assert_array_equal(again.encode(texts), ids)


def test_an_unknown_word_is_refused_naming_it(faces):
    tok = WordTokenizer.from_texts(["pink hair, green eyes", "blue eyes"], length=8)
    with pytest.raises(UnknownWordError, match=r"2 word\(s\) of 'teal hair, violet eyes' not in the model's "
                                               r"vocabulary of 6: 'teal', 'violet'"):
        tok.encode(["pink hair", "teal hair, violet eyes"])
    with pytest.raises(ValueError, match="has 9 words; the model reads at most 8"):
        tok.encode("pink hair pink hair pink hair pink hair pink")
    with pytest.raises(TypeError, match="a prompt is a string"):
        tok.encode([3])


def test_anime_captions_say_which_tags_they_name(faces):
    hair, eye, hair_names, eye_names = faces
    texts, named = captions.anime_captions(hair, eye, hair_names, eye_names, seed=0, return_tags=True)
    assert named.shape == (len(texts), 2)
    for text, (h, e), true_h, true_e in zip(texts, named, hair, eye):
        assert (h == -1 or (h == true_h and hair_names[h] in text)) and (e == -1 or (e == true_e and eye_names[e] in text))
        assert (h >= 0 or e >= 0) == (text != "")
