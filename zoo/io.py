"""zoo's file primitives, at the bottom of its layers (they import nothing of zoo but its
errors): a file's sha256, files written whole (`atomic_write`), downloads that are whole or
absent (`download`), archive members that stay inside the folder they unpack to
(`check_archive_members`), and zoo's cache folder (`home`).

Everything that writes a file zoo owns goes through `atomic_write` or a temporary file and
`os.replace`, so that a reader, or a kill, sees the old file or the new one.
"""

import hashlib
import http.client
import json
import os
import pathlib
import urllib.error
import urllib.request
import uuid

from zoo.errors import PresetError, ZooError

TIMEOUT_S = 30


class DownloadError(ZooError, OSError):
    """A remote file could not be fetched whole, or was not what its card says."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write(path, data):
    """Writes `data` (str or bytes) to `path` through a temporary file and a rename: a reader
    (or a kill) sees the old file or the new one, never half of one."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_json(path, obj):
    atomic_write(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def _exchange(a, b):
    """Swaps two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where the system
    has no such call."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) != 0:
        errno = ctypes.get_errno()
        if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: this file system cannot exchange
            return False
        raise OSError(errno, os.strerror(errno), str(b))
    return True


def replace_folder(new, target):
    """Puts the folder `new` (written whole beside `target`, on the same file system) in place of
    `target` in one step: a reader, or a kill, sees the old folder or the new one. The old one
    is removed afterwards. Where the system cannot swap two paths in one step, the old folder
    is renamed aside first (a kill between the two renames leaves it there, under
    `.NAME.old-PID`)."""
    import shutil

    new, target = pathlib.Path(new), pathlib.Path(target)
    if not target.exists():
        os.rename(new, target)
        return target
    if _exchange(new, target):
        shutil.rmtree(new)  # now the old folder
        return target
    aside = target.with_name(f".{target.name}.old-{os.getpid()}")
    os.rename(target, aside)
    os.rename(new, target)
    shutil.rmtree(aside)
    return target


def home():
    """zoo's cache folder: `$ZOO_HOME`, default `~/.cache/zoo`."""
    return pathlib.Path(os.environ.get("ZOO_HOME") or pathlib.Path.home() / ".cache" / "zoo").expanduser()


def _reason(error):
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def download(url, dest, sha256=None, timeout=TIMEOUT_S):
    """Fetches `url` into `dest` whole or not at all: streamed to a temporary file beside it,
    checked against the server's length and `sha256` (when given), then renamed."""
    dest = pathlib.Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "zoo"})
        with urllib.request.urlopen(request, timeout=timeout) as response, open(tmp, "wb") as f:
            length = response.headers.get("Content-Length")
            digest, received = hashlib.sha256(), 0
            for chunk in iter(lambda: response.read(1 << 20), b""):
                f.write(chunk)
                digest.update(chunk)
                received += len(chunk)
            f.flush()
            os.fsync(f.fileno())
        if length is not None and received != int(length):
            raise DownloadError(f"the download of {url} was cut short ({received} of {length} bytes); "
                                "nothing was kept: try again")
        check_digest(url, digest.hexdigest(), sha256)
        os.replace(tmp, dest)
    except DownloadError:
        raise
    except http.client.IncompleteRead as e:
        raise DownloadError(f"the download of {url} was cut short ({len(e.partial)} bytes received); "
                            "nothing was kept: try again") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
        raise DownloadError(f"cannot download {url}: {_reason(e)}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def check_digest(what, actual, expected):
    if expected and actual != expected:
        raise DownloadError(f"{what}: sha256 {actual[:16]}... does not match the expected {expected[:16]}...; "
                            "the file is corrupt or was modified, and nothing was kept")


def check_archive_members(archive_path, names):
    for name in names:
        parts = pathlib.PurePosixPath(name).parts
        if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            raise PresetError(f"archive {archive_path} holds an unsafe path {name!r}; refusing to unpack it")
