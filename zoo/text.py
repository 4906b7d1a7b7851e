"""Text for zoo's models: the character tokenizer and the training windows over a token
sequence (the GPTs), and the word tokenizer of prompts (text-conditioned models). (Model
files hold models; tokenizers and data pipelines live here.)"""

import re

import keras
import numpy as np

from zoo.errors import DataError, ZooError


class UnknownCharacterError(ZooError, ValueError):
    pass


class UnknownWordError(ZooError, ValueError):
    pass


class CharTokenizer:
    """Characters <-> token ids over a fixed vocabulary (a list of characters)."""

    def __init__(self, vocabulary):
        self.vocabulary = [str(c) for c in vocabulary]
        if any(len(c) != 1 for c in self.vocabulary) or len(set(self.vocabulary)) != len(self.vocabulary):
            raise ValueError("a character vocabulary holds distinct single characters")
        self.index = {c: i for i, c in enumerate(self.vocabulary)}

    @classmethod
    def from_text(cls, text):
        return cls(sorted(set(text)))

    def __len__(self):
        return len(self.vocabulary)

    def unknown(self, text):
        """The distinct characters of `text` outside the vocabulary, most frequent first."""
        counts = {}
        for c in text:
            if c not in self.index:
                counts[c] = counts.get(c, 0) + 1
        return sorted(counts, key=lambda c: -counts[c])

    def encode(self, text, unknown="error"):
        """Token ids (int32 numpy). Characters outside the vocabulary raise
        UnknownCharacterError (`unknown="error"`) or are left out (`unknown="drop"`)."""
        missing = self.unknown(text)
        if missing and unknown == "error":
            shown = "".join(missing[:20])
            raise UnknownCharacterError(
                f"{len(missing)} character(s) not in the model's vocabulary of {len(self)}: "
                f"{shown!r}{'...' if len(missing) > 20 else ''}")
        return np.array([self.index[c] for c in text if c in self.index], np.int32)

    def decode(self, ids):
        return "".join(self.vocabulary[int(i)] for i in np.asarray(ids).reshape(-1))


def windows(ids, length):
    """Non-overlapping (x, y) windows over a token sequence (for evaluation)."""
    n = (len(ids) - 1) // length
    x = np.asarray(ids[: n * length]).reshape(n, length)
    y = np.asarray(ids[1: n * length + 1]).reshape(n, length)
    return x, y


class RandomWindows(keras.utils.PyDataset):
    """`steps` batches a epoch of (x, y) windows at random offsets of a token sequence
    (nanoGPT's sampling), drawn from numpy with (seed, epoch, step)."""

    def __init__(self, ids, length, batch_size, steps, seed=0, **kwargs):
        super().__init__(**kwargs)
        if len(ids) <= length:
            raise ValueError(f"the text has {len(ids)} tokens; training windows need more than {length}")
        self.ids, self.length, self.batch_size = np.asarray(ids, np.int32), int(length), int(batch_size)
        self.steps, self.seed, self.epoch = int(steps), int(seed), 0

    def __len__(self):
        return self.steps

    def __getitem__(self, step):
        rng = np.random.default_rng((self.seed, self.epoch, step))
        starts = rng.integers(0, len(self.ids) - self.length, self.batch_size)
        rows = starts[:, None] + np.arange(self.length + 1)
        chunk = self.ids[rows]
        return chunk[:, :-1], chunk[:, 1:]

    def on_epoch_end(self):
        self.epoch += 1


class WordTokenizer:
    """Prompts <-> fixed-length rows of word ids, over a closed vocabulary of lowercase words
    (and the comma), for models conditioned on short captions ("pink hair, green eyes").

    Id 0 is padding: an empty prompt is all padding, the unconditional prompt. The
    vocabulary and the length are plain JSON (`get_config()`), kept in a preset's config. A
    word outside the vocabulary is refused with the words and the vocabulary's size, never
    dropped or guessed."""

    PAD = "<pad>"

    def __init__(self, vocabulary, length=16):
        words = [str(w) for w in vocabulary]
        if not words or words[0] != self.PAD:
            words = [self.PAD, *words]
        if len(set(words)) != len(words) or any(not w or w != w.strip().lower() for w in words):
            raise ValueError("a word vocabulary holds distinct, lowercase, non-empty words")
        self.vocabulary, self.length = words, int(length)
        self.index = {w: i for i, w in enumerate(words)}

    @classmethod
    def from_texts(cls, texts, length=16):
        """The vocabulary of `texts` (sorted; padding first)."""
        return cls(sorted({w for t in texts for w in cls.split(t)}), length)

    WORD = r"[a-z0-9][a-z0-9'-]*|,"

    @classmethod
    def split(cls, text):
        """Lowercase words (letters, digits, hyphens, apostrophes) and commas."""
        return re.findall(cls.WORD, str(text).lower())

    @classmethod
    def dropped(cls, text):
        """The characters of `text` that `split` would lose (not whitespace, not in a word)."""
        return [c for c in dict.fromkeys(re.sub(cls.WORD, " ", str(text).lower())) if not c.isspace()]

    def __len__(self):
        return len(self.vocabulary)

    def get_config(self):
        return {"vocabulary": self.vocabulary[1:], "length": self.length}

    def encode(self, texts):
        """A prompt -> int32 ids (length,); a list of prompts -> (N, length); padded with 0."""
        single = isinstance(texts, str)
        rows = []
        for text in [texts] if single else list(texts):
            if not isinstance(text, str):
                raise TypeError(f"a prompt is a string; got {type(text).__name__}")
            lost = self.dropped(text)
            if lost:
                raise UnknownWordError(
                    f"the prompt {text!r} holds {len(lost)} character(s) the model cannot read: "
                    f"{' '.join(repr(c) for c in lost[:20])}; it reads lowercase English words (letters a-z, digits, "
                    "hyphens, apostrophes) and commas")
            words = self.split(text)
            missing = sorted({w for w in words if w not in self.index})
            if missing:
                raise UnknownWordError(
                    f"{len(missing)} word(s) of {text!r} not in the model's vocabulary of {len(self) - 1}: "
                    f"{', '.join(repr(w) for w in missing[:20])}")
            if len(words) > self.length:
                raise ValueError(f"the prompt {text!r} has {len(words)} words; the model reads at most {self.length}")
            rows.append([self.index[w] for w in words] + [0] * (self.length - len(words)))
        ids = np.array(rows, np.int32).reshape(len(rows), self.length)
        return ids[0] if single else ids

    def check_ids(self, ids, where):
        """Refuses token ids a fit batch cannot hold: not integers of shape (N, length), or
        outside the vocabulary."""
        if ids.ndim != 2 or ids.shape[1] != self.length or ids.dtype.kind not in "iu":
            raise DataError(f"{where}: token ids must be integers of shape (N, {self.length}); got {ids.dtype} "
                            f"{ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise DataError(f"{where}: token ids must lie in [0, {len(self) - 1}]")

    def decode(self, ids):
        """Rows of ids -> prompts (padding left out; commas attached to the word before)."""
        ids = np.asarray(ids)
        out = [" ".join(self.vocabulary[int(i)] for i in row if int(i) != 0).replace(" ,", ",")
               for row in ids.reshape(-1, ids.shape[-1])]
        return out[0] if ids.ndim == 1 else out
