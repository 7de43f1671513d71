"""Download, resume, checksum and safe extraction, against a real HTTP server on loopback."""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import socket
import stat
import tarfile
import threading
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import srgan.datasets.download as download_module
from srgan.core.errors import SrganError
from srgan.datasets.download import download_file, fetch_archive, safe_extract

PAYLOAD = bytes(range(256)) * 64  # 16 KiB, every byte value, so offsets errors show up


class _Server(ThreadingHTTPServer):
    """Serves `files` by path; records request headers; can cut the first response short."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.requests: list[dict[str, str]] = []
        self.cut_after_bytes: int | None = None
        self.honor_range = True
        self.wrong_range_once = False  # answer the next Range request with 206 for bytes from 0
        self.always_416 = False  # answer every request with 416 and Content-Range "bytes */0"
        self.send_content_range = True  # False: a 206 answer to a Range request carries no Content-Range
        self.send_content_length = True  # False: no Content-Length, the body ends when the connection closes
        self.max_requests = 6  # later requests get 500, so a client that loops fails fast instead of hanging

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.requests.append(dict(self.headers))
        if len(self.server.requests) > self.server.max_requests:
            self.send_error(500)
            return
        payload = self.server.files.get(self.path)
        if payload is None:
            self.send_error(404)
            return
        if self.server.always_416:
            self.send_response(416)
            self.send_header("Content-Range", "bytes */0")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start, range_header = 0, self.headers.get("Range")
        if range_header and self.server.wrong_range_once:
            self.server.wrong_range_once = False
            self.send_response(206)
            self.send_header("Content-Range", f"bytes 0-{len(payload) - 1}/{len(payload)}")
        elif range_header and self.server.honor_range:
            start = int(range_header.removeprefix("bytes=").split("-")[0])
            if start >= len(payload):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(payload)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            if self.server.send_content_range:
                self.send_header("Content-Range", f"bytes {start}-{len(payload) - 1}/{len(payload)}")
        else:
            self.send_response(200)
        body = payload[start:]
        if self.server.send_content_length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.server.cut_after_bytes is not None:
            # Only the first response is cut: the client's retry must then succeed.
            body, self.server.cut_after_bytes = body[: self.server.cut_after_bytes], None
            self.close_connection = True
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    httpd = _Server()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tar_gz(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path.read_bytes()


def _good_tar_gz(path: Path) -> bytes:
    folder = tarfile.TarInfo("HR")
    folder.type = tarfile.DIRTYPE
    return _tar_gz(path, [(folder, None), (tarfile.TarInfo("HR/a.png"), b"aaa"), (tarfile.TarInfo("b.txt"), b"bb")])


def _good_archive(path: Path) -> None:
    """HR/a.png and b.txt as a .zip or (any other name) a .tar.gz."""
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("HR/a.png", b"aaa")
            zf.writestr("b.txt", b"bb")
    else:
        _good_tar_gz(path)


def _symlink_tar(path: Path) -> bytes:
    link = tarfile.TarInfo("link")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    return _tar_gz(path, [(tarfile.TarInfo("ok.txt"), b"ok"), (link, None)])


def test_download_file_writes_content_and_returns_sha256(server: _Server, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    dest = tmp_path / "cache" / "data.bin"
    digest = download_file(server.url("/data.bin"), dest, sha256=_sha(PAYLOAD), progress=False)
    assert digest == _sha(PAYLOAD)
    assert dest.read_bytes() == PAYLOAD
    assert not dest.with_name("data.bin.part").exists()


def test_download_file_skips_existing_matching_dest(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "data.bin"
    dest.write_bytes(PAYLOAD)
    digest = download_file(server.url("/data.bin"), dest, sha256=_sha(PAYLOAD), progress=False)
    assert digest == _sha(PAYLOAD)
    assert server.requests == []


def test_download_file_resumes_after_cut_connection(server: _Server, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    server.cut_after_bytes = 5000
    dest = tmp_path / "data.bin"
    part = tmp_path / "data.bin.part"
    with pytest.raises(SrganError, match="resume"):
        download_file(server.url("/data.bin"), dest, sha256=_sha(PAYLOAD), progress=False)
    assert part.stat().st_size == 5000
    assert not dest.exists()
    digest = download_file(server.url("/data.bin"), dest, sha256=_sha(PAYLOAD), progress=False)
    assert server.requests[-1].get("Range") == "bytes=5000-"
    assert dest.read_bytes() == PAYLOAD
    assert digest == _sha(PAYLOAD)
    assert not part.exists()


def test_download_file_restarts_when_server_ignores_range(server: _Server, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    server.honor_range = False
    (tmp_path / "data.bin.part").write_bytes(b"stale bytes")
    download_file(server.url("/data.bin"), tmp_path / "data.bin", progress=False)
    assert server.requests[-1].get("Range") == "bytes=11-"
    assert (tmp_path / "data.bin").read_bytes() == PAYLOAD


def test_download_file_accepts_complete_part_on_416(server: _Server, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD)
    digest = download_file(server.url("/data.bin"), tmp_path / "data.bin", progress=False)
    assert digest == _sha(PAYLOAD)
    assert (tmp_path / "data.bin").read_bytes() == PAYLOAD


def test_download_file_rejects_wrong_sha256(server: _Server, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD[:-1] + b"X"  # corrupted in transit or on the mirror
    dest = tmp_path / "data.bin"
    with pytest.raises(SrganError, match=_sha(PAYLOAD)) as err:
        download_file(server.url("/data.bin"), dest, sha256=_sha(PAYLOAD), progress=False)
    assert server.url("/data.bin") in str(err.value)
    assert _sha(server.files["/data.bin"]) in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_download_file_rejects_size_mismatch(server: _Server, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    with pytest.raises(SrganError, match=f"{len(PAYLOAD) + 1} bytes"):
        download_file(server.url("/data.bin"), tmp_path / "data.bin", size_bytes=len(PAYLOAD) + 1, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_download_file_server_down_names_url_and_local_folder(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/data.bin"
    with pytest.raises(SrganError, match="local folder") as err:
        download_file(url, tmp_path / "data.bin", timeout_s=2.0, progress=False)
    assert url in str(err.value)
    assert not (tmp_path / "data.bin").exists()


def test_download_file_http_404_names_url(server: _Server, tmp_path: Path) -> None:
    with pytest.raises(SrganError, match="HTTP 404") as err:
        download_file(server.url("/missing.zip"), tmp_path / "missing.zip", progress=False)
    assert server.url("/missing.zip") in str(err.value)


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("traversal.tar.gz", lambda p: _tar_gz(p, [(tarfile.TarInfo("../evil.txt"), b"evil")])),
        ("absolute.tar.gz", lambda p: _tar_gz(p, [(tarfile.TarInfo("/tmp/evil.txt"), b"evil")])),
        ("symlink.tar.gz", _symlink_tar),
    ],
)
def test_safe_extract_rejects_unsafe_tar(tmp_path: Path, name: str, build) -> None:
    archive = tmp_path / name
    build(archive)
    target = tmp_path / "out" / "Set5"
    with pytest.raises(SrganError, match="unsafe member") as err:
        safe_extract(archive, target)
    assert str(archive) in str(err.value)
    assert not target.exists()
    assert list((tmp_path / "out").iterdir()) == []
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize("kind", ["traversal", "symlink"])
def test_safe_extract_rejects_unsafe_zip(tmp_path: Path, kind: str) -> None:
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok.txt", b"ok")
        if kind == "traversal":
            zf.writestr("../evil.txt", b"evil")
        else:
            info = zipfile.ZipInfo("link")
            info.create_system = 3  # unix, so external_attr carries the file type
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    with pytest.raises(SrganError, match="'(../evil.txt|link)'"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["good.zip", "good.tar.gz"])
def test_safe_extract_good_archive(tmp_path: Path, name: str) -> None:
    archive = tmp_path / name
    _good_archive(archive)
    target = tmp_path / "data" / "Set5"
    assert safe_extract(archive, target) == target
    assert (target / "HR" / "a.png").read_bytes() == b"aaa"
    assert (target / "b.txt").read_bytes() == b"bb"
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["Set5"]


def test_fetch_archive_extracts_and_replaces_existing_target(server: _Server, tmp_path: Path) -> None:
    server.files["/sets/Set5_HR.tar.gz"] = _good_tar_gz(tmp_path / "src.tar.gz")
    target = tmp_path / "data" / "Set5"
    (target / "HR").mkdir(parents=True)
    (target / "old.txt").write_text("old")
    digest = fetch_archive(
        server.url("/sets/Set5_HR.tar.gz"), target, sha256=None, cache_dir=tmp_path / "cache", progress=False
    )
    assert digest == _sha(server.files["/sets/Set5_HR.tar.gz"])
    assert (tmp_path / "cache" / "Set5_HR.tar.gz").is_file()
    assert (target / "HR" / "a.png").read_bytes() == b"aaa"
    assert not (target / "old.txt").exists()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["Set5"]


def test_fetch_archive_wrong_sha256_extracts_nothing(server: _Server, tmp_path: Path) -> None:
    good = _good_tar_gz(tmp_path / "src.tar.gz")
    server.files["/Set5_HR.tar.gz"] = good[:-10] + bytes(10)
    target = tmp_path / "data" / "Set5"
    with pytest.raises(SrganError, match="sha256"):
        fetch_archive(server.url("/Set5_HR.tar.gz"), target, sha256=_sha(good), cache_dir=tmp_path / "cache")
    assert not target.exists()
    assert list((tmp_path / "cache").iterdir()) == []


def test_fetch_archive_rejected_leaves_existing_target(server: _Server, tmp_path: Path) -> None:
    evil = _tar_gz(tmp_path / "src.tar.gz", [(tarfile.TarInfo("../evil.txt"), b"evil")])
    server.files["/Set5_HR.tar.gz"] = evil
    target = tmp_path / "data" / "Set5"
    target.mkdir(parents=True)
    (target / "keep.png").write_bytes(b"keep")
    with pytest.raises(SrganError, match="unsafe member"):
        fetch_archive(server.url("/Set5_HR.tar.gz"), target, sha256=_sha(evil), cache_dir=tmp_path / "cache")
    assert [p.name for p in target.iterdir()] == ["keep.png"]
    assert (target / "keep.png").read_bytes() == b"keep"
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["Set5"]
    assert not (tmp_path / "data" / "evil.txt").exists()


# ---------------------------------------------------------------- mutation tests (issue 33)
# Every request below has a socket timeout of at most 5 s (TIMEOUT_S, or the raw server closing after 3 s),
# and the server answers 500 after `max_requests`, so a broken client fails fast instead of hanging.
# Equivalent mutants, left alive on purpose:
# - _CHUNK_BYTES set to any other non-zero size, or _sha256_of reading with f.read(None): the same bytes are hashed,
#   only in other pieces (0 is caught); only the memory held at once differs.
# - the "Range" key in another case ("range", "RANGE"): urllib's Request capitalizes header names.
# - Content-Range / Content-Length looked up in another case (e.headers, response.headers): HTTP message headers
#   are looked up case-insensitively.
# - another default for a missing Content-Range ("XXXX" for ""): no digits to equal str(offset), no "bytes N-".
# - partition instead of rpartition on the 416's Content-Range: a well-formed one ("bytes */N") has one '/'.
# - dropping e.close() or _reject's missing_ok: a leaked socket / the .part file always exists there (its size
#   was just read).
# - tarfile.open without "r:*": its default mode "r" is the same transparent-compression read.
# - extractall (tar, either branch, or zip) with members=None or without members: that is every member, and
#   `members` / `infos` already hold every member.
# - the 416-complete path returning None instead of offset as the expected size: the part is exactly offset bytes.

TIMEOUT_S = 5.0
FIX = (
    "set this dataset's source to a local folder (HR/ with optional LRbicx4/) or a mirror URL in params.yaml"
)


def _get(server: _Server, dest: Path, **kwargs: object) -> str:
    kwargs.setdefault("timeout_s", TIMEOUT_S)
    kwargs.setdefault("progress", False)
    return download_file(server.url("/data.bin"), dest, **kwargs)


def _ranges(server: _Server) -> list[str | None]:
    """The Range header of each request the server received, in order (None: no Range)."""
    return [headers.get("Range") for headers in server.requests]


def _log(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "srgan.datasets.download"]


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="srgan.datasets.download")
    return caplog


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str | None, object]]:
    """(Range header, timeout) of every urlopen call the downloader makes."""
    calls: list[tuple[str | None, object]] = []
    real = urllib.request.urlopen

    def spy(request: urllib.request.Request, *args: object, **kwargs: object):
        calls.append((request.get_header("Range"), kwargs.get("timeout", args[1] if len(args) > 1 else "none")))
        return real(request, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", spy)
    return calls


def test_fresh_download_sends_no_range_and_logs_one_line(server: _Server, tmp_path: Path, logged) -> None:
    server.files["/data.bin"] = PAYLOAD
    dest = tmp_path / "new" / "sub" / "data.bin"  # parents are made
    assert _get(server, dest, sha256=_sha(PAYLOAD).upper()) == _sha(PAYLOAD)  # any case accepted, lower returned
    assert dest.read_bytes() == PAYLOAD
    assert _ranges(server) == [None]
    assert _log(logged) == [("INFO", f"downloaded {server.url('/data.bin')} to {dest} (sha256 {_sha(PAYLOAD)})")]
    assert sorted(p.name for p in dest.parent.iterdir()) == ["data.bin"]


def test_existing_dest_without_sha256_is_kept(server: _Server, tmp_path: Path, logged) -> None:
    server.files["/data.bin"] = PAYLOAD
    dest = tmp_path / "data.bin"
    dest.write_bytes(b"older copy")
    assert _get(server, dest) == _sha(b"older copy")
    assert dest.read_bytes() == b"older copy" and server.requests == []
    assert _log(logged) == [("INFO", f"{dest} already present, not downloading {server.url('/data.bin')} again")]


def test_existing_dest_with_other_sha256_is_downloaded_again(server: _Server, tmp_path: Path, logged) -> None:
    server.files["/data.bin"] = PAYLOAD
    dest = tmp_path / "data.bin"
    dest.write_bytes(b"older copy")
    assert _get(server, dest, sha256=_sha(PAYLOAD)) == _sha(PAYLOAD)
    assert dest.read_bytes() == PAYLOAD and _ranges(server) == [None]
    assert _log(logged) == [
        ("WARNING", f"{dest} does not match the expected sha256, downloading it again"),
        ("INFO", f"downloaded {server.url('/data.bin')} to {dest} (sha256 {_sha(PAYLOAD)})"),
    ]


def test_cut_then_resume_exact_message_range_and_log(server: _Server, tmp_path: Path, logged, opened) -> None:
    server.files["/data.bin"] = PAYLOAD
    server.cut_after_bytes = 5000
    dest, part, url = tmp_path / "data.bin", tmp_path / "data.bin.part", server.url("/data.bin")
    with pytest.raises(SrganError) as err:
        _get(server, dest, sha256=_sha(PAYLOAD))
    assert str(err.value) == (
        f"the connection to {url} closed after 5000 of {len(PAYLOAD)} bytes; run again to resume from {part}, "
        f"or {FIX}"
    )
    assert part.read_bytes() == PAYLOAD[:5000] and not dest.exists()
    logged.clear()
    assert _get(server, dest, sha256=_sha(PAYLOAD), timeout_s=4.5) == _sha(PAYLOAD)
    assert dest.read_bytes() == PAYLOAD and not part.exists()
    assert _ranges(server) == [None, "bytes=5000-"]
    assert opened == [(None, TIMEOUT_S), ("bytes=5000-", 4.5)]
    assert _log(logged) == [
        ("INFO", f"{url}: resuming at byte 5000"),
        ("INFO", f"downloaded {url} to {dest} (sha256 {_sha(PAYLOAD)})"),
    ]


def test_ignored_range_restarts_in_the_same_request(server: _Server, tmp_path: Path, logged) -> None:
    server.files["/data.bin"] = PAYLOAD
    server.honor_range = False
    (tmp_path / "data.bin.part").write_bytes(b"stale bytes")
    url = server.url("/data.bin")
    assert _get(server, tmp_path / "data.bin", sha256=_sha(PAYLOAD)) == _sha(PAYLOAD)
    assert (tmp_path / "data.bin").read_bytes() == PAYLOAD
    assert _ranges(server) == ["bytes=11-"]  # the full body of that answer is used, no second request
    assert _log(logged) == [
        ("WARNING", f"{url}: server ignored the Range request, starting again from zero"),
        ("INFO", f"downloaded {url} to {tmp_path / 'data.bin'} (sha256 {_sha(PAYLOAD)})"),
    ]


def test_wrong_range_restarts_from_zero(server: _Server, tmp_path: Path, logged, opened) -> None:
    server.files["/data.bin"] = PAYLOAD
    server.wrong_range_once = True
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD[:5000])
    url = server.url("/data.bin")
    assert _get(server, tmp_path / "data.bin", timeout_s=4.5) == _sha(PAYLOAD)
    assert (tmp_path / "data.bin").read_bytes() == PAYLOAD
    assert opened == [("bytes=5000-", 4.5), (None, 4.5)]
    assert _ranges(server) == ["bytes=5000-", None]
    assert _log(logged) == [
        ("WARNING", f"{url}: server answered the wrong range, starting again from zero"),
        ("INFO", f"downloaded {url} to {tmp_path / 'data.bin'} (sha256 {_sha(PAYLOAD)})"),
    ]


def test_416_with_complete_part_uses_it(server: _Server, tmp_path: Path, logged) -> None:
    server.files["/data.bin"] = PAYLOAD
    part = tmp_path / "data.bin.part"
    part.write_bytes(PAYLOAD)
    url = server.url("/data.bin")
    assert _get(server, tmp_path / "data.bin", sha256=_sha(PAYLOAD)) == _sha(PAYLOAD)
    assert (tmp_path / "data.bin").read_bytes() == PAYLOAD and not part.exists()
    assert _ranges(server) == [f"bytes={len(PAYLOAD)}-"]
    assert _log(logged) == [
        ("INFO", f"{part}: the partial file is already complete"),
        ("INFO", f"downloaded {url} to {tmp_path / 'data.bin'} (sha256 {_sha(PAYLOAD)})"),
    ]


def test_416_with_longer_part_restarts_from_zero(server: _Server, tmp_path: Path, logged, opened) -> None:
    server.files["/data.bin"] = PAYLOAD
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD + b"extra")  # e.g. left by an older, longer version
    url = server.url("/data.bin")
    assert _get(server, tmp_path / "data.bin", timeout_s=4.5) == _sha(PAYLOAD)
    assert (tmp_path / "data.bin").read_bytes() == PAYLOAD
    assert opened == [(f"bytes={len(PAYLOAD) + 5}-", 4.5), (None, 4.5)]
    assert _log(logged) == [
        ("WARNING", f"{url}: server refused to resume, starting again from zero"),
        ("INFO", f"downloaded {url} to {tmp_path / 'data.bin'} (sha256 {_sha(PAYLOAD)})"),
    ]


def test_416_without_a_range_request_is_an_error(server: _Server, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    server.always_416 = True
    with pytest.raises(SrganError) as err:
        _get(server, tmp_path / "data.bin")
    assert str(err.value) == (
        f"could not download {server.url('/data.bin')} (HTTP 416 Requested Range Not Satisfiable); {FIX}"
    )
    assert _ranges(server) == [None] and list(tmp_path.iterdir()) == []


def test_http_404_with_a_part_keeps_it(server: _Server, tmp_path: Path) -> None:
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD[:100])
    with pytest.raises(SrganError) as err:
        _get(server, tmp_path / "data.bin")
    assert str(err.value) == f"could not download {server.url('/data.bin')} (HTTP 404 Not Found); {FIX}"
    assert _ranges(server) == ["bytes=100-"]
    assert (tmp_path / "data.bin.part").read_bytes() == PAYLOAD[:100]


@pytest.mark.parametrize(("extra", "ranges"), [(0, [f"bytes={len(PAYLOAD)}-"]), (1, [None])])
def test_part_longer_than_size_bytes_is_dropped(server: _Server, tmp_path: Path, extra: int, ranges) -> None:
    server.files["/data.bin"] = PAYLOAD
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD + b"x" * extra)
    assert _get(server, tmp_path / "data.bin", size_bytes=len(PAYLOAD)) == _sha(PAYLOAD)
    assert _ranges(server) == ranges
    assert (tmp_path / "data.bin").read_bytes() == PAYLOAD


@pytest.mark.parametrize("size_bytes", [len(PAYLOAD) - 1, len(PAYLOAD) + 1])
def test_size_bytes_mismatch_message(server: _Server, tmp_path: Path, size_bytes: int) -> None:
    server.files["/data.bin"] = PAYLOAD
    with pytest.raises(SrganError) as err:
        _get(server, tmp_path / "data.bin", size_bytes=size_bytes)
    assert str(err.value) == (
        f"{server.url('/data.bin')} downloaded with size {len(PAYLOAD)} bytes but {size_bytes} bytes was expected, "
        f"so the file was deleted; fix the expected value or {FIX}"
    )
    assert list(tmp_path.iterdir()) == []


def test_size_bytes_equal_is_accepted(server: _Server, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    assert _get(server, tmp_path / "data.bin", size_bytes=len(PAYLOAD)) == _sha(PAYLOAD)
    assert (tmp_path / "data.bin").read_bytes() == PAYLOAD


def test_sha256_mismatch_message(server: _Server, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    want = "AB" * 32
    with pytest.raises(SrganError) as err:
        _get(server, tmp_path / "data.bin", sha256=want)
    assert str(err.value) == (
        f"{server.url('/data.bin')} downloaded with sha256 {_sha(PAYLOAD)} but {want.lower()} was expected, "
        f"so the file was deleted; fix the expected value or {FIX}"
    )
    assert list(tmp_path.iterdir()) == []


def test_more_bytes_than_announced_are_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def transfer(url: str, part: Path, timeout_s: float, progress: bool):
        part.write_bytes(b"x" * 11)
        return hashlib.sha256(b"x" * 11), 10

    monkeypatch.setattr(download_module, "_transfer", transfer)
    with pytest.raises(SrganError) as err:
        download_file("http://127.0.0.1:9/f.bin", tmp_path / "f.bin", progress=False)
    assert str(err.value) == (
        "http://127.0.0.1:9/f.bin downloaded with size 11 bytes but 10 bytes was expected, so the file was "
        f"deleted; fix the expected value or {FIX}"
    )
    assert list(tmp_path.iterdir()) == []


def test_default_timeout_is_30_s(server: _Server, tmp_path: Path, opened) -> None:
    server.files["/data.bin"] = PAYLOAD
    download_file(server.url("/data.bin"), tmp_path / "data.bin", progress=False)
    assert opened == [(None, 30.0)]


def test_server_down_message(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/data.bin"
    with pytest.raises(SrganError) as err:
        download_file(url, tmp_path / "data.bin", timeout_s=TIMEOUT_S, progress=False)
    refused = f"[Errno {errno.ECONNREFUSED}] {os.strerror(errno.ECONNREFUSED)}"
    assert str(err.value) == f"could not download {url} ({refused}); check the network, or {FIX}"


@pytest.fixture
def raw_server() -> Iterator[tuple[str, list[str]]]:
    """A TCP server that reads a request, then closes at once ("close") or says nothing for 3 s ("silent")."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    mode: list[str] = ["silent"]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(3.0)
                try:
                    conn.recv(65536)
                    if mode[0] == "silent":
                        stop.wait(3.0)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/data.bin", mode
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_silent_server_times_out_after_timeout_s(tmp_path: Path, raw_server) -> None:
    url, _ = raw_server
    start = time.monotonic()
    with pytest.raises(SrganError) as err:
        download_file(url, tmp_path / "data.bin", timeout_s=0.3, progress=False)
    assert time.monotonic() - start < 2.0  # the server would hang up after 3 s
    assert str(err.value) == f"could not download {url} (timed out); check the network, or {FIX}"


def test_server_closing_without_answer_message(tmp_path: Path, raw_server) -> None:
    url, mode = raw_server
    mode[0] = "close"
    with pytest.raises(SrganError) as err:
        download_file(url, tmp_path / "data.bin", timeout_s=TIMEOUT_S, progress=False)
    assert str(err.value) == (
        f"could not download {url} (Remote end closed connection without response); check the network, or {FIX}"
    )


@pytest.fixture
def bars(record_bars) -> list[dict]:
    return record_bars(download_module)


@pytest.mark.parametrize("progress", [True, False])
def test_progress_bar_of_a_resumed_download(server: _Server, tmp_path: Path, bars, progress: bool) -> None:
    server.files["/data.bin"] = PAYLOAD
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD[:5000])
    _get(server, tmp_path / "data.bin", progress=progress)
    assert bars == [{
        "kwargs": {"total": len(PAYLOAD), "initial": 5000, "unit": "B", "unit_scale": True, "unit_divisor": 1024,
                   "desc": "data.bin", "disable": not progress},
        "updates": len(PAYLOAD) - 5000,
    }]


@pytest.mark.parametrize("progress", [True, False])
def test_fetch_archive_passes_progress_and_unquotes_the_name(server: _Server, tmp_path: Path, bars,
                                                            progress: bool) -> None:
    data = _good_tar_gz(tmp_path / "src.tar.gz")
    server.files["/sets/Set%205_HR.tar.gz"] = data
    target = tmp_path / "data" / "Set5"
    kwargs = {} if progress else {"progress": False}
    fetch_archive(server.url("/sets/Set%205_HR.tar.gz"), target, sha256=None, cache_dir=tmp_path / "cache", **kwargs)
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["Set 5_HR.tar.gz"]
    assert (tmp_path / "cache" / "Set 5_HR.tar.gz").read_bytes() == data
    assert [(b["kwargs"]["desc"], b["kwargs"]["disable"]) for b in bars] == [("Set 5_HR.tar.gz", not progress)]


def test_fetch_archive_passes_sha256(server: _Server, tmp_path: Path) -> None:
    server.files["/Set5_HR.tar.gz"] = data = _good_tar_gz(tmp_path / "src.tar.gz")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "Set5_HR.tar.gz").write_bytes(b"not it")  # kept only if no sha256 reached download_file
    digest = fetch_archive(server.url("/Set5_HR.tar.gz"), tmp_path / "Set5", sha256=_sha(data),
                           cache_dir=tmp_path / "cache", progress=False)
    assert digest == _sha(data) and (tmp_path / "Set5" / "HR" / "a.png").read_bytes() == b"aaa"


def test_fetch_archive_url_without_file_name(tmp_path: Path) -> None:
    with pytest.raises(SrganError) as err:
        fetch_archive("http://127.0.0.1:9/", tmp_path / "x", sha256=None, cache_dir=tmp_path / "c")
    assert str(err.value) == f"http://127.0.0.1:9/ does not end in an archive file name; {FIX}"
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- safe_extract, exact


@pytest.mark.parametrize(
    ("member", "why"),
    [
        ("/abs.txt", "absolute path"),
        ("C:\\evil.txt", "absolute path"),
        ("C:evil.txt", "absolute path"),
        ("\\\\server\\share\\evil.txt", "absolute path"),
        ("../evil.txt", "'..' in its path"),
        ("a/../../evil.txt", "'..' in its path"),
        ("a/../b.txt", "'..' in its path"),
        ("a\\..\\..\\evil.txt", "'..' in its path"),
    ],
)
def test_safe_extract_unsafe_name_message(tmp_path: Path, member: str, why: str) -> None:
    archive = tmp_path / "bad.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo(member)
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    with pytest.raises(SrganError) as err:
        safe_extract(archive, tmp_path / "out" / "Set5")
    assert str(err.value) == f"{archive} has an unsafe member {member!r} ({why}); use a trusted archive instead"
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("kind", ["symlink", "hardlink", "fifo"])
def test_safe_extract_tar_link_or_special_message(tmp_path: Path, kind: str) -> None:
    info = tarfile.TarInfo("odd")
    info.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE}[kind]
    info.linkname = "ok.txt" if kind != "fifo" else ""
    archive = tmp_path / "bad.tgz"
    _tar_gz(archive, [(tarfile.TarInfo("ok.txt"), b"ok"), (info, None)])
    with pytest.raises(SrganError) as err:
        safe_extract(archive, tmp_path / "out")
    assert str(err.value) == (
        f"{archive} has an unsafe member 'odd' (link or special file); use a trusted archive instead"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("file_type", [stat.S_IFLNK, stat.S_IFIFO, stat.S_IFCHR, stat.S_IFBLK, stat.S_IFSOCK])
def test_safe_extract_zip_link_or_special_message(tmp_path: Path, file_type: int) -> None:
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("odd")
        info.create_system = 3
        info.external_attr = (file_type | 0o644) << 16
        zf.writestr(info, "x")
    with pytest.raises(SrganError) as err:
        safe_extract(archive, tmp_path / "out")
    assert str(err.value) == (
        f"{archive} has an unsafe member 'odd' (link or special file); use a trusted archive instead"
    )


def test_safe_extract_zip_with_unix_modes(tmp_path: Path) -> None:
    archive = tmp_path / "Good.ZIP"  # the suffix in any case
    with zipfile.ZipFile(archive, "w") as zf:
        zf.mkdir("HR", mode=0o755)
        info = zipfile.ZipInfo("HR/a.png")
        info.create_system = 3
        info.external_attr = (stat.S_IFREG | 0o644) << 16
        zf.writestr(info, b"aaa")
    target = tmp_path / "out"
    assert safe_extract(archive, target) == target
    assert (target / "HR" / "a.png").read_bytes() == b"aaa"


@pytest.mark.parametrize("name", ["good.tgz", "good.tar", "GOOD.TAR.GZ"])
def test_safe_extract_tar_suffixes(tmp_path: Path, name: str) -> None:
    archive = tmp_path / name
    with tarfile.open(archive, "w:gz" if name.lower().endswith("gz") else "w") as tar:
        info = tarfile.TarInfo("HR/a.png")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"aaa"))
    assert safe_extract(archive, tmp_path / "out") == tmp_path / "out"
    assert (tmp_path / "out" / "HR" / "a.png").read_bytes() == b"aaa"


@pytest.mark.parametrize("name", ["set.rar", "set.gz", "set.7z", "zip"])
def test_safe_extract_unknown_suffix_message(tmp_path: Path, name: str) -> None:
    archive = tmp_path / name
    archive.write_bytes(b"data")
    with pytest.raises(SrganError) as err:
        safe_extract(archive, tmp_path / "out")
    assert str(err.value) == f"{archive} is not a .zip, .tar, .tar.gz or .tgz archive; {FIX}"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["broken.zip", "broken.tar.gz", "broken.tar"])
def test_safe_extract_damaged_archive_message_keeps_target(tmp_path: Path, name: str) -> None:
    archive = tmp_path / name
    good = tmp_path / ("good.zip" if name.endswith(".zip") else "good.tar.gz")
    if name.endswith(".zip"):
        with zipfile.ZipFile(good, "w") as zf:
            zf.writestr("a.txt", b"a" * 1000)
        archive.write_bytes(good.read_bytes()[:-30])
    elif name.endswith(".gz"):
        data = _good_tar_gz(good)
        archive.write_bytes(data[: len(data) // 2])
    else:
        archive.write_bytes(b"not a tar at all" * 64)
    target = tmp_path / "data" / "Set5"
    target.mkdir(parents=True)
    (target / "keep.png").write_bytes(b"keep")
    with pytest.raises(SrganError) as err:
        safe_extract(archive, target)
    assert str(err.value) == f"{archive} is damaged or not a valid archive; delete it and download again"
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["Set5"]
    assert [p.name for p in target.iterdir()] == ["keep.png"]


def test_safe_extract_works_in_a_hidden_sibling_and_logs(tmp_path: Path, monkeypatch, logged) -> None:
    archive = tmp_path / "good.tar.gz"
    _good_tar_gz(archive)
    target = tmp_path / "data" / "Set5"
    roots: list[Path] = []
    real = download_module._extract_tar

    def spy(archive_path: Path, root: Path) -> None:
        roots.append(root)
        real(archive_path, root)

    monkeypatch.setattr(download_module, "_extract_tar", spy)
    safe_extract(archive, target)
    assert len(roots) == 1
    assert roots[0].parent == target.parent.resolve() and roots[0].name.startswith(".tmp-Set5-")
    assert sorted(p.name for p in target.parent.iterdir()) == ["Set5"]
    assert _log(logged) == [("INFO", f"extracted {archive} into {target}")]


@pytest.mark.parametrize("kind", ["file", "dir_symlink", "broken_symlink"])
def test_safe_extract_replaces_a_file_or_link_target(tmp_path: Path, kind: str) -> None:
    archive = tmp_path / "good.tar.gz"
    _good_tar_gz(archive)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious.txt").write_bytes(b"keep me")
    target = tmp_path / "data" / "Set5"
    target.parent.mkdir()
    if kind == "file":
        target.write_bytes(b"a file")
    else:
        target.symlink_to(elsewhere if kind == "dir_symlink" else tmp_path / "gone")
    safe_extract(archive, target)
    assert target.is_dir() and not target.is_symlink()
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*")) == ["HR", "HR/a.png", "b.txt"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["Set5"]
    assert (elsewhere / "precious.txt").read_bytes() == b"keep me"  # a link's target is never deleted


# ---------------------------------------------------------------- mutation tests, second pass (issue 33)


@pytest.mark.parametrize("progress", [True, False])
@pytest.mark.parametrize("refusal", ["416", "wrong_range"])
def test_a_restarted_download_keeps_the_progress_setting(server: _Server, tmp_path: Path, bars, refusal: str,
                                                         progress: bool) -> None:
    server.files["/data.bin"] = PAYLOAD
    if refusal == "416":
        (tmp_path / "data.bin.part").write_bytes(PAYLOAD + b"extra")  # longer than the file: 416, then from zero
    else:
        server.wrong_range_once = True
        (tmp_path / "data.bin.part").write_bytes(PAYLOAD[:5000])
    assert _get(server, tmp_path / "data.bin", progress=progress) == _sha(PAYLOAD)
    assert _ranges(server)[1:] == [None]  # the restart: one bar, for the second request
    assert bars == [{
        "kwargs": {"total": len(PAYLOAD), "initial": 0, "unit": "B", "unit_scale": True, "unit_divisor": 1024,
                   "desc": "data.bin", "disable": not progress},
        "updates": len(PAYLOAD),
    }]


def test_download_file_shows_progress_by_default(server: _Server, tmp_path: Path, bars) -> None:
    server.files["/data.bin"] = PAYLOAD
    download_file(server.url("/data.bin"), tmp_path / "data.bin", timeout_s=TIMEOUT_S)
    assert [(b["kwargs"]["disable"], b["updates"]) for b in bars] == [(False, len(PAYLOAD))]


def test_206_without_content_range_restarts_from_zero(server: _Server, tmp_path: Path, logged) -> None:
    server.files["/data.bin"] = PAYLOAD
    server.send_content_range = False  # which bytes came back is unknown, so none of the part can be trusted
    (tmp_path / "data.bin.part").write_bytes(b"x" * 5000)
    url = server.url("/data.bin")
    assert _get(server, tmp_path / "data.bin", sha256=_sha(PAYLOAD)) == _sha(PAYLOAD)
    assert (tmp_path / "data.bin").read_bytes() == PAYLOAD
    assert _ranges(server) == ["bytes=5000-", None]
    assert _log(logged) == [
        ("WARNING", f"{url}: server answered the wrong range, starting again from zero"),
        ("INFO", f"downloaded {url} to {tmp_path / 'data.bin'} (sha256 {_sha(PAYLOAD)})"),
    ]


@pytest.mark.parametrize("size_bytes", [None, len(PAYLOAD)])
def test_answer_without_content_length(server: _Server, tmp_path: Path, bars, size_bytes: int | None) -> None:
    server.files["/data.bin"] = PAYLOAD
    server.send_content_length = False  # the body ends when the server closes the connection
    assert _get(server, tmp_path / "data.bin", size_bytes=size_bytes) == _sha(PAYLOAD)
    assert (tmp_path / "data.bin").read_bytes() == PAYLOAD
    assert [(b["kwargs"]["total"], b["updates"]) for b in bars] == [(None, len(PAYLOAD))]  # a bar without a total


def test_check_name_refuses_a_name_that_resolves_outside_the_root(tmp_path: Path) -> None:
    """The last line of defence: a root that already holds a link out of it. safe_extract itself checks names
    against a fresh, empty folder, so the earlier checks (absolute, '..') refuse every escape there first."""
    root, elsewhere = tmp_path.resolve() / "root", tmp_path.resolve() / "elsewhere"
    (root / "sub").mkdir(parents=True)
    elsewhere.mkdir()
    (root / "out").symlink_to(elsewhere)
    (root / "in").symlink_to(root / "sub")
    archive = tmp_path / "set.tar"
    download_module._check_name(archive, "in/ok.txt", root)  # a link that stays inside is fine
    with pytest.raises(SrganError) as err:
        download_module._check_name(archive, "out/evil.txt", root)
    assert str(err.value) == (
        f"{archive} has an unsafe member 'out/evil.txt' (resolves outside the target); use a trusted archive instead"
    )


@pytest.mark.parametrize(
    ("member", "why"),
    [("/abs.txt", "absolute path"), ("C:\\evil.txt", "absolute path"), ("../evil.txt", "'..' in its path")],
)
def test_safe_extract_unsafe_zip_name_message(tmp_path: Path, member: str, why: str) -> None:
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok.txt", b"ok")
        zf.writestr(member, b"evil")
    with pytest.raises(SrganError) as err:
        safe_extract(archive, tmp_path / "out" / "Set5")
    assert str(err.value) == f"{archive} has an unsafe member {member!r} ({why}); use a trusted archive instead"
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("name", ["good.zip", "good.tar.gz"])
def test_safe_extract_makes_missing_parents(tmp_path: Path, name: str) -> None:
    archive = tmp_path / name
    _good_archive(archive)
    target = tmp_path / "data" / "DIV2K" / "valid" / "Set5"  # none of data/DIV2K/valid exists yet
    assert safe_extract(archive, target) == target
    assert (target / "HR" / "a.png").read_bytes() == b"aaa"
    assert sorted(p.name for p in target.parent.iterdir()) == ["Set5"]


def test_old_target_is_moved_aside_to_a_hidden_sibling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The old target goes to .old-<name>-<suffix> (the temporary folder's name with its first '.tmp-' swapped),
    then the new one moves in: a crash in between leaves a hidden, recognisable copy, not a second visible set."""
    archive = tmp_path / "good.tar.gz"
    _good_tar_gz(archive)
    target = tmp_path / "data" / "Set5.tmp-1"  # a name that itself holds '.tmp-' keeps it
    target.mkdir(parents=True)
    (target / "old.txt").write_text("old")
    moves: list[tuple[Path, Path]] = []
    real = os.replace

    def spy(src: Path, dst: Path) -> None:
        moves.append((Path(src), Path(dst)))
        real(src, dst)

    monkeypatch.setattr(download_module.os, "replace", spy)
    safe_extract(archive, target)
    assert len(moves) == 2
    (moved, old), (tmp, new) = moves
    assert (moved, new) == (target, target)
    assert tmp.parent == target.parent.resolve() and tmp.name.startswith(".tmp-Set5.tmp-1-")
    assert old == tmp.with_name(".old-" + tmp.name.removeprefix(".tmp-"))
    assert sorted(p.name for p in target.parent.iterdir()) == ["Set5.tmp-1"]
    assert sorted(p.name for p in target.iterdir()) == ["HR", "b.txt"]


def _modes_tar(path: Path) -> None:
    """A tar of plain files whose modes carry setuid/setgid, group/other write, or no owner access."""
    with tarfile.open(path, "w") as tar:
        for name, mode in [("setuid", 0o6777), ("shared", 0o666), ("locked", 0o000)]:
            info = tarfile.TarInfo(name)
            info.size, info.mode = 1, mode
            tar.addfile(info, io.BytesIO(b"x"))


@pytest.mark.skipif(not hasattr(tarfile, "data_filter"), reason="this Python has no tarfile data filter")
def test_safe_extract_tar_uses_the_data_filter(tmp_path: Path) -> None:
    archive = tmp_path / "modes.tar"
    _modes_tar(archive)
    safe_extract(archive, tmp_path / "out")
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "out").iterdir()}
    # tarfile's 'data' filter: mode & 0o755, no exec bits unless the owner's, owner read/write added.
    assert modes == {"setuid": 0o755, "shared": 0o644, "locked": 0o600}


def test_safe_extract_tar_without_data_filter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Python before 3.10.12 / 3.11.4 has no tarfile.data_filter: the members still go into the target."""
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    archive = tmp_path / "good.tar.gz"
    _good_tar_gz(archive)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    target = tmp_path / "data" / "Set5"
    assert safe_extract(archive, target) == target
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*")) == ["HR", "HR/a.png", "b.txt"]
    assert list((tmp_path / "cwd").iterdir()) == []
    assert sorted(p.name for p in target.parent.iterdir()) == ["Set5"]


def test_safe_extract_tar_without_data_filter_drops_setuid_and_shared_write(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    monkeypatch.chdir(tmp_path)  # so a fallback that extracted into the working directory writes nothing outside
    archive = tmp_path / "modes.tar"
    _modes_tar(archive)
    safe_extract(archive, tmp_path / "out")
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "out").iterdir()}
    assert modes == {"setuid": 0o755, "shared": 0o644, "locked": 0o000}  # mode & 0o755, nothing added
