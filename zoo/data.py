"""Datasets as numpy arrays, offline first. Nothing here imports TensorFlow
(except `load_tfds`, which needs tensorflow-datasets and the network).

* `load_npz(path)`: keras-layout .npz (x_train, y_train, x_test, y_test), e.g. MNIST.
* `load_anime_faces(path)`: the anime-faces .npz of shared/data (JPEG streams + offsets).
* `load_image_folder(path, size)`: every readable image under a folder, resized.
* `load_tfds(name)`: a tensorflow-datasets dataset (online users).
* `load_images(name_or_path, ...)`: any of these by name or path, as uint8 (N, H, W, C).
* `load_text(name_or_path)`: a UTF-8 text file (tinyshakespeare, tang_poems, or yours).

Dataset names are looked up as files in `$ZOO_DATA_DIR`, `./data`, `../shared/data`.
"""

import io
import os
import pathlib
import warnings
import zipfile

import numpy as np

from zoo.errors import DataError

FILES = {"mnist": "mnist.npz", "fashion_mnist": "fashion_mnist.npz",
         "anime_faces": "anime_faces_64.npz", "tinyshakespeare": "tinyshakespeare.txt",
         "tang_poems": "tang_poems.txt"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def search_dirs():
    dirs = [os.environ.get("ZOO_DATA_DIR"), "data", "../shared/data",
            pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"]
    return [pathlib.Path(d) for d in dirs if d]


def find(name_or_path):
    """Path of a dataset given by path or by name (see `FILES`)."""
    path = pathlib.Path(os.fspath(name_or_path)).expanduser()
    if path.exists():
        return path
    if str(name_or_path) in FILES:
        for d in search_dirs():
            if (d / FILES[str(name_or_path)]).is_file():
                return d / FILES[str(name_or_path)]
        raise DataError(
            f"dataset {name_or_path!r} not found: looked for {FILES[str(name_or_path)]} in "
            f"{', '.join(map(str, search_dirs()))}; pass its path (--data PATH) or set ZOO_DATA_DIR")
    raise DataError(f"dataset not found: {name_or_path} (no such file or folder, and not one "
                    f"of the named datasets {', '.join(FILES)})")


def _open_npz(path):
    path = pathlib.Path(path)
    if not path.is_file():
        raise DataError(f"dataset file not found: {path}")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"dataset file {path} is corrupt or not an .npz file: {e}") from None


def load_npz(path):
    """A keras-layout .npz as a dict of arrays x_train, y_train, x_test, y_test."""
    data = _open_npz(path)
    keys = ("x_train", "y_train", "x_test", "y_test")
    missing = [k for k in keys if k not in data.files]
    if missing:
        raise DataError(f"{path} lacks {', '.join(missing)} (has {', '.join(data.files)}); "
                        "expected the keras layout x_train, y_train, x_test, y_test")
    try:
        return {k: data[k] for k in keys}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"dataset file {path} is corrupt: {e}") from None


def _decode(blob, size=None, mode="RGB"):
    from PIL import Image

    image = Image.open(io.BytesIO(blob)).convert(mode)
    if size is not None and image.size != tuple(size[::-1]):
        image = image.resize(tuple(size[::-1]), Image.BICUBIC)
    array = np.asarray(image, np.uint8)
    return array[..., None] if array.ndim == 2 else array


def load_anime_faces(path, limit=None):
    """The anime-faces .npz as `(images, tags, names)`: uint8 images (N, 64, 64, 3),
    `tags = {"hair": int array, "eye": int array}` (-1: untagged) and their names."""
    data = _open_npz(path)
    for k in ("jpeg", "offsets"):
        if k not in data.files:
            raise DataError(f"{path} lacks {k!r}: not an anime-faces file (jpeg + offsets)")
    jpeg, offsets = data["jpeg"], data["offsets"]
    n = len(offsets) - 1 if limit is None else min(int(limit), len(offsets) - 1)
    try:
        images = np.stack([_decode(jpeg[offsets[i]:offsets[i + 1]].tobytes()) for i in range(n)])
    except Exception as e:  # noqa: BLE001  (PIL raises several kinds)
        raise DataError(f"{path}: cannot decode its JPEG images: {e}") from None
    tags = {k: data[k][:n] for k in ("hair", "eye") if k in data.files}
    names = {k: [str(s) for s in data[k]] for k in ("hair_names", "eye_names") if k in data.files}
    return images, tags, names


def load_image_folder(path, size=(64, 64), channels=3):
    """Every image under `path` (recursively), resized to `size` (H, W), as uint8
    (N, H, W, channels). Unreadable files are skipped with one warning that counts them."""
    path = pathlib.Path(path)
    if not path.is_dir():
        raise DataError(f"image folder not found: {path}")
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    images, skipped = [], []
    for f in files:
        try:
            images.append(_decode(f.read_bytes(), size, "L" if channels == 1 else "RGB"))
        except Exception:  # noqa: BLE001
            skipped.append(f.name)
    if skipped:
        warnings.warn(f"{path}: skipped {len(skipped)} unreadable image file(s) of {len(files)} "
                      f"(e.g. {', '.join(skipped[:3])})", stacklevel=2)
    if not images:
        raise DataError(f"no readable images in {path} (suffixes {', '.join(sorted(IMAGE_SUFFIXES))})")
    return np.stack(images)


def load_tfds(name, split="train"):
    """Images of a tensorflow-datasets dataset as uint8 (N, H, W, C); needs the network."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise DataError(f"loading {name!r} from tensorflow-datasets needs `pip install "
                        "tensorflow-datasets` and the network; offline, pass a local path "
                        "(--data PATH)") from None
    try:
        ds = tfds.load(name, split=split, as_supervised=False, batch_size=-1)
        return np.asarray(tfds.as_numpy(ds)["image"], np.uint8)
    except Exception as e:  # noqa: BLE001
        raise DataError(f"tensorflow-datasets could not load {name!r} ({type(e).__name__}: "
                        f"{e}); offline, pass a local path (--data PATH)") from None


def load_images(name_or_path, split="train", size=None, channels=None, limit=None):
    """Images of a dataset by name or path, uint8 (N, H, W, C).

    `name_or_path`: a named dataset (mnist, fashion_mnist, anime_faces), an .npz
    file (keras layout or anime faces), an image folder, or `tfds:NAME`.
    """
    if str(name_or_path).startswith("tfds:"):
        images = load_tfds(str(name_or_path)[5:], split)
    else:
        path = find(name_or_path)
        if path.is_dir():
            images = load_image_folder(path, size or (64, 64), channels or 3)
        elif "jpeg" in _open_npz(path).files:
            images = load_anime_faces(path, limit)[0]
        else:
            images = load_npz(path)[f"x_{split}"]
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.dtype != np.uint8:
        raise DataError(f"{name_or_path}: expected uint8 images (N, H, W[, C]); got "
                        f"{images.dtype} {images.shape}")
    return images[:limit] if limit else images


def labelled_splits(name_or_path, limit=None):
    """(x_train, y_train, x_heldout, y_heldout, class_names) of a labelled dataset: a keras-layout
    .npz (its test split held out; y int (N, 1)) or the anime faces (the last 10% held out;
    y int (N, 2): hair and eye tags, -1 untagged). `limit` cuts the training split."""
    path = find(name_or_path)
    if path.is_file() and "jpeg" in _open_npz(path).files:
        images, tags, names = load_anime_faces(path)
        labels = np.stack([tags["hair"], tags["eye"]], axis=1).astype("int32")
        cut = len(images) - len(images) // 10
        class_names = {"hair": names.get("hair_names"), "eye": names.get("eye_names")}
        x, y = images[:cut][:limit], labels[:cut][:limit]
        return x, y, images[cut:], labels[cut:], class_names
    split = load_npz(path)
    x, y = split["x_train"][..., None][:limit], split["y_train"].astype("int32")[:limit, None]
    return x, y, split["x_test"][..., None], split["y_test"].astype("int32")[:, None], None


def load_text(name_or_path, limit=None):
    """A UTF-8 text file, by name (tinyshakespeare, tang_poems) or path, as one string
    (its first `limit` characters if given)."""
    path = find(name_or_path)
    if path.is_dir():
        raise DataError(f"{path} is a folder; text datasets are one UTF-8 file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path} is not UTF-8 text: {e}") from None
    text = text[:limit] if limit else text
    if not text:
        raise DataError(f"{path} is empty")
    return text
