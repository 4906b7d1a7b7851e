"""CLIP: a contrastive text-image model (Radford et al. 2021), small, for captioned datasets.

Trained on (image, caption) pairs, it embeds images and prompts in one space where a face
with red hair lies close to "red hair". It scores generations (CLIP score), reranks
candidates (DALL-E), and classifies zero-shot from prompts.

* Image tower: per width, a 3x3 stride-2 convolution, GroupNorm and GELU; global average
  pooling; a linear projection to `embed_dim`.
* Text tower: word and position embeddings, `text_layers` bidirectional Transformer blocks
  (zoo.networks.transformer, padding masked), the mean over the real words, LayerNorm, a
  linear projection to `embed_dim`. Prompts are words of a closed vocabulary
  (zoo.text.WordTokenizer, kept in the config as JSON).
* Both embeddings L2-normalised; logits = exp(t) * image . text, with t learned, initialised
  at ln(1/0.07) and clamped at ln(100) (as open_clip).
* Loss: symmetric InfoNCE (image -> text and text -> image cross-entropy). Captions repeat
  (132 tag pairs, a few templates), so every caption of a batch that is true of an image is
  a positive for it, not a negative: each row's target spreads evenly over its positives.
  What is true comes from labels: `(N,)` groups (a class, or a tag pair: same group, same
  truth), or `(N, 2k)`: the image's k attributes, then the caption's (-1 where the caption
  does not name that attribute: "red hair" is true of a red-haired face with any eyes).
  Without labels, identical token rows are the groups.

`fit([images, token_ids], labels)`: uint8 images (N, H, W, C) (or floats in [-1, 1]), int
token ids (N, length) from `model.tokenizer.encode`, optional int labels as above.
"""

import math

import keras
import numpy as np
from keras import layers, ops

from zoo.core import batched, guard
from zoo.layers import Conv2D, GroupNormalization
from zoo.networks.transformer import TextTower
from zoo.tasks import ImageTextScorer, register_model
from zoo.text import WordTokenizer

MAX_LOG_SCALE = math.log(100.0)


# -- blocks --------------------------------------------------------------------------
def build_image_tower(image_shape, widths, embed_dim):
    image = keras.Input(image_shape, name="image")
    x = image
    for width in widths:
        x = Conv2D(width, 3, strides=2, padding="same")(x)
        x = layers.Activation("gelu")(GroupNormalization(groups=min(8, width), epsilon=1e-5)(x))
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(image, layers.Dense(embed_dim, use_bias=False, name="projection")(x), name="image_tower")


def l2_normalize(x):
    x = ops.cast(x, "float32")
    return x / ops.sqrt(ops.maximum(ops.sum(x * x, axis=-1, keepdims=True), 1e-12))


def clamped_scale(log_scale):
    """exp(t), t clamped at ln 100: the logits' scale."""
    return ops.exp(ops.minimum(log_scale, MAX_LOG_SCALE))


def positives_of(labels):
    """(N, N) bool: caption j is true of image i. `labels`: (N,) groups, or (N, 2k) the images'
    k attributes then the captions' (-1: not named)."""
    labels = ops.cast(labels, "int32")
    if len(labels.shape) == 1:  # (not as a stack of [labels, labels], sliced: TF's Grappler arithmetic
        return ops.equal(labels[:, None], labels[None, :])  # optimizer drops the sliced axis and fails)
    k = labels.shape[1] // 2
    image, caption = labels[:, None, :k], labels[None, :, k:]
    return ops.all(ops.logical_or(caption < 0, ops.equal(caption, image)), axis=-1)


def contrastive_loss(image_embeddings, text_embeddings, log_scale, positives):
    """Symmetric InfoNCE, each image's (each caption's) target spread evenly over the captions
    (images) that `positives` (N, N) marks true of it; returns (loss, logits)."""
    logits = clamped_scale(log_scale) * ops.matmul(image_embeddings, ops.transpose(text_embeddings))
    positives = ops.cast(positives, "float32")
    per_image = positives / ops.sum(positives, axis=1, keepdims=True)  # each row's target
    per_caption = positives / ops.sum(positives, axis=0, keepdims=True)  # each column's
    image_to_text = -ops.sum(per_image * ops.log_softmax(logits, axis=1), axis=1)
    text_to_image = -ops.sum(per_caption * ops.log_softmax(logits, axis=0), axis=0)
    return (ops.mean(image_to_text) + ops.mean(text_to_image)) / 2, logits


# -- the model -----------------------------------------------------------------------
@register_model
class CLIP(ImageTextScorer):
    family = "clip"
    pipeline_tag = "zero-shot-image-classification"
    card_tags = ("zero-shot-image-classification", "image-text-retrieval")
    cli_usage = "or `zoo sample {name} --images DIR --prompts PROMPT ...`, which prints the scores."

    @classmethod
    def usage(cls, card):
        prompts = ", ".join(f'"{p}"' for p in [t for ts in (card.get("prompts") or {}).values() for t in ts][:2])
        return [f"scores = model.score(images, [{prompts}])   # images uint8 (N, H, W, C) -> (N, 2)",
                f"probabilities = model.zero_shot(images, [{prompts}])"]

    def __init__(self, vocabulary, length=16, image_shape=(64, 64, 3), image_widths=(32, 64, 128, 256),
                 text_width=128, text_layers=2, text_heads=4, embed_dim=128, seed=None, **kwargs):
        kwargs.setdefault("name", "clip")
        super().__init__(**kwargs)
        self.tokenizer = WordTokenizer(vocabulary, length)
        self.image_shape, self.image_widths = tuple(image_shape), tuple(image_widths)
        self.text_width, self.text_layers, self.text_heads = int(text_width), int(text_layers), int(text_heads)
        self.embed_dim, self.seed = int(embed_dim), seed
        self.image_tower = build_image_tower(self.image_shape, self.image_widths, self.embed_dim)
        self.text_tower = TextTower(len(self.tokenizer), self.tokenizer.length, self.text_width, self.text_layers,
                                    self.text_heads, self.embed_dim, name="text_tower")
        self.log_scale = self.add_weight(shape=(), initializer=keras.initializers.Constant(math.log(1 / 0.07)),
                                         name="log_scale")
        self.add_trackers("loss", "accuracy", "scale")
        self.build()

    def get_config(self):
        return {**super().get_config(), **self.tokenizer.get_config(), "image_shape": self.image_shape,
                "image_widths": self.image_widths, "text_width": self.text_width, "text_layers": self.text_layers,
                "text_heads": self.text_heads, "embed_dim": self.embed_dim, "seed": self.seed}

    def call(self, inputs, training=False):
        """[images in [-1, 1], token ids] -> (image embeddings, text embeddings), L2-normalised."""
        images, ids = inputs
        return (l2_normalize(self.image_tower(images, training=training)),
                l2_normalize(self.text_tower(ids, training=training)))

    def compile(self, optimizer=None, **kwargs):
        optimizer = keras.optimizers.get(optimizer or keras.optimizers.AdamW(5e-4, weight_decay=0.1))
        if getattr(optimizer, "weight_decay", None) and not optimizer.built:
            optimizer.exclude_from_weight_decay(var_names=["log_scale"])  # decay would pull the temperature to 1
        super().compile(optimizer=optimizer, **kwargs)

    # -- training --------------------------------------------------------------------
    def check_batch(self, data, where, whole=False):
        super().check_batch(data, where, whole)
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        if isinstance(x, (list, tuple)) and len(x) == 2 and isinstance(x[1], np.ndarray):
            self.tokenizer.check_ids(x[1], where)

    def _loss(self, data, training):
        x, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        images, ids = x
        images = self.images_in(images, self.image_shape)
        ids = ops.cast(ids, "int32")
        if labels is None:  # identical captions are one group
            positives = ops.all(ops.equal(ids[:, None, :], ids[None, :, :]), axis=-1)
        else:
            positives = positives_of(labels)

        def loss_fn():
            image_embeddings, text_embeddings = self([images, ids], training=training)
            loss, logits = contrastive_loss(image_embeddings, text_embeddings, self.log_scale, positives)
            hit = ops.take_along_axis(ops.cast(positives, "float32"), ops.argmax(logits, axis=1)[:, None], axis=1)
            return loss, ops.mean(hit)  # accuracy: the best-scoring caption of the batch is true of the image

        return loss_fn

    def train_step(self, data):
        variables = self.trainable_variables
        (loss, accuracy), grads = self.value_and_grad(self._loss(data, training=True), variables, has_aux=True)
        self.optimizer.apply(grads, variables)
        return self.update_trackers(loss=loss, accuracy=accuracy, scale=clamped_scale(self.log_scale))

    def test_step(self, data):
        loss, accuracy = self._loss(data, training=False)()
        return self.update_trackers(loss=loss, accuracy=accuracy, scale=clamped_scale(self.log_scale))

    # -- inference (numpy in and out) --------------------------------------------------
    def encode_image(self, images, batch_size=None):
        """uint8 images (N, H, W, C) -> L2-normalised embeddings (N, embed_dim)."""
        images = guard.check_uint8_images(images, self.image_shape, "CLIP.encode_image")
        x = images.astype("float32") / 127.5 - 1.0
        return batched(lambda b: ops.convert_to_numpy(l2_normalize(self.image_tower(b, training=False))), x,
                       batch_size, empty=np.zeros((0, self.embed_dim), "float32"))

    def encode_text(self, prompts, batch_size=None):
        """A prompt or a list of prompts -> L2-normalised embeddings (N, embed_dim); a word outside
        the vocabulary is refused by name."""
        ids = self.tokenizer.encode([prompts] if isinstance(prompts, str) else list(prompts))
        return batched(lambda b: ops.convert_to_numpy(l2_normalize(self.text_tower(b, training=False))), ids,
                       batch_size, empty=np.zeros((0, self.embed_dim), "float32"))

    def score(self, images, prompts):
        """CLIP score: 100 x the cosine of each image with each prompt, (N images, N prompts)."""
        return 100.0 * self.encode_image(images) @ self.encode_text(prompts).T

    def zero_shot(self, images, prompts):
        """Each image's probabilities over `prompts` (softmax of the trained scale x cosine),
        (N images, N prompts); `argmax(axis=1)` is the prompt chosen."""
        scale = float(ops.convert_to_numpy(clamped_scale(self.log_scale)))
        logits = scale * self.encode_image(images) @ self.encode_text(prompts).T
        logits -= logits.max(axis=1, keepdims=True)
        return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
