"""zoo's file primitives, at the bottom of its layers (they import nothing of zoo but its
errors): a file's sha256, files written whole (`atomic_write`), downloads that are whole or
absent (`download`), archive members that stay inside the folder they unpack to
(`check_archive_members`), and zoo's cache folder (`home`).

Everything that writes a file zoo owns goes through `atomic_write` or a temporary file and
`os.replace`, so that a reader, or a kill, sees the old file or the new one.
"""

import errno
import hashlib
import http.client
import json
import os
import pathlib
import shutil
import time
import urllib.error
import urllib.request
import uuid

from zoo.errors import PresetError, ZooError

TIMEOUT_S = 30  # per read: a server that says nothing for this long is given up on
DEADLINE_S = 1800  # a whole download (ZOO_DOWNLOAD_DEADLINE_S overrides): a trickling server is given up on


class WriteError(ZooError, OSError):
    """A file zoo writes could not be written whole (a full disk, a read-only folder, no
    permission); nothing was changed."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


def _megabytes(n):
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n} bytes"


def _existing(folder):
    folder = pathlib.Path(folder).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def check_space(path, needed):
    """Refuses, before anything is written, a file of `needed` bytes that the disk holding
    `path` has no room for (the check is repeated by the write itself: another writer can
    fill the disk in between)."""
    folder = _existing(pathlib.Path(path).parent)
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise WriteError(f"cannot write {path}: the disk holding {folder} has {_megabytes(free)} free and "
                         f"{_megabytes(needed)} are needed; nothing was changed (free some space, or write "
                         "elsewhere)")


def write_error(path, error, needed=None):
    """The one-line `WriteError` for an `OSError` met writing `path` (after what was half written
    is removed)."""
    folder = _existing(pathlib.Path(path).parent)
    code = getattr(error, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT):
        try:
            free = f"{_megabytes(shutil.disk_usage(folder).free)} free"
        except OSError:
            free = "no room"
        why = f"the disk holding {folder} is full ({free}" + (f", {_megabytes(needed)} needed)" if needed else ")")
    elif code == errno.EFBIG:
        why = "the file is larger than this system allows (ulimit -f, or the file system's limit)"
    elif code == errno.EROFS:
        why = f"{folder} is on a read-only file system"
    elif code in (errno.EACCES, errno.EPERM):
        why = f"no permission to write in {folder}"
    else:
        why = f"{type(error).__name__}: {getattr(error, 'strerror', None) or error}"
    return WriteError(f"cannot write {path}: {why}; nothing was changed")


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
    (or a kill) sees the old file or the new one, never half of one. A full disk, a read-only
    folder or a missing permission is a one-line `WriteError`, with the old file intact and no
    temporary file left."""
    path = pathlib.Path(path)
    data = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        check_space(path, len(data))
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except WriteError:
        raise
    except OSError as e:
        raise write_error(path, e, len(data)) from None
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


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


def download(url, dest, sha256=None, timeout=TIMEOUT_S, deadline=None):
    """Fetches `url` into `dest` whole or not at all: streamed to a temporary file beside it,
    checked against the server's length and `sha256` (when given), then renamed. `timeout`
    bounds each read, `deadline` the whole download (seconds; default $ZOO_DOWNLOAD_DEADLINE_S,
    else 30 minutes); past either, or on a full disk,
    the partial file is removed and a one-line `DownloadError` (`WriteError` for the disk) says
    why."""
    dest = pathlib.Path(dest)
    if deadline is None:
        deadline = float(os.environ.get("ZOO_DOWNLOAD_DEADLINE_S") or DEADLINE_S)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")
    start, received = time.monotonic(), 0
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        request = urllib.request.Request(url, headers={"User-Agent": "zoo"})
        with urllib.request.urlopen(request, timeout=timeout) as response, open(tmp, "wb") as f:
            length = response.headers.get("Content-Length")
            if length is not None and length.isdigit():
                check_space(dest, int(length))
            digest = hashlib.sha256()
            for chunk in iter(lambda: response.read1(1 << 16), b""):
                if time.monotonic() - start > deadline:
                    raise DownloadError(f"the download of {url} took longer than {deadline:g} s ({received} bytes "
                                        "received); nothing was kept: try again, or from a faster mirror")
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
    except (DownloadError, WriteError):
        raise
    except http.client.IncompleteRead as e:
        raise DownloadError(f"the download of {url} was cut short ({len(e.partial)} bytes received); "
                            "nothing was kept: try again") from None
    except OSError as e:
        if getattr(e, "errno", None) in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES,
                                         errno.EPERM) and not isinstance(e, urllib.error.URLError):
            raise write_error(dest, e) from None
        raise DownloadError(f"cannot download {url}: {_reason(e)}") from None
    except (urllib.error.URLError, http.client.HTTPException, ValueError) as e:
        raise DownloadError(f"cannot download {url}: {_reason(e)}") from None
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
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
