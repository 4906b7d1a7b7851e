"""Datasets as numpy arrays, offline first. Nothing here imports TensorFlow
(except `load_tfds`, which needs tensorflow-datasets and the network).

* `load_npz(path)`: keras-layout .npz (x_train, y_train, x_test, y_test), e.g. MNIST.
* `load_anime_faces(path)`: the anime-faces .npz of shared/data (JPEG streams + offsets).
* `load_image_folder(path, size)`: every readable image under a folder, resized.
* `load_tfds(name)`: a tensorflow-datasets dataset (online users).
* `load_images(name_or_path, ...)`: any of these by name or path, as uint8 (N, H, W, C).
* `load_text(name_or_path)`: a UTF-8 text file (tinyshakespeare, tang_poems, or yours).

Dataset names are looked up as files in `$ZOO_DATA_DIR`, `./data`, `../shared/data` and
`$ZOO_HOME/data`. `mnist` and `fashion_mnist` found in none of them are downloaded once from
where keras.datasets gets them (`$ZOO_DATA_URL` names a mirror), checked (mnist.npz against
keras' sha256; Fashion-MNIST's arrays against the official release's) and kept in
`$ZOO_HOME/data` in the keras layout.
"""

import gzip
import hashlib
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
KERAS_DATASETS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
# What keras.datasets downloads for each, and what the download must hold: the file's sha256
# (keras' own for mnist.npz) or, where keras gives none, the sha256 of each array's bytes as
# in the official release (Fashion-MNIST's four gz files).
DOWNLOADS = {
    "mnist": {"files": {"mnist.npz": "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"},
              "arrays": None},
    "fashion_mnist": {
        "files": {"train-labels-idx1-ubyte.gz": None, "train-images-idx3-ubyte.gz": None,
                  "t10k-labels-idx1-ubyte.gz": None, "t10k-images-idx3-ubyte.gz": None},
        "arrays": {"x_train": "2e487a6c89124f78f2d7521542223cafe96f7123c3ca13d447772ac6ecbb3012",
                   "y_train": "657fbd221bfc9f4198cc14b5619cc33ec57c58dd0e47af4d99d6650759e869a7",
                   "x_test": "c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a",
                   "y_test": "3d0e6c6ea990b53b6f8f500a41cac93881d981b315f84578b7d915342ade01e9"}},
}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def search_dirs():
    from zoo.io import home

    dirs = [os.environ.get("ZOO_DATA_DIR"), "data", "../shared/data",
            pathlib.Path(__file__).resolve().parents[2] / "shared" / "data", home() / "data"]
    return [pathlib.Path(d) for d in dirs if d]


def _idx(blob, offset, shape=None):
    array = np.frombuffer(gzip.decompress(blob), np.uint8, offset=offset)
    return array if shape is None else array.reshape(-1, *shape)


def download(name):
    """Downloads dataset `name` (see DOWNLOADS) into `$ZOO_HOME/data` in the keras layout;
    returns its path. Nothing is kept unless every check passes."""
    import tempfile

    from zoo.io import DownloadError, home
    from zoo.io import download as fetch

    spec, base = DOWNLOADS[name], os.environ.get("ZOO_DATA_URL") or KERAS_DATASETS
    dest = home() / "data" / FILES[name]
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".download-") as tmp:
        paths = {f: fetch(base.rstrip("/") + "/" + f, pathlib.Path(tmp) / f, digest)
                 for f, digest in spec["files"].items()}
        if name == "mnist":
            os.replace(paths["mnist.npz"], dest)
            return dest
        blobs = {f: p.read_bytes() for f, p in paths.items()}
        try:
            arrays = {"x_train": _idx(blobs["train-images-idx3-ubyte.gz"], 16, (28, 28)),
                      "y_train": _idx(blobs["train-labels-idx1-ubyte.gz"], 8),
                      "x_test": _idx(blobs["t10k-images-idx3-ubyte.gz"], 16, (28, 28)),
                      "y_test": _idx(blobs["t10k-labels-idx1-ubyte.gz"], 8)}
        except (OSError, ValueError, EOFError) as e:
            raise DownloadError(f"the {name} files from {base} are not gzipped IDX files ({e}); nothing was kept")
        for key, digest in spec["arrays"].items():
            if hashlib.sha256(np.ascontiguousarray(arrays[key]).tobytes()).hexdigest() != digest:
                raise DownloadError(f"the {name} download from {base} holds a {key} that differs from the official "
                                    "release (sha256 of its bytes); nothing was kept")
        staged = pathlib.Path(tmp) / FILES[name]
        np.savez(staged, **arrays)
        os.replace(staged, dest)
    return dest


def find(name_or_path):
    """Path of a dataset given by path or by name (see `FILES`)."""
    path = pathlib.Path(os.fspath(name_or_path)).expanduser()
    if path.exists():
        return path
    if str(name_or_path) in FILES:
        for d in search_dirs():
            if (d / FILES[str(name_or_path)]).is_file():
                return d / FILES[str(name_or_path)]
        looked = f"looked for {FILES[str(name_or_path)]} in {', '.join(map(str, search_dirs()))}"
        if str(name_or_path) in DOWNLOADS:
            from zoo.io import DownloadError

            try:
                return download(str(name_or_path))
            except DownloadError as e:
                raise DataError(f"dataset {name_or_path!r} not found: {looked}, and the download failed ({e}); "
                                "connect once, pass its path (--data PATH) or set ZOO_DATA_DIR") from None
        raise DataError(
            f"dataset {name_or_path!r} not found: {looked}; pass its path (--data PATH) or set ZOO_DATA_DIR")
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


def decode_image(blob, size=None, mode="RGB"):
    """An encoded image (PNG, JPEG, ... bytes) as a uint8 array (H, W, C) in `mode` ("RGB" or
    "L"), resized to `size` (H, W) where given."""
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
        images = np.stack([decode_image(jpeg[offsets[i]:offsets[i + 1]].tobytes()) for i in range(n)])
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
            images.append(decode_image(f.read_bytes(), size, "L" if channels == 1 else "RGB"))
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
