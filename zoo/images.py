"""Image arrays: helpers that models, evaluation and recipes share (uint8 (N, H, W, C) in,
uint8 out)."""

import numpy as np


def resize(images, size):
    """uint8 images (N, H, W, C) at size x size (bilinear, antialiased), uint8."""
    import keras

    images = np.asarray(images)
    if images.shape[1:3] == (size, size):
        return images
    out = [keras.ops.convert_to_numpy(keras.ops.image.resize(
        images[i:i + 1000].astype("float32"), (size, size), "bilinear", antialias=True))
        for i in range(0, len(images), 1000)]
    return np.clip(np.rint(np.concatenate(out)), 0, 255).astype(np.uint8)
