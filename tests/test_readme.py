"""The README's Python examples run as written, in order, in one namespace: once (on
TensorFlow; they do the same on every backend), in a temporary folder, with the test
fixtures standing in for the datasets (ZOO_DATA_DIR). A block after a
`<!-- readme-test: skip (why) -->` line is left out (it needs the network)."""

import pathlib
import re
import shutil

import pytest

from conftest import FIXTURES, ROOT


def python_blocks(text):
    blocks = []
    for match in re.finditer(r"(<!-- readme-test: skip[^>]*-->\n)?```python\n(.*?)```", text, re.S):
        if not match.group(1):
            blocks.append(match.group(2))
    return blocks


@pytest.mark.once_under("tensorflow", "the examples do the same on every backend")
def test_the_readme_python_examples_run_as_written(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(FIXTURES / "anime_tiny.npz", data / "anime_faces_64.npz")
    shutil.copy(FIXTURES / "mnist_tiny.npz", data / "mnist.npz")
    monkeypatch.setenv("ZOO_DATA_DIR", str(data))
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 6
    namespace = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"README.md python block {i + 1}", "exec"), namespace)  # noqa: S102
    assert pathlib.Path("grid.png").stat().st_size > 0 and (tmp_path / "my_dcgan" / "README.md").is_file()
