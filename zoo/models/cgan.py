"""cGAN: the conditional GAN of Mirza & Osindero (2014): draw the digit you ask for.

Preset `cgan_mnist`: 28x28 MNIST digits from 100-d noise and a class label 0-9.

* The label enters both networks through a learned 50-d embedding, concatenated with
  z in the generator and with the flattened image in the discriminator.
* Generator and discriminator are otherwise the MLPs of `gan_mnist` (zoo/models/gan.py),
  and training is `AdversarialModel.train_step` with the batch's labels as the condition.

`model.fit(images, labels)`; `model.generate(labels=[...], seed=...)` (or `generate(num)`: the
classes in turn).
"""

import keras
import numpy as np
from keras import layers, ops

from zoo.core import batched, to_uint8
from zoo.models.adversarial import AdversarialModel, NonSaturating
from zoo.models.gan import discriminator_mlp, generator_mlp
from zoo.tasks import Option, register_model, uint8_images


# -- blocks --------------------------------------------------------------------------
def build_generator(latent_dim, num_classes, units, image_shape, embed_dim=50):
    z, label = keras.Input((latent_dim,), name="z"), keras.Input((), dtype="int32", name="label")
    x = layers.Concatenate()([z, layers.Embedding(num_classes, embed_dim)(label)])
    return keras.Model([z, label], generator_mlp(x, units, image_shape), name="generator")


def build_discriminator(image_shape, num_classes, units, embed_dim=50):
    image, label = keras.Input(image_shape, name="image"), keras.Input((), dtype="int32", name="label")
    x = layers.Concatenate()([layers.Flatten()(image), layers.Embedding(num_classes, embed_dim)(label)])
    return keras.Model([image, label], discriminator_mlp(x, units), name="discriminator")


# -- the model -----------------------------------------------------------------------
@register_model
class CGAN(AdversarialModel):
    pipeline_tag = "image-generation"  # conditioned on a label

    def __init__(self, image_shape=(28, 28, 1), num_classes=10, latent_dim=100,
                 g_units=(256, 512, 1024), d_units=(512, 256), seed=None, label_smoothing=0.0, **kwargs):
        kwargs.setdefault("name", "cgan")
        super().__init__(**kwargs)
        self.num_classes, self.g_units, self.d_units = num_classes, tuple(g_units), tuple(d_units)
        self.setup(image_shape, latent_dim, seed,
                   build_generator(latent_dim, num_classes, self.g_units, tuple(image_shape)),
                   build_discriminator(tuple(image_shape), num_classes, self.d_units),
                   NonSaturating(label_smoothing))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "g_units": self.g_units,
                "d_units": self.d_units, "label_smoothing": self.loss_fn.label_smoothing}

    def call(self, inputs, training=False):
        z, labels = inputs
        return self.generator([z, labels], training=training)

    def condition(self, data):
        if not isinstance(data, (tuple, list)) or len(data) < 2 or data[1] is None:
            raise ValueError(f"{self.name} is conditional: fit it with (images, labels)")
        return ops.reshape(ops.cast(data[1], "int32"), (-1,))

    # -- generation ------------------------------------------------------------------
    def sampling_options(self):
        return [Option("labels", "labels", None, high=self.num_classes - 1, nullable=True,
                       help="the digit of each image (default: 0, 1, 2, ... in turn)")]

    @property
    def grid_columns(self):  # a sample grid: one class per column
        return self.num_classes

    def evaluation_options(self, num):
        return {"labels": np.arange(num) % self.num_classes}

    def serving(self):
        return ([("z", (None, self.latent_dim), "float32"), ("labels", (None,), "int32")],
                lambda z, labels: uint8_images(self.generator([z, labels], training=False)),
                f"z float32 (N, {self.latent_dim}) drawn from N(0, 1) and labels int32 (N,) in [0, "
                f"{self.num_classes - 1}] -> uint8 images (N, {', '.join(map(str, self.image_shape))})")

    def decode(self, z, labels=None, batch_size=None):
        """Latent vectors and their labels (default 0, 1, 2, ... in turn) -> numpy uint8 images."""
        z = self.check_latents(z)
        labels = np.arange(len(z)) % self.num_classes if labels is None else labels
        labels = self.resolve_options(labels=labels)["labels"]
        if len(labels) != len(z):
            raise ValueError(f"got {len(z)} latent vectors but {len(labels)} labels")
        both = np.concatenate([z, labels[:, None].astype("float32")], axis=1)
        return batched(lambda b: to_uint8(self.generator(
            [b[:, :-1], b[:, -1].astype("int32")], training=False)), both, batch_size,
            empty=np.zeros((0, *self.image_shape), np.uint8))
