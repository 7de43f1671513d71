"""Dataset download with resume and checksums, and archive extraction that rejects unsafe members.

Downloads stream into `<dest>.part` and are renamed into place only after the size
and sha256 check out, so a crash never leaves a file that looks complete. Archives
are extracted into a temporary sibling of the target and moved into place whole.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import os
import shutil
import stat
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath, PureWindowsPath
from urllib.parse import unquote, urlparse

from tqdm import tqdm

from srgan.core.errors import SrganError

log = logging.getLogger(__name__)

_CHUNK_BYTES = 1 << 20
_FIX = (
    "set this dataset's source to a local folder (HR/ with optional LRbicx4/) "
    "or a mirror URL in params.yaml"
)
_NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError)


def _sha256_of(path: Path) -> hashlib._Hash:
    """A sha256 object fed with the whole file at `path`."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest


def _reject(url: str, part: Path, what: str, expected: object, actual: object) -> SrganError:
    """Delete the bad .part file and build the error that says so."""
    part.unlink(missing_ok=True)
    return SrganError(
        f"{url} downloaded with {what} {actual} but {expected} was expected, so the file was "
        f"deleted; fix the expected value or {_FIX}"
    )


def _transfer(url: str, part: Path, timeout_s: float, progress: bool) -> tuple[hashlib._Hash, int | None]:
    """Fetch `url` into `part`, resuming from its current size; return the hash and expected size."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout_s)
    except urllib.error.HTTPError as e:
        total = e.headers.get("Content-Range", "").rpartition("/")[2]
        e.close()
        if e.code == 416 and offset and total == str(offset):
            log.info("%s: the partial file is already complete", part)
            return _sha256_of(part), offset
        if e.code == 416 and offset:
            log.warning("%s: server refused to resume, starting again from zero", url)
            part.unlink()
            return _transfer(url, part, timeout_s, progress)
        raise
    with response:
        length = response.headers.get("Content-Length")
        if offset and response.status == 206:
            if not response.headers.get("Content-Range", "").startswith(f"bytes {offset}-"):
                # Some other range came back; only a clean restart gives a file we can trust.
                log.warning("%s: server answered the wrong range, starting again from zero", url)
                part.unlink()
                return _transfer(url, part, timeout_s, progress)
            log.info("%s: resuming at byte %d", url, offset)
            digest, mode = _sha256_of(part), "ab"
        else:
            if offset:
                log.warning("%s: server ignored the Range request, starting again from zero", url)
            digest, mode, offset = hashlib.sha256(), "wb", 0
        expected = offset + int(length) if length is not None else None
        bar = tqdm(
            total=expected, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
            desc=part.name.removesuffix(".part"), disable=not progress,
        )
        with part.open(mode) as f, bar:
            for chunk in iter(lambda: response.read(_CHUNK_BYTES), b""):
                f.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
    return digest, expected


def download_file(
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    size_bytes: int | None = None,
    timeout_s: float = 30.0,
    progress: bool = True,
) -> str:
    """Download `url` to `dest`, resuming a previous `.part`, and return the file's hex sha256.

    The size (against `size_bytes` and Content-Length) and `sha256` are checked before
    `dest` appears; a mismatch deletes the partial file. An existing `dest` that matches
    `sha256` (or any existing `dest` when no sha256 is given) is kept as it is."""
    want = sha256.lower() if sha256 is not None else None
    if dest.is_file():
        actual = _sha256_of(dest).hexdigest()
        if want is None or actual == want:
            log.info("%s already present, not downloading %s again", dest, url)
            return actual
        log.warning("%s does not match the expected sha256, downloading it again", dest)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if size_bytes is not None and part.exists() and part.stat().st_size > size_bytes:
        part.unlink()
    try:
        digest, expected = _transfer(url, part, timeout_s, progress)
    except urllib.error.HTTPError as e:
        raise SrganError(f"could not download {url} (HTTP {e.code} {e.reason}); {_FIX}") from e
    except _NETWORK_ERRORS as e:
        reason = getattr(e, "reason", None) or e
        raise SrganError(f"could not download {url} ({reason}); check the network, or {_FIX}") from e
    actual_size = part.stat().st_size
    if expected is not None and actual_size < expected:
        raise SrganError(
            f"the connection to {url} closed after {actual_size} of {expected} bytes; run again to "
            f"resume from {part}, or {_FIX}"
        )
    if expected is not None and actual_size > expected:
        raise _reject(url, part, "size", f"{expected} bytes", f"{actual_size} bytes")
    if size_bytes is not None and actual_size != size_bytes:
        raise _reject(url, part, "size", f"{size_bytes} bytes", f"{actual_size} bytes")
    actual = digest.hexdigest()
    if want is not None and actual != want:
        raise _reject(url, part, "sha256", want, actual)
    os.replace(part, dest)
    log.info("downloaded %s to %s (sha256 %s)", url, dest, actual)
    return actual


def _unsafe(archive: Path, name: str, why: str) -> SrganError:
    """The error for an archive member that must not be extracted."""
    return SrganError(f"{archive} has an unsafe member {name!r} ({why}); use a trusted archive instead")


def _check_name(archive: Path, name: str, root: Path) -> None:
    """Reject a member name that is absolute, climbs with `..`, or lands outside `root`."""
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    if posix.is_absolute() or windows.is_absolute() or windows.drive:
        raise _unsafe(archive, name, "absolute path")
    if ".." in windows.parts:
        raise _unsafe(archive, name, "'..' in its path")
    if not (root / name).resolve().is_relative_to(root):
        raise _unsafe(archive, name, "resolves outside the target")


def _extract_tar(archive: Path, root: Path) -> None:
    """Validate every tar member, then extract regular files and directories only."""
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        for member in members:
            _check_name(archive, member.name, root)
            if not (member.isfile() or member.isdir()):
                raise _unsafe(archive, member.name, "link or special file")
        if hasattr(tarfile, "data_filter"):
            tar.extractall(root, members=members, filter="data")
        else:
            # Python before 3.10.12 / 3.11.4 has no 'data' filter: drop at least the mode bits it drops
            # (setuid, setgid, sticky, group and other write), so no archive makes a setuid file.
            for member in members:
                member.mode &= 0o755
            tar.extractall(root, members=members)


def _extract_zip(archive: Path, root: Path) -> None:
    """Validate every zip entry, then extract them all."""
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        for info in infos:
            _check_name(archive, info.filename, root)
            # The high 16 bits hold the unix st_mode when present; zero type bits mean a plain entry.
            file_type = stat.S_IFMT(info.external_attr >> 16)
            if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise _unsafe(archive, info.filename, "link or special file")
        zf.extractall(root, members=infos)


def safe_extract(archive: Path, target: Path) -> Path:
    """Extract a .zip, .tar, .tar.gz or .tgz `archive` into `target` and return `target`.

    Every member is checked before anything is written: absolute paths, `..`, links and
    device files are rejected. Extraction happens in a temporary sibling that replaces
    `target` only once complete, so a failure leaves any existing `target` untouched."""
    name = archive.name.lower()
    if name.endswith(".zip"):
        extract = _extract_zip
    elif name.endswith((".tar", ".tar.gz", ".tgz")):
        extract = _extract_tar
    else:
        raise SrganError(f"{archive} is not a .zip, .tar, .tar.gz or .tgz archive; {_FIX}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=target.parent)).resolve()
    try:
        extract(archive, tmp)
    except (tarfile.TarError, zipfile.BadZipFile, gzip.BadGzipFile, zlib.error, EOFError) as e:
        shutil.rmtree(tmp)
        raise SrganError(f"{archive} is damaged or not a valid archive; delete it and download again") from e
    except BaseException:
        shutil.rmtree(tmp)
        raise
    old = None
    if target.exists() or target.is_symlink():
        old = tmp.with_name(tmp.name.replace(".tmp-", ".old-", 1))
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None and old.is_dir() and not old.is_symlink():
        shutil.rmtree(old)
    elif old is not None:
        old.unlink()
    log.info("extracted %s into %s", archive, target)
    return target


def fetch_archive(
    url: str, target: Path, *, sha256: str | None, cache_dir: Path, progress: bool = True
) -> str:
    """Download the archive at `url` into `cache_dir`, extract it into `target`, return its sha256."""
    name = PurePosixPath(unquote(urlparse(url).path)).name
    if not name:
        raise SrganError(f"{url} does not end in an archive file name; {_FIX}")
    digest = download_file(url, cache_dir / name, sha256=sha256, progress=progress)
    safe_extract(cache_dir / name, target)
    return digest
