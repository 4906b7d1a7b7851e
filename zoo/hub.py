"""Presets from elsewhere: `hf://owner/repo[@revision]` (through huggingface_hub, the extra
`zoo[hub]`) and `https://...` (a preset folder, or a .zip / .tar.gz archive of one), cached
under `$ZOO_HOME` (default `~/.cache/zoo`).

    zoo.load("hf://someone/my-dcgan")            # downloaded once, then offline
    zoo.load("hf://someone/my-dcgan@v2")         # a branch, tag or commit
    zoo.load("https://example.org/presets/my-dcgan/")
    zoo.load("https://example.org/my-dcgan.zip")

A preset's card (metadata.json) lists the sha256 of each of its files ("files"; older cards:
the weights' "weights_sha256"). Every file is checked against it, and every download is
written to a temporary file and renamed only once it is whole and its sha256 is right: a
killed or cut download leaves nothing that a later load takes as good. A preset whose files
are all in the cache and check out is loaded without the network.

The weights of zoo's own presets do not travel in the wheel (see the README, "Where the
weights live"): a wheel install fetches a shipped preset's `model.weights.h5` once from
`$ZOO_PRESETS_URL` (a template with `{name}`; default `DEFAULT_STORE`) into the cache, and
checks it against zoo's manifest, which is code. A source checkout has them all on disk.
"""

import hashlib
import os
import shutil
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile

from zoo.cards import METADATA, WEIGHTS, listed_files
from zoo.errors import PresetError
from zoo.io import DownloadError, check_archive_members, check_digest, download, home
from zoo.io import sha256 as file_sha256

DEFAULT_STORE = "hf://zoo-keras/{name}"  # where a release will publish the shipped presets' folders
STORE_PUBLISHED = False  # not yet (a release step that needs the network): until then, say so at once
ARCHIVES = (".zip", ".tar.gz", ".tgz", ".tar")


def is_remote(source):
    return isinstance(source, str) and source.startswith(("hf://", "https://", "http://"))


# -- where a remote preset comes from ------------------------------------------------------
class Source:
    """A parsed remote preset: `hf://owner/repo[@revision]`, a folder URL or an archive URL."""

    def __init__(self, uri):
        self.uri = uri
        if uri.startswith("hf://"):
            repo, _, revision = uri[len("hf://"):].partition("@")
            parts = repo.strip("/").split("/")
            if len(parts) != 2 or not all(parts):
                raise PresetError(f"bad preset address {uri!r}: expected hf://OWNER/REPO or hf://OWNER/REPO@REVISION")
            self.kind, self.repo_id, self.revision = "hf", "/".join(parts), revision or "main"
            self.name = parts[1]
            self.key = f"hf/{parts[0]}--{parts[1]}@{self.revision.replace('/', '--')}"
            return
        parsed = urllib.parse.urlparse(uri)
        if not parsed.netloc:
            raise PresetError(f"bad preset address {uri!r}: expected https://HOST/PATH (a preset folder or archive)")
        path = parsed.path.rstrip("/")
        leaf = path.rsplit("/", 1)[-1] or parsed.netloc
        self.kind = "archive" if leaf.lower().endswith(ARCHIVES) else "folder"
        self.name = next((leaf[:-len(s)] for s in ARCHIVES if leaf.lower().endswith(s)), leaf)
        self.key = f"url/{parsed.netloc.replace(':', '_')}-{self.name}-{hashlib.sha256(uri.encode()).hexdigest()[:12]}"

    def url_of(self, filename):
        return self.uri.rstrip("/") + "/" + urllib.parse.quote(filename)

    def fetch_file(self, filename, dest, sha256=None):
        """One file of the preset, into `dest`, checked against `sha256`."""
        if self.kind == "folder":
            return download(self.url_of(filename), dest, sha256)
        if self.kind != "hf":
            raise PresetError(f"{self.uri} is an archive: it is fetched whole")
        try:
            import huggingface_hub
        except ImportError:
            raise DownloadError(f"{self.uri}: hf:// presets need huggingface_hub (pip install 'zoo[hub]')") from None
        staging = dest.parent / f".staging-{uuid.uuid4().hex[:8]}"
        try:
            path = huggingface_hub.hf_hub_download(
                self.repo_id, filename, revision=self.revision, local_dir=staging,
                endpoint=os.environ.get("HF_ENDPOINT") or None)
            check_digest(f"{self.uri} {filename}", file_sha256(path), sha256)
            os.replace(path, dest)
        except DownloadError:
            raise
        except Exception as e:  # noqa: BLE001  (huggingface_hub raises many kinds, network ones included)
            raise DownloadError(f"cannot download {filename} of {self.uri}: {type(e).__name__}: "
                                f"{str(e).splitlines()[0] if str(e) else ''}".rstrip(": ")) from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return dest


def _complete(directory):
    """True when the cached preset has its card and every file the card lists, each with
    the card's sha256 (a file that fails is removed, to be fetched again)."""
    import json

    try:
        card = json.loads((directory / METADATA).read_text(encoding="utf-8"))
        files = listed_files(card)
    except (OSError, ValueError, PresetError):
        return False
    whole = True
    for name, digest in files.items():
        path = directory / name
        if not path.is_file():
            whole = False
        elif digest and file_sha256(path) != digest:
            path.unlink()
            whole = False
    return whole


def fetch_preset(uri):
    """The local folder of the remote preset `uri`, downloaded into the cache if it is not
    there whole; offline, a cached preset is used as it is."""
    source = Source(uri)
    target = home() / "presets" / source.key
    if _complete(target):
        return target
    try:
        if source.kind == "archive":
            _fetch_archive(source, target)
        else:
            _fetch_folder(source, target)
    except DownloadError as e:
        raise DownloadError(f"{e} ({uri} is not whole in zoo's cache {target}: connect once to download it, or "
                            "download the preset folder yourself and load it by path)") from None
    return target


def _fetch_folder(source, target):
    import json

    target.mkdir(parents=True, exist_ok=True)
    card_tmp = target / f".{METADATA}.{os.getpid()}.new"
    try:
        source.fetch_file(METADATA, card_tmp)
        try:
            card = json.loads(card_tmp.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise PresetError(f"{source.uri}: {METADATA} is not valid JSON ({e})") from None
        for name, digest in listed_files(card).items():
            path = target / name
            if not (path.is_file() and (digest is None or file_sha256(path) == digest)):
                source.fetch_file(name, path, digest)
        os.replace(card_tmp, target / METADATA)  # last: the card marks the folder as whole
    finally:
        card_tmp.unlink(missing_ok=True)


def _fetch_archive(source, target):
    downloads = home() / "downloads"
    archive = downloads / f"{source.key.replace('/', '_')}{source.uri[source.uri.rfind('.'):]}"
    download(source.uri, archive)
    staging = target.parent / f".staging-{uuid.uuid4().hex[:8]}"
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                check_archive_members(archive, z.namelist())
                z.extractall(staging)
        else:
            try:
                with tarfile.open(archive) as t:
                    members = t.getmembers()
                    check_archive_members(archive, [m.name for m in members])
                    if any(not (m.isfile() or m.isdir()) for m in members):
                        raise PresetError(f"archive {source.uri} holds links or devices; refusing to unpack it")
                    t.extractall(staging, filter="data")
            except tarfile.TarError as e:
                raise PresetError(f"{source.uri} is not a zip or tar archive of a preset ({e})") from None
        found = sorted(staging.rglob(METADATA), key=lambda p: len(p.parts))
        if not found:
            raise PresetError(f"archive {source.uri} holds no {METADATA}: not a preset")
        folder = found[0].parent
        if not _complete(folder):
            raise DownloadError(f"archive {source.uri}: its files do not match its card's sha256 (or some are "
                                "missing); the archive is corrupt or was modified, and nothing was kept")
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(folder, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        archive.unlink(missing_ok=True)


# -- the shipped presets' weights, for a wheel install ------------------------------------------
def store_template():
    return os.environ.get("ZOO_PRESETS_URL") or DEFAULT_STORE


def shipped_weights(name, sha256):
    """The path of shipped preset `name`'s weights in the cache, fetched once from the store
    and checked against `sha256` (zoo's manifest)."""
    dest = home() / "weights" / name / WEIGHTS
    if dest.is_file() and file_sha256(dest) == sha256:
        return dest
    template = store_template()
    if not os.environ.get("ZOO_PRESETS_URL") and not STORE_PUBLISHED:
        raise PresetError(
            f"this install of zoo (a wheel) carries no weights for {name}, and the default store {DEFAULT_STORE} "
            f"is not published yet: set ZOO_PRESETS_URL to a mirror of zoo/presets (https://HOST/PATH/{{name}} or "
            f"hf://OWNER/{{name}}), or install from a source checkout (pip install -e .), which has every preset's "
            f"weights; they go into {dest.parent}")
    if "{name}" not in template:
        raise PresetError(f"ZOO_PRESETS_URL must hold {{name}} (e.g. https://host/presets/{{name}}); got {template!r}")
    uri = template.format(name=name)
    source = Source(uri)
    if source.kind == "archive":
        raise PresetError(f"ZOO_PRESETS_URL must name preset folders or hf:// repos, not archives; got {template!r}")
    try:
        source.fetch_file(WEIGHTS, dest, sha256)
    except DownloadError as e:
        raise DownloadError(f"{e} (this install of zoo carries no weights for {name}: they are fetched once "
                            f"from {uri} into {dest.parent}; connect once, set ZOO_PRESETS_URL to a mirror, or "
                            "use a source checkout, which has every preset's weights)") from None
    return dest
