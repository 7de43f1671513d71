"""Download, resume, checksum and safe extraction, against a real HTTP server on loopback."""

from __future__ import annotations

import hashlib
import io
import socket
import stat
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

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

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.requests.append(dict(self.headers))
        payload = self.server.files.get(self.path)
        if payload is None:
            self.send_error(404)
            return
        start, range_header = 0, self.headers.get("Range")
        if range_header and self.server.honor_range:
            start = int(range_header.removeprefix("bytes=").split("-")[0])
            if start >= len(payload):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(payload)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(payload) - 1}/{len(payload)}")
        else:
            self.send_response(200)
        body = payload[start:]
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
    thread.join()


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
    if name.endswith(".zip"):
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr("HR/a.png", b"aaa")
            zf.writestr("b.txt", b"bb")
    else:
        _good_tar_gz(archive)
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
