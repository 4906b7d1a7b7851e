"""Pictures as PNG: sample grids, interpolation strips, loss curves."""

import math
import pathlib

import numpy as np


def grid(images, nrow=None, pad=2, pad_value=255):
    """uint8 images (N, H, W, C) -> one uint8 image (rows of `nrow` images)."""
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(f"grid takes uint8 images (N, H, W, C); got {images.dtype} {images.shape}")
    n, h, w, c = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / nrow))
    out = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), pad_value, np.uint8)
    for i, image in enumerate(images):
        r, k = divmod(i, nrow)
        out[pad + r * (h + pad):pad + r * (h + pad) + h, pad + k * (w + pad):pad + k * (w + pad) + w] = image
    return out


def save_image(image, path, scale=1):
    from PIL import Image

    image = np.asarray(image, np.uint8)
    image = image[..., 0] if image.shape[-1] == 1 else image
    pil = Image.fromarray(image)
    if scale != 1:
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.NEAREST)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pil.save(path)
    return path


def save_grid(images, path, nrow=None, scale=2):
    """Saves uint8 images (N, H, W, C) as one PNG grid; returns the path."""
    return save_image(grid(images, nrow), path, scale)


def save_strip(images, path, scale=2):
    """A single row (e.g. a latent interpolation)."""
    return save_grid(images, path, nrow=len(images), scale=scale)


def save_loss_curves(history, path, title=None):
    """`history`: {name: [value per epoch]} (e.g. `model.fit(...).history`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for name, values in history.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=name)
    ax.set_xlabel("epoch")
    ax.legend()
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
