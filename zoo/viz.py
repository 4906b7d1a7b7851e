"""Pictures as PNG: sample grids, interpolation strips, loss curves."""

import io
import math
import numbers
import pathlib
import textwrap

import numpy as np

from zoo.io import atomic_write


def grid(images, nrow=None, pad=2, pad_value=255):
    """uint8 images (N, H, W, C) -> one uint8 image (rows of `nrow` images)."""
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(f"grid takes uint8 images (N, H, W, C); got {images.dtype} {images.shape}")
    n, h, w, c = images.shape
    if nrow is not None and (not isinstance(nrow, numbers.Integral) or isinstance(nrow, bool) or nrow < 1):
        raise ValueError(f"nrow is the number of images per row of the grid, a whole number >= 1; got {nrow!r}")
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
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"cannot write an image to {path}: name it .png, .jpg or .webp")
    buffer = io.BytesIO()
    pil.save(buffer, format=fmt)
    atomic_write(path, buffer.getvalue())  # whole or not at all, also on a full disk
    return path


def save_grid(images, path, nrow=None, scale=None):
    """Saves uint8 images (N, H, W, C) as one PNG grid (small images drawn at twice
    their size); returns the path."""
    scale = scale or (2 if np.shape(images)[1] <= 32 else 1)
    return save_image(grid(images, nrow), path, scale)


def save_strip(images, path, scale=None):
    """A single row (e.g. a latent interpolation)."""
    return save_grid(images, path, nrow=len(images), scale=scale)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_figure(fig, ax, path, title):
    if title:  # wrapped to the figure's width (about ten characters an inch), never cut off
        ax.set_title(textwrap.fill(title, width=int(fig.get_figwidth() * 9)))
    fig.tight_layout()
    path = pathlib.Path(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=path.suffix.lstrip(".") or "png")
    _pyplot().close(fig)
    atomic_write(path, buffer.getvalue())
    return path


def save_loss_curves(history, path, title=None):
    """`history`: {name: [value per epoch]} (e.g. `model.fit(...).history`)."""
    fig, ax = _pyplot().subplots(figsize=(6, 3.5), dpi=100)
    for name, values in history.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=name)
    ax.set_xlabel("epoch")
    ax.legend()
    ax.grid(alpha=0.3)
    return _save_figure(fig, ax, path, title)


def save_metric_curve(points, path, ylabel, xlabel="epoch", title=None, reference=None):
    """A metric against epochs ({x: value}); `reference` = (value, label): a dashed line."""
    fig, ax = _pyplot().subplots(figsize=(6, 3.5), dpi=100)
    xs = sorted(points)
    ax.plot(xs, [points[x] for x in xs], "o-", label=ylabel)
    if reference is not None:
        ax.axhline(reference[0], color="C3", linestyle="--", label=reference[1])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    ax.grid(alpha=0.3)
    return _save_figure(fig, ax, path, title)


def save_fid_curve(curve, path, name):
    """A card's `fid_curve` entry (FID by epoch, see zoo.harness.fid_curve) as a picture, with
    its reference preset's FID as a dashed line."""
    ref = curve.get("reference")
    return save_metric_curve({int(k): v for k, v in curve["fid"].items()}, path, f"FID ({curve['num']} samples)",
                             title=f"{name}: FID by epoch ({curve['sampler']})",
                             reference=(ref["fid"], f"{ref['preset']}, same N") if ref else None)


def save_guidance_curves(measured, path, title=None):
    """A text-to-image model's prompt adherence (per attribute, its ceiling dashed) and FID
    against guidance scale, side by side (`measured`: the recipe's prompt measurements)."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5), dpi=100)
    scales = [float(s) for s in measured["adherence"]]
    for i, head in enumerate(measured["ceiling"]):
        colour = f"C{i}"
        left.plot(scales, [row[head] for row in measured["adherence"].values()], "o-", color=colour, label=head)
        left.axhline(measured["ceiling"][head], color=colour, linestyle="--", alpha=0.6)
    left.set_xlabel("guidance scale")
    left.set_ylabel("adherence (dashed: real images)")
    left.legend()
    left.grid(alpha=0.3)
    right.plot(scales, [measured["quality"][s]["fid"] for s in measured["adherence"]], "o-", color="C3")
    right.set_xlabel("guidance scale")
    right.set_ylabel("FID")
    right.grid(alpha=0.3)
    fig.tight_layout()
    return _save_figure(fig, left, path, title)


def save_latent_scatter(points, labels, path, class_names=None, title=None):
    """2-d latent codes coloured by label (e.g. the test set's posterior means)."""
    points, labels = np.asarray(points), np.asarray(labels)
    fig, ax = _pyplot().subplots(figsize=(6, 5), dpi=100)
    classes = int(labels.max()) + 1
    sc = ax.scatter(points[:, 0], points[:, 1], c=labels, s=2, alpha=0.7,
                    cmap=_pyplot().get_cmap("tab10", classes), vmin=-0.5, vmax=classes - 0.5)
    cbar = fig.colorbar(sc, ax=ax, ticks=np.unique(labels))
    if class_names is not None:
        cbar.ax.set_yticklabels([class_names[int(i)] for i in np.unique(labels)])
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    return _save_figure(fig, ax, path, title)
