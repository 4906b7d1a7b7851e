"""Captions for text-conditioned training, built from the labels the datasets have: the anime
faces' hair and eye colour tags, and Fashion-MNIST's and MNIST's classes.

Each image gets one caption, drawn from a few templates and word orders with numpy's
`default_rng(seed)`, so a set of captions is reproducible:

* anime: "blonde hair, blue eyes", "blue eyes, blonde hair", "a girl with blonde hair and
  blue eyes", ...; with probability `single` only one of the two tags ("blonde hair"), so
  one-attribute prompts ("red hair") are in the training text; an untagged face gets "" (the
  empty prompt: the unconditional one);
* fashion: "a sneaker", "a photo of a sneaker", "sneaker", ...;
* digits: "the digit 7", "seven", "a handwritten seven", ...
"""

import keras
import numpy as np

ANIME_PAIRS = ("{hair}, {eye}", "{eye}, {hair}", "a girl with {hair} and {eye}", "{hair} and {eye}",
               "a face with {eye} and {hair}")
ANIME_SINGLE = ("{tag}", "a girl with {tag}")
FASHION_NAMES = ("t-shirt", "trousers", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                 "ankle boot")
FASHION_TEMPLATES = ("a {name}", "a photo of a {name}", "{name}")
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
DIGIT_TEMPLATES = ("the digit {digit}", "{word}", "a handwritten {word}", "the number {word}")


def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


def anime_captions(hair, eye, hair_names, eye_names, seed=0, single=0.2, return_tags=False):
    """One caption per face from its hair and eye tag indices (-1: untagged) and the tags'
    names ("blonde hair", "blue eyes"). With `return_tags`, also the tags each caption names,
    int (N, 2) (hair, eye; -1 where it names none): what the caption claims of its image."""
    rng = np.random.default_rng(seed)
    hair, eye = np.asarray(hair).reshape(-1), np.asarray(eye).reshape(-1)
    if hair.shape != eye.shape:
        raise ValueError(f"hair and eye tags differ in length: {hair.shape[0]} and {eye.shape[0]}")
    out, named = [], []
    for h, e in zip(hair.tolist(), eye.tolist()):
        tags = [str(hair_names[h]) if h >= 0 else None, str(eye_names[e]) if e >= 0 else None]
        present = [i for i, t in enumerate(tags) if t]
        if len(present) == 2 and rng.random() >= single:
            out.append(_pick(rng, ANIME_PAIRS).format(hair=tags[0], eye=tags[1]))
            named.append((h, e))
        elif present:
            which = _pick(rng, present)
            out.append(_pick(rng, ANIME_SINGLE).format(tag=tags[which]))
            named.append((h, -1) if which == 0 else (-1, e))
        else:
            out.append("")
            named.append((-1, -1))
    return (out, np.array(named, np.int32).reshape(-1, 2)) if return_tags else out


def class_captions(labels, dataset, seed=0):
    """One caption per label of "fashion_mnist" (class names) or "mnist" (digits)."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels).reshape(-1)
    if dataset == "fashion_mnist":
        return [_pick(rng, FASHION_TEMPLATES).format(name=FASHION_NAMES[int(c)]) for c in labels]
    if dataset == "mnist":
        return [_pick(rng, DIGIT_TEMPLATES).format(digit=int(c), word=DIGIT_WORDS[int(c)]) for c in labels]
    raise ValueError(f"class captions exist for 'fashion_mnist' and 'mnist', not {dataset!r}")


def anime_caption_space(hair_names, eye_names):
    """Every caption `anime_captions` can write (for the vocabulary, and for retrieval)."""
    pairs = [t.format(hair=h, eye=e) for t in ANIME_PAIRS for h in hair_names for e in eye_names]
    return pairs + [t.format(tag=tag) for t in ANIME_SINGLE for tag in [*hair_names, *eye_names]]


def class_caption_space(dataset):
    """Every caption `class_captions` can write for "fashion_mnist" or "mnist"."""
    if dataset == "fashion_mnist":
        return [t.format(name=n) for t in FASHION_TEMPLATES for n in FASHION_NAMES]
    if dataset == "mnist":
        return [t.format(digit=d, word=w) for t in DIGIT_TEMPLATES for d, w in enumerate(DIGIT_WORDS)]
    raise ValueError(f"class captions exist for 'fashion_mnist' and 'mnist', not {dataset!r}")


class CaptionedImages(keras.utils.PyDataset):
    """Batches of ([images, token ids], labels) with captions drawn by (seed, epoch): `caption(index,
    rng)` -> (texts, labels) for the images `index`; with labels None (a text-to-image model's
    data), batches of (images, token ids). With `flip`, half the images (drawn by seed,
    epoch and step) are mirrored left-right: a colour tag is as true of the mirror image."""

    def __init__(self, images, caption, tokenizer, batch_size, seed=0, flip=False, **kwargs):
        super().__init__(**kwargs)
        self.images, self.caption, self.tokenizer, self.flip = images, caption, tokenizer, bool(flip)
        self.batch_size, self.seed, self.epoch = int(batch_size), int(seed), 0

    def __len__(self):
        return len(self.images) // self.batch_size  # full batches: contrastive losses compare within one

    def __getitem__(self, step):
        order = np.random.default_rng((self.seed, self.epoch)).permutation(len(self.images))
        index = order[step * self.batch_size:(step + 1) * self.batch_size]
        texts, labels = self.caption(index, (self.seed, self.epoch, step))
        images = self.images[index]
        if self.flip:
            mirror = np.random.default_rng((self.seed, self.epoch, step, 1)).random(len(index)) < 0.5
            images = np.where(mirror[:, None, None, None], images[:, :, ::-1], images)
        ids = self.tokenizer.encode(texts)
        return (images, ids) if labels is None else ((images, ids), labels)

    def on_epoch_end(self):
        self.epoch += 1
