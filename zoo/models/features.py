"""Feature networks: small image classifiers whose penultimate layer embeds images for
zoo.metrics (FID, KID, precision/recall) and whose softmax gives an Inception-style score.

The standard Inception-v3 weights cannot be downloaded offline, so zoo trains its own:

* `features_digits`   MNIST, one head: the digit (10 classes).
* `features_clothing` Fashion-MNIST, one head: the garment (10 classes).
* `features_anime`    anime faces, heads for the hair colour (12) and eye colour (11) tags,
                      plus a rotation head (0/90/180/270 degrees; Gidaris et al. 2018).
                      Only a third of the faces are tagged, and colour tags alone teach
                      colour; predicting the rotation of every face (tagged or not) teaches
                      the geometry of a face too, so the features see both.

Network: blocks of two 3x3 Conv-BatchNorm-ReLU and a 2x2 max-pool (one block per width),
global average pooling, Dense(feature_dim) + ReLU (the features), dropout, one linear
head per label. Labels of -1 (untagged) are left out of the loss.

Numbers computed with these features are comparable with each other, not with papers'
Inception-v3 FIDs.
"""

import keras
import numpy as np
from keras import layers, ops

from zoo.core import backend
from zoo.layers import BatchNormalization, Conv2D
from zoo.tasks import FeatureExtractor, register_model


# -- blocks --------------------------------------------------------------------------
def conv_block(x, width):
    for _ in range(2):
        x = Conv2D(width, 3, padding="same", use_bias=False)(x)
        x = layers.ReLU()(BatchNormalization()(x))
    return layers.MaxPooling2D(2)(x)


def build_network(image_shape, heads, widths, feature_dim, dropout):
    image = keras.Input(image_shape, name="image")
    x = image
    for width in widths:
        x = conv_block(x, width)
    features = layers.Dense(feature_dim, activation="relu", name="features")(layers.GlobalAveragePooling2D()(x))
    hidden = layers.Dropout(dropout)(features)
    outputs = {"features": features}
    outputs.update({head: layers.Dense(n, name=head)(hidden) for head, n in heads.items()})
    return keras.Model(image, outputs, name="network")


def rotate(images, k):
    """Each image of (B, H, W, C) turned by k[i] quarter turns (square images)."""
    turns = [images]
    for _ in range(3):
        turns.append(ops.flip(ops.transpose(turns[-1], (0, 2, 1, 3)), axis=1))
    pick = ops.one_hot(k, 4)[:, :, None, None, None]
    return ops.sum(ops.stack(turns, axis=1) * pick, axis=1)


def masked_loss_and_accuracy(labels, logits):
    """Cross-entropy and accuracy over the labels that are not -1."""
    mask = ops.cast(labels >= 0, "float32")
    safe = ops.maximum(labels, 0)
    loss = ops.sparse_categorical_crossentropy(safe, logits, from_logits=True)
    count = ops.maximum(ops.sum(mask), 1.0)
    correct = ops.cast(ops.equal(ops.argmax(logits, axis=-1), ops.cast(safe, "int32")), "float32")
    return ops.sum(loss * mask) / count, ops.sum(correct * mask) / count


# -- the model -----------------------------------------------------------------------
@register_model
class FeatureNet(FeatureExtractor):
    """`fit(images, labels)`: uint8 images (N, H, W, C) and int labels (N, heads) in the
    order of `heads` (-1: no label). `features(images)` -> (N, feature_dim) numpy."""

    family = "features"
    pipeline_tag = "image-feature-extraction"
    card_tags = ("feature-extraction", "image-classification")

    @classmethod
    def usage(cls, card):
        return ["features = model.features(images)   # uint8 (N, H, W, C)"]

    def __init__(self, image_shape=(28, 28, 1), heads=None, widths=(32, 64, 128), feature_dim=128,
                 dropout=0.3, rotation=False, class_names=None, seed=None, **kwargs):
        kwargs.setdefault("name", "feature_net")
        super().__init__(**kwargs)
        self.image_shape, self.widths = tuple(image_shape), tuple(widths)
        self.heads = dict(heads or {"label": 10})
        self.label_heads = list(self.heads)
        if rotation:
            self.heads["rotation"] = 4
        self.feature_dim, self.dropout, self.rotation, self.seed = feature_dim, dropout, rotation, seed
        self.class_names = dict(class_names or {})
        self.network = build_network(self.image_shape, self.heads, self.widths, feature_dim, dropout)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.add_trackers("loss", *[f"{h}_acc" for h in self.heads])
        self._compiled = None
        self.build()

    def get_config(self):
        return {**super().get_config(), "image_shape": self.image_shape,
                "heads": {h: self.heads[h] for h in self.label_heads}, "widths": self.widths,
                "feature_dim": self.feature_dim, "dropout": self.dropout, "rotation": self.rotation,
                "class_names": self.class_names, "seed": self.seed}

    def call(self, images, training=False):
        return self.network(images, training=training)

    def compile(self, optimizer=None, **kwargs):
        super().compile(optimizer=optimizer or keras.optimizers.Adam(1e-3), **kwargs)

    # -- training --------------------------------------------------------------------
    def _step(self, data, training):
        x, labels = data
        x = self.images_in(x, self.image_shape)
        labels = ops.reshape(ops.cast(labels, "int32"), (ops.shape(x)[0], -1))
        if self.rotation:
            k = self.draw(keras.random.randint, (ops.shape(x)[0],), minval=0, maxval=4)
            x = rotate(x, k)
            labels = ops.concatenate([labels, k[:, None]], axis=1)
        heads = list(self.heads)

        def loss_fn():
            out = {h: ops.cast(v, "float32") for h, v in self(x, training=training).items()}
            results = [masked_loss_and_accuracy(labels[:, i], out[h]) for i, h in enumerate(heads)]
            return sum(r[0] for r in results), [r[1] for r in results]

        if training:
            variables = self.trainable_variables
            (loss, accuracies), grads = self.value_and_grad(loss_fn, variables, has_aux=True)
            self.optimizer.apply(grads, variables)
        else:
            loss, accuracies = loss_fn()
        return self.update_trackers(loss=loss, **{f"{h}_acc": a for h, a in zip(heads, accuracies)})

    def train_step(self, data):
        return self._step(data, training=True)

    def test_step(self, data):
        return self._step(data, training=False)

    # -- embedding -------------------------------------------------------------------
    def prepare(self, images):
        """uint8 images (N, H, W, C) -> float32 in [-1, 1] at this network's size (other
        sizes are resized bilinearly, with antialiasing when shrinking)."""
        images = np.asarray(images)
        if images.ndim != 4 or images.dtype != np.uint8:
            raise ValueError(f"{self.name} embeds uint8 images (N, H, W, C); got {images.dtype} {images.shape}")
        if images.shape[-1] != self.image_shape[-1]:
            raise ValueError(f"{self.name} embeds images with {self.image_shape[-1]} channel(s); "
                             f"got {images.shape[-1]} (shape {images.shape})")
        x = images.astype("float32") / 127.5 - 1.0
        if x.shape[1:3] != self.image_shape[:2]:
            x = ops.convert_to_numpy(ops.image.resize(x, self.image_shape[:2], "bilinear", antialias=True))
        return x

    def embed(self, images, batch_size=256):
        """(features (N, feature_dim), {head: class probabilities (N, classes)}) as numpy."""
        if self._compiled is None:
            def fn(x):
                out = self.network(x, training=False)
                return out["features"], {h: ops.softmax(out[h]) for h in self.label_heads}

            self._compiled = backend.compile_inference(fn, self.network.variables)
        x = self.prepare(images)
        features, probs = [], {h: [] for h in self.label_heads}
        for i in range(0, len(x), batch_size):
            chunk = x[i:i + batch_size]
            padded = np.concatenate([chunk, np.zeros((batch_size - len(chunk), *chunk.shape[1:]), "float32")])
            f, p = self._compiled(padded)  # always a full batch: one trace
            features.append(ops.convert_to_numpy(f)[:len(chunk)])
            for h in self.label_heads:
                probs[h].append(ops.convert_to_numpy(p[h])[:len(chunk)])
        return (np.concatenate(features) if features else np.zeros((0, self.feature_dim), "float32"),
                {h: np.concatenate(v) if v else np.zeros((0, self.heads[h]), "float32") for h, v in probs.items()})

    def features(self, images, batch_size=256):
        return self.embed(images, batch_size)[0]

    def accuracy(self, images, labels):
        """{head: accuracy over the labelled (>= 0) images}."""
        labels = np.asarray(labels).reshape(len(images), -1)
        probs = self.embed(images)[1]
        out = {}
        for i, head in enumerate(self.label_heads):
            keep = labels[:, i] >= 0
            out[head] = float((probs[head][keep].argmax(1) == labels[keep, i]).mean())
        return out
