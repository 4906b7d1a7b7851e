"""Text for zoo's models: the character tokenizer and the training windows over a token
sequence. (Model files hold models; tokenizers and data pipelines live here.)"""

import keras
import numpy as np

from zoo.errors import ZooError


class UnknownCharacterError(ZooError, ValueError):
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
