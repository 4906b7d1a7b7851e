"""zoo.data: offline loaders and their errors."""

import numpy as np
import pytest
from conftest import FIXTURES, run

from zoo import data
from zoo.errors import DataError


def test_keras_layout_npz(mnist_tiny):
    d = data.load_npz(mnist_tiny)
    assert d["x_train"].shape == (300, 28, 28) and d["y_test"].shape == (60,)
    images = data.load_images(mnist_tiny, limit=10)
    assert images.shape == (10, 28, 28, 1) and images.dtype == np.uint8
    assert data.load_images(mnist_tiny, split="test").shape == (60, 28, 28, 1)


def test_anime_faces_npz():
    images, tags, names = data.load_anime_faces(FIXTURES / "anime_tiny.npz")
    assert images.shape == (24, 64, 64, 3) and images.dtype == np.uint8
    assert images.std() > 20  # decoded pictures, not blank
    assert tags["hair"].shape == (24,) and len(names["hair_names"]) == 12
    assert data.load_images(FIXTURES / "anime_tiny.npz", limit=5).shape == (5, 64, 64, 3)


def test_image_folder_resizes_and_counts_what_it_skips(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for i, size in enumerate([(40, 30), (64, 64), (100, 80)]):
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    (tmp_path / "sub").mkdir()
    Image.fromarray(rng.integers(0, 255, (20, 20), dtype=np.uint8)).save(tmp_path / "sub" / "g.jpg")
    (tmp_path / "broken.jpg").write_bytes(b"not an image at all")
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        images = data.load_image_folder(tmp_path, size=(64, 64))
    assert images.shape == (4, 64, 64, 3) and images.dtype == np.uint8


@pytest.mark.parametrize("content", [None, b"garbage, not a zip", b"PK\x03\x04truncated"])
def test_missing_or_corrupt_files_get_a_clear_error(tmp_path, content):
    path = tmp_path / "mnist.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match="not found" if content is None else "corrupt"):
        data.load_npz(path)


def test_an_npz_of_the_wrong_layout_is_named(tmp_path):
    np.savez(tmp_path / "other.npz", images=np.zeros((2, 2)))
    with pytest.raises(DataError, match="lacks x_train"):
        data.load_npz(tmp_path / "other.npz")


def test_an_unknown_dataset_name_says_where_it_looked(monkeypatch, tmp_path):
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(data, "search_dirs", lambda: [tmp_path])
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ZOO_DATA_URL", "http://127.0.0.1:9/")  # nothing listens: offline
    with pytest.raises(DataError, match="--data PATH") as e:
        data.find("fashion_mnist")
    assert "the download failed (cannot download http://127.0.0.1:9/train-labels-idx1-ubyte.gz" in str(e.value)
    with pytest.raises(DataError, match="set ZOO_DATA_DIR"):
        data.find("anime_faces")  # nothing to download it from
    with pytest.raises(DataError, match="no such file"):
        data.find(tmp_path / "nothing_here")


def test_tfds_offline_or_missing_says_to_pass_a_local_path():
    with pytest.raises(DataError, match="local path"):
        data.load_tfds("this_dataset_does_not_exist_zoo")


def test_jax_and_torch_never_import_tensorflow(backend, mnist_tiny):
    if backend == "tensorflow":
        pytest.skip("TensorFlow is the backend here")
    script = ("import sys, numpy as np, zoo; from zoo import data; "
              "x = data.load_images(sys.argv[1]); m = zoo.load('gan_mnist'); m.generate(2, seed=0); "
              "m.compile(); m.fit(x[:32], batch_size=16, epochs=1, verbose=0); "
              "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'")
    run(["-c", script, str(mnist_tiny)], backend=backend)  # fails if the script's assert fails


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A keras.datasets mirror on 127.0.0.1, an empty ZOO_HOME and no local copies."""
    from preset_server import PresetServer

    server = PresetServer()
    monkeypatch.setenv("ZOO_DATA_URL", server.url + "/datasets/")
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(data, "search_dirs", lambda: [tmp_path / "home" / "data"])
    yield server
    server.stop()


def test_mnist_is_downloaded_once_checked_by_keras_hash(mirror, mnist_tiny, monkeypatch, tmp_path):
    blob = mnist_tiny.read_bytes()
    mirror.files["/datasets/mnist.npz"] = blob
    with pytest.raises(DataError, match="does not match"):
        data.find("mnist")  # the tiny fixture is not keras' mnist.npz
    assert not list((tmp_path / "home").rglob("*.npz"))
    import hashlib

    monkeypatch.setitem(data.DOWNLOADS, "mnist", {"files": {"mnist.npz": hashlib.sha256(blob).hexdigest()},
                                                   "arrays": None})
    path = data.find("mnist")
    assert path == tmp_path / "home" / "data" / "mnist.npz"
    assert data.load_npz(path)["x_train"].shape == np.load(mnist_tiny)["x_train"].shape
    mirror.stop()
    assert data.find("mnist") == path  # kept: no second download


def test_fashion_mnist_from_its_gz_files_is_checked_array_by_array(mirror, monkeypatch, tmp_path):
    import gzip
    import hashlib

    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 255, (6, 28, 28), dtype=np.uint8), "y_train": np.arange(6, dtype=np.uint8),
              "x_test": rng.integers(0, 255, (2, 28, 28), dtype=np.uint8), "y_test": np.arange(2, dtype=np.uint8)}
    names = {"x_train": ("train-images-idx3-ubyte.gz", 16), "y_train": ("train-labels-idx1-ubyte.gz", 8),
             "x_test": ("t10k-images-idx3-ubyte.gz", 16), "y_test": ("t10k-labels-idx1-ubyte.gz", 8)}
    for key, (name, header) in names.items():
        mirror.files[f"/datasets/{name}"] = gzip.compress(bytes(header) + arrays[key].tobytes())
    with pytest.raises(DataError, match="differs from the official release"):
        data.find("fashion_mnist")
    assert not list((tmp_path / "home").rglob("*.npz")) and not list((tmp_path / "home").rglob("*.gz"))
    digests = {k: hashlib.sha256(a.tobytes()).hexdigest() for k, a in arrays.items()}
    monkeypatch.setitem(data.DOWNLOADS["fashion_mnist"], "arrays", digests)
    loaded = data.load_npz(data.find("fashion_mnist"))
    for key, array in arrays.items():
        np.testing.assert_array_equal(loaded[key], array)
