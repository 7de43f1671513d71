"""Tests for srgan.datasets.prepare: skimage, folder and download sources (a real HTTP server on loopback),
known-set counts, ignored hidden files and __MACOSX/, one image in memory at a time."""

from __future__ import annotations

import functools
import hashlib
import io
import json
import tarfile
import threading
import weakref
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import srgan.datasets.prepare
from srgan.core.config import DatasetParams
from srgan.core.errors import SrganError
from srgan.core.images import bicubic_downscale, mod_crop, read_image
from srgan.datasets.prepare import folder_eval_images, known_set, prepare_dataset
from srgan.datasets.prepared import load_eval_set, load_train_set

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def _ds(source: str, images: tuple[str, ...] = (), path: str = "", url: str = "", sha256: str = "") -> DatasetParams:
    return DatasetParams(source=source, images=images, path=path, url=url, sha256=sha256)


def _smooth(h: int, w: int, shift: int = 0) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([(xx * 5 + shift) % 256, (yy * 3) % 256, (xx + yy + shift) % 256], axis=2).astype(np.uint8)


def _png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


# Test images: one colour with a size that is not a multiple of 4, one grayscale.
HR_IMAGES = {
    "alpha": _smooth(26, 35),
    "beta": _smooth(24, 32, shift=40)[:, :, 0],
}


def _write_hr_folder(root: Path, with_lr: bool = False) -> dict[str, np.ndarray]:
    """root/HR/<name>.png, and root/LRbicx4/<name>.png (random, so provenance shows) if asked."""
    (root / "HR").mkdir(parents=True)
    lr_written = {}
    for i, (name, arr) in enumerate(HR_IMAGES.items()):
        (root / "HR" / f"{name}.png").write_bytes(_png_bytes(arr))
        if with_lr:
            (root / "LRbicx4").mkdir(exist_ok=True)
            h, w = arr.shape[0] // 4, arr.shape[1] // 4
            lr = np.random.default_rng(i).integers(0, 256, (h, w, 3), dtype=np.uint8)
            (root / "LRbicx4" / f"{name}.png").write_bytes(_png_bytes(lr))
            lr_written[name] = lr
    return lr_written


def _expected_hr(name: str) -> np.ndarray:
    arr = HR_IMAGES[name]
    rgb = np.repeat(arr[:, :, None], 3, axis=2) if arr.ndim == 2 else arr
    return mod_crop(rgb, 4)


# ---------------------------------------------------------------- skimage


def test_prepare_skimage(tmp_path: Path) -> None:
    out = tmp_path / "prepared" / "sample"
    manifest = prepare_dataset("mini", _ds("skimage", ("camera", "chelsea")), 4, out, tmp_path / "cache")
    assert [e["name"] for e in manifest["images"]] == ["camera", "chelsea"]
    assert manifest["scale"] == 4 and manifest["source"] == "skimage.data"
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8")) == manifest
    by_name = {e["name"]: e for e in manifest["images"]}
    assert by_name["camera"]["gray"] is True and by_name["chelsea"]["gray"] is False
    assert by_name["chelsea"]["hr_hw"] == [300, 448]  # 300x451 mod-cropped
    with Image.open(out / "HR" / "camera.png") as cam, Image.open(out / "HR" / "chelsea.png") as cat:
        assert cam.mode == "L" and cat.mode == "RGB"
        assert cam.size == (512, 512) and cat.size == (448, 300)
    pairs = {p.name: p for p in load_eval_set(out, 4)}
    assert pairs["chelsea"].lr_u8.shape == (75, 112, 3)
    assert pairs["camera"].lr_u8.shape == (128, 128, 3)
    from skimage import data as skdata

    np.testing.assert_array_equal(pairs["chelsea"].hr_u8, skdata.chelsea()[:300, :448])
    np.testing.assert_array_equal(pairs["chelsea"].lr_u8, bicubic_downscale(pairs["chelsea"].hr_u8, 4))
    np.testing.assert_array_equal(pairs["camera"].hr_u8[:, :, 1], skdata.camera())
    assert not (tmp_path / "cache").exists()  # nothing downloaded or cached


def test_prepare_skimage_unknown_name(tmp_path: Path) -> None:
    out = tmp_path / "sample"
    with pytest.raises(SrganError) as info:
        prepare_dataset("mini", _ds("skimage", ("camera", "lena")), 4, out, tmp_path / "cache")
    message = str(info.value)
    assert "'lena'" in message
    for name in ("astronaut", "camera", "chelsea", "motorcycle_right"):
        assert name in message  # lists the valid names
    assert not out.exists()


# ---------------------------------------------------------------- folder


def test_prepare_folder_hr_only_generates_lr(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _write_hr_folder(src)
    out = tmp_path / "prepared"
    manifest = prepare_dataset("mini", _ds("folder", path=str(src)), 4, out, tmp_path / "cache")
    assert [e["name"] for e in manifest["images"]] == ["alpha", "beta"]
    assert [e["gray"] for e in manifest["images"]] == [False, True]
    assert manifest["images"][0]["hr_hw"] == [24, 32]
    assert manifest["source"] == str(src.resolve())
    for pair in load_eval_set(out, 4):
        np.testing.assert_array_equal(pair.hr_u8, _expected_hr(pair.name))
        np.testing.assert_array_equal(pair.lr_u8, bicubic_downscale(_expected_hr(pair.name), 4))
    with Image.open(out / "LR" / "beta.png") as lr_gray:
        assert lr_gray.mode == "L"


def test_prepare_folder_with_lr_uses_files(tmp_path: Path) -> None:
    src = tmp_path / "src"
    lr_written = _write_hr_folder(src, with_lr=True)
    out = tmp_path / "prepared"
    prepare_dataset("mini", _ds("folder", path=str(src)), 4, out, tmp_path / "cache")
    pairs = {p.name: p for p in load_eval_set(out, 4)}
    np.testing.assert_array_equal(pairs["alpha"].lr_u8, lr_written["alpha"])
    # beta is gray in HR, so its LR is stored as one channel: the first channel of the file.
    np.testing.assert_array_equal(pairs["beta"].lr_u8[:, :, 0], lr_written["beta"][:, :, 0])


def test_prepare_folder_selected_images(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _write_hr_folder(src)
    manifest = prepare_dataset("mini", _ds("folder", ("beta",), path=str(src)), 4, tmp_path / "out", tmp_path / "c")
    assert [e["name"] for e in manifest["images"]] == ["beta"]
    with pytest.raises(SrganError, match="'gamma'"):
        prepare_dataset("mini", _ds("folder", ("beta", "gamma"), path=str(src)), 4, tmp_path / "out2", tmp_path / "c")
    assert not (tmp_path / "out2").exists()


def test_prepare_folder_without_hr_subfolder(tmp_path: Path) -> None:
    src = tmp_path / "flat"
    src.mkdir()
    (src / "one.png").write_bytes(_png_bytes(_smooth(16, 20)))
    (src / "readme.txt").write_text("not an image", encoding="utf-8")
    manifest = prepare_dataset("mini", _ds("folder", path=str(src)), 4, tmp_path / "out", tmp_path / "c")
    assert [e["name"] for e in manifest["images"]] == ["one"]


def test_prepare_folder_lr_wrong_size(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _write_hr_folder(src)
    (src / "LRbicx4").mkdir()
    (src / "LRbicx4" / "alpha.png").write_bytes(_png_bytes(_smooth(7, 7)))
    out = tmp_path / "out"
    with pytest.raises(SrganError, match="alpha"):
        prepare_dataset("mini", _ds("folder", path=str(src)), 4, out, tmp_path / "c")
    assert not out.exists()


def test_prepare_folder_empty(tmp_path: Path) -> None:
    (tmp_path / "empty" / "HR").mkdir(parents=True)
    with pytest.raises(SrganError, match="no images") as info:
        prepare_dataset("mini", _ds("folder", path=str(tmp_path / "empty")), 4, tmp_path / "out", tmp_path / "c")
    assert str(tmp_path / "empty" / "HR") in str(info.value)
    assert not (tmp_path / "out").exists()


def test_prepare_folder_missing(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(SrganError, match="does not exist") as info:
        prepare_dataset("mini", _ds("folder", path=str(missing)), 4, tmp_path / "out", tmp_path / "c")
    assert str(missing) in str(info.value)
    assert not (tmp_path / "out").exists()


def test_prepare_folder_corrupt_image(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _write_hr_folder(src)
    (src / "HR" / "broken.png").write_bytes(_png_bytes(_smooth(40, 40))[:60])
    with pytest.raises(SrganError, match="broken.png"):
        prepare_dataset("mini", _ds("folder", path=str(src)), 4, tmp_path / "out", tmp_path / "c")
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- folder_eval_images


def test_folder_eval_images(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _write_hr_folder(src)
    pairs = {p.name: p for p in folder_eval_images(src, 4)}
    assert sorted(pairs) == ["alpha", "beta"]
    assert pairs["beta"].gray is True and pairs["alpha"].gray is False
    np.testing.assert_array_equal(pairs["alpha"].hr_u8, _expected_hr("alpha"))
    np.testing.assert_array_equal(pairs["alpha"].lr_u8, bicubic_downscale(_expected_hr("alpha"), 4))


def test_folder_eval_images_with_lr(tmp_path: Path) -> None:
    src = tmp_path / "src"
    lr_written = _write_hr_folder(src, with_lr=True)
    pairs = {p.name: p for p in folder_eval_images(src, 4)}
    np.testing.assert_array_equal(pairs["alpha"].lr_u8, lr_written["alpha"])


def test_folder_eval_images_lr_mismatch(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _write_hr_folder(src)
    (src / "LRbicx4").mkdir()
    (src / "LRbicx4" / "beta.png").write_bytes(_png_bytes(_smooth(3, 3)))
    with pytest.raises(SrganError, match="beta"):
        folder_eval_images(src, 4)


def test_folder_eval_images_set14() -> None:
    root = SHARED_DATA / "Set14"
    if not (root / "HR").is_dir():
        pytest.skip(f"{root} is absent")
    pairs = {p.name: p for p in folder_eval_images(root, 4)}
    assert len(pairs) == 14
    assert pairs["bridge"].gray is True
    for pair in pairs.values():
        assert pair.hr_u8.shape[0] % 4 == 0 and pair.hr_u8.shape[1] % 4 == 0
        assert pair.lr_u8.shape == (pair.hr_u8.shape[0] // 4, pair.hr_u8.shape[1] // 4, 3)


# ---------------------------------------------------------------- download


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on 127.0.0.1 (ephemeral port): (folder, base URL)."""
    root = tmp_path / "served"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _zip_of_hr(path: Path, top: str = "") -> bytes:
    with zipfile.ZipFile(path, "w") as zf:
        for name, arr in HR_IMAGES.items():
            zf.writestr(f"{top}HR/{name}.png", _png_bytes(arr))
    return path.read_bytes()


def _tgz_of_hr_and_lr(path: Path, top: str) -> dict[str, np.ndarray]:
    lr_written = {}
    with tarfile.open(path, "w:gz") as tar:
        for i, (name, arr) in enumerate(HR_IMAGES.items()):
            lr_shape = (arr.shape[0] // 4, arr.shape[1] // 4, 3)
            lr = np.random.default_rng(10 + i).integers(0, 256, lr_shape, dtype=np.uint8)
            lr_written[name] = lr
            for sub, data in (("HR", _png_bytes(arr)), ("LRbicx4", _png_bytes(lr))):
                info = tarfile.TarInfo(f"{top}{sub}/{name}.png")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return lr_written


def test_prepare_download_zip(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    served, base = http_root
    data = _zip_of_hr(served / "Mini_HR.zip")
    digest = hashlib.sha256(data).hexdigest()
    out = tmp_path / "prepared" / "mini"
    cache = tmp_path / "cache"
    manifest = prepare_dataset("mini", _ds("download", url=f"{base}/Mini_HR.zip", sha256=digest), 4, out, cache)
    assert [e["name"] for e in manifest["images"]] == ["alpha", "beta"]
    assert digest in manifest["source"] and "Mini_HR.zip" in manifest["source"]
    for pair in load_eval_set(out, 4):
        np.testing.assert_array_equal(pair.hr_u8, _expected_hr(pair.name))
        np.testing.assert_array_equal(pair.lr_u8, bicubic_downscale(_expected_hr(pair.name), 4))
    kept = list(cache.rglob("Mini_HR.zip"))  # the archive is kept for the next run, one folder per URL
    assert len(kept) == 1 and kept[0].read_bytes() == data


def test_prepare_download_tar_gz_with_top_folder_and_lr(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    served, base = http_root
    lr_written = _tgz_of_hr_and_lr(served / "Mini.tar.gz", top="Mini/")
    out = tmp_path / "prepared"
    # No sha256 given: the seen one is recorded in the manifest.
    manifest = prepare_dataset("mini", _ds("download", url=f"{base}/Mini.tar.gz"), 4, out, tmp_path / "cache")
    digest = hashlib.sha256((served / "Mini.tar.gz").read_bytes()).hexdigest()
    assert f"sha256={digest}" in manifest["source"]
    pairs = {p.name: p for p in load_eval_set(out, 4)}
    np.testing.assert_array_equal(pairs["alpha"].lr_u8, lr_written["alpha"])  # LR from the archive
    assert [image.name for image in load_train_set(out, 4)] == ["alpha", "beta"]


def test_prepare_download_wrong_sha256(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    served, base = http_root
    _zip_of_hr(served / "Mini_HR.zip")
    out = tmp_path / "prepared"
    cache = tmp_path / "cache"
    with pytest.raises(SrganError, match="sha256"):
        prepare_dataset("mini", _ds("download", url=f"{base}/Mini_HR.zip", sha256="0" * 64), 4, out, cache)
    assert not out.exists()
    assert not list(cache.rglob("Mini_HR.zip"))
    assert not list(cache.rglob("extracted"))


def test_prepare_download_missing_url(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    _, base = http_root
    out = tmp_path / "prepared"
    with pytest.raises(SrganError, match="404"):
        prepare_dataset("mini", _ds("download", url=f"{base}/absent.zip"), 4, out, tmp_path / "cache")
    assert not out.exists()


def test_prepare_download_archive_without_images(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    served, base = http_root
    with zipfile.ZipFile(served / "Docs.zip", "w") as zf:
        zf.writestr("Docs/HR/readme.txt", "no images here")
    out = tmp_path / "prepared"
    with pytest.raises(SrganError, match="no images"):
        prepare_dataset("mini", _ds("download", url=f"{base}/Docs.zip"), 4, out, tmp_path / "cache")
    assert not out.exists()


def test_prepare_download_flat_archive(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    # A flat archive (DIV2K style: images in one top folder, no HR/) is read too.
    served, base = http_root
    with zipfile.ZipFile(served / "Flat_HR.zip", "w") as zf:
        for name, arr in HR_IMAGES.items():
            zf.writestr(f"Flat_HR/{name}.png", _png_bytes(arr))
    out = tmp_path / "prepared"
    manifest = prepare_dataset("mini", _ds("download", url=f"{base}/Flat_HR.zip"), 4, out, tmp_path / "cache")
    assert [e["name"] for e in manifest["images"]] == ["alpha", "beta"]
    hr, gray = read_image(out / "HR" / "beta.png")
    assert gray is True
    np.testing.assert_array_equal(hr, _expected_hr("beta"))


def test_two_urls_with_the_same_file_name_do_not_share_a_cache(http_root, tmp_path):
    served, base = http_root
    for sub, value in (("a", 40), ("b", 200)):
        (served / sub).mkdir()
        with zipfile.ZipFile(served / sub / "HR.zip", "w") as zf:
            zf.writestr("HR/x.png", _png_bytes(np.full((16, 16, 3), value, dtype=np.uint8)))
    cache = tmp_path / "cache"
    prepare_dataset("mini", _ds("download", url=f"{base}/a/HR.zip"), 4, tmp_path / "a", cache)
    prepare_dataset("mini", _ds("download", url=f"{base}/b/HR.zip"), 4, tmp_path / "b", cache)
    assert read_image(tmp_path / "a" / "HR" / "x.png")[0][0, 0, 0] == 40
    assert read_image(tmp_path / "b" / "HR" / "x.png")[0][0, 0, 0] == 200


# ---------------------------------------------------------------- known sets, hidden files, streaming


def _write_n_images(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"img{i:03d}.png").write_bytes(_png_bytes(_smooth(16, 20, shift=i)))


@pytest.mark.parametrize(
    ("name", "url", "key"),
    [
        ("set5", "", "set5"),
        ("Set14", "", "set14"),
        ("BSD100", "", "bsd100"),
        ("urban100", "", "urban100"),
        ("DIV2K_train", "", "div2k_train"),
        ("train", "http://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_train_HR.zip", "div2k_train"),
        ("valid", "http://example.org/x/DIV2K_valid_HR.zip", "div2k_valid"),
        ("bench", "https://huggingface.co/datasets/eugenesiow/Set5/resolve/main/data/Set5_HR.tar.gz", "set5"),
        ("sample_test", "", None),
        ("mine", "http://example.org/photos.zip", None),
    ],
)
def test_known_set_by_name_or_archive(name: str, url: str, key: str | None) -> None:
    assert known_set(name, url) == key


def test_known_set_with_wrong_count_fails_naming_set_source_and_count(tmp_path: Path) -> None:
    src = tmp_path / "Set5"
    _write_n_images(src / "HR", 4)
    out = tmp_path / "out"
    with pytest.raises(SrganError) as info:
        prepare_dataset("set5", _ds("folder", path=str(src)), 4, out, tmp_path / "c")
    message = str(info.value)
    assert message.startswith(f"set5 from folder {src}: expected 5 HR images, found 4 in {src / 'HR'}")
    assert "\n" not in message
    assert not out.exists()


def test_known_set_count_is_checked_only_when_all_images_are_asked_for(tmp_path: Path) -> None:
    src = tmp_path / "Set14"
    _write_n_images(src / "HR", 3)
    manifest = prepare_dataset("Set14", _ds("folder", ("img001",), path=str(src)), 4, tmp_path / "out", tmp_path / "c")
    assert [e["name"] for e in manifest["images"]] == ["img001"]


def test_known_set_with_right_count_ignores_hidden_files(tmp_path: Path) -> None:
    src = tmp_path / "Set5"
    _write_n_images(src / "HR", 5)
    (src / "HR" / "._img000.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")  # macOS fork: not a PNG
    (src / "HR" / ".DS_Store").write_bytes(b"junk")
    (src / "HR" / ".img001.png.tmp").write_bytes(b"partial")
    manifest = prepare_dataset("set5", _ds("folder", path=str(src)), 4, tmp_path / "out", tmp_path / "c")
    assert [e["name"] for e in manifest["images"]] == [f"img{i:03d}" for i in range(5)]


def test_download_recognised_by_archive_name_checks_count(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    served, base = http_root
    with tarfile.open(served / "Set14_HR.tar.gz", "w:gz") as tar:
        for i in range(13):
            data = _png_bytes(_smooth(16, 16, shift=i))
            info = tarfile.TarInfo(f"Set14_HR/img{i:02d}.png")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    url = f"{base}/Set14_HR.tar.gz"
    with pytest.raises(SrganError) as info:
        prepare_dataset("bench", _ds("download", url=url), 4, tmp_path / "out", tmp_path / "cache")
    message = str(info.value)
    assert message.startswith(f"bench (set14 by its archive name) from {url}: expected 14 HR images, found 13 in ")
    assert message.split(" in ", 1)[1].split(";")[0].endswith("Set14_HR")
    assert not (tmp_path / "out").exists()


def test_download_ignores_macosx_folder_and_hidden_files(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    served, base = http_root
    with zipfile.ZipFile(served / "Mac_HR.zip", "w") as zf:
        for name, arr in HR_IMAGES.items():
            zf.writestr(f"Mac_HR/{name}.png", _png_bytes(arr))
            zf.writestr(f"__MACOSX/Mac_HR/._{name}.png", b"\x00\x05\x16\x07 resource fork")
            zf.writestr(f"Mac_HR/._{name}.png", b"\x00\x05\x16\x07 resource fork")
        zf.writestr("Mac_HR/.DS_Store", b"junk")
        zf.writestr(".hidden_top", b"junk")
    manifest = prepare_dataset("mini", _ds("download", url=f"{base}/Mac_HR.zip"), 4, tmp_path / "out", tmp_path / "c")
    assert [e["name"] for e in manifest["images"]] == ["alpha", "beta"]


def test_prepare_reads_one_image_at_a_time(tmp_path: Path, monkeypatch) -> None:
    """When an image is decoded, no earlier image's pixels are still alive."""
    src = tmp_path / "src"
    _write_n_images(src / "HR", 5)
    (src / "LRbicx4").mkdir()
    for i in range(5):
        (src / "LRbicx4" / f"img{i:03d}.png").write_bytes(_png_bytes(_smooth(4, 5, shift=i)))
    real_read_image = srgan.datasets.prepare.read_image
    decoded: list[tuple[str, weakref.ref]] = []
    others_alive: list[int] = []

    def tracking_read_image(path: Path) -> tuple[np.ndarray, bool]:
        others_alive.append(sum(ref() is not None for name, ref in decoded if name != path.stem))
        img_u8, gray = real_read_image(path)
        decoded.append((path.stem, weakref.ref(img_u8)))
        return img_u8, gray

    monkeypatch.setattr(srgan.datasets.prepare, "read_image", tracking_read_image)
    manifest = prepare_dataset("mini", _ds("folder", path=str(src)), 4, tmp_path / "out", tmp_path / "c")
    assert len(manifest["images"]) == 5
    assert len(others_alive) == 10  # HR and LR of each image
    assert max(others_alive) == 0


def test_prepare_folder_two_files_with_one_name(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _write_n_images(src / "HR", 2)
    Image.fromarray(_smooth(16, 20)).save(src / "HR" / "img001.jpg")
    with pytest.raises(SrganError, match=r"two images named 'img001' \(img001\.jpg, img001\.png\)"):
        prepare_dataset("mini", _ds("folder", path=str(src)), 4, tmp_path / "out", tmp_path / "c")


def test_prepare_does_not_import_torch(tmp_path: Path) -> None:
    """The prepare stage runs on numpy and PIL only: its script imports no torch."""
    import subprocess
    import sys

    src = tmp_path / "src"
    _write_hr_folder(src)
    code = (
        "import sys; from pathlib import Path; from srgan.core.config import DatasetParams; "
        "from srgan.datasets.prepare import prepare_dataset; "
        f"ds = DatasetParams(source='folder', images=(), path={str(src)!r}, url='', sha256=''); "
        f"prepare_dataset('mini', ds, 4, Path({str(tmp_path / 'out')!r}), Path({str(tmp_path / 'c')!r})); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"


# ---------------------------------------------------------------- mutation survivors (issue 33)
# Equivalent mutants, left alive on purpose:
# - known_set 1, 7, 12 and _check_count 11: a url of "XXXX" (or "" parsed anyway) has no archive suffix, so it
#   matches no set, exactly like "".
# - prepare_dataset 21: "UTF-8" and "utf-8" name the same codec.
# - folder_eval_images 8: the name _read_source_image hands back is discarded (`_`); it only passes it through.

SKIMAGE_NAMES = (
    "astronaut, brick, camera, chelsea, clock, coffee, coins, colorwheel, grass, gravel, hubble_deep_field, "
    "immunohistochemistry, moon, motorcycle_left, motorcycle_right, page, retina, rocket, text"
)


def test_skimage_unknown_name_message_lists_every_image_exactly(tmp_path: Path) -> None:
    with pytest.raises(SrganError) as info:
        prepare_dataset("mini", _ds("skimage", ("moon", "lena")), 4, tmp_path / "out", tmp_path / "c")
    assert str(info.value) == f"unknown skimage image 'lena'; available: {SKIMAGE_NAMES}"


def test_skimage_motorcycle_left_and_right_are_the_stereo_pair() -> None:
    from skimage import data as skdata

    left, right, _ = skdata.stereo_motorcycle()
    loaded = list(srgan.datasets.prepare._skimage_images(("motorcycle_right", "motorcycle_left")))
    assert [(name, gray, lr) for name, _, gray, lr in loaded] == [("motorcycle_right", False, None),
                                                                 ("motorcycle_left", False, None)]
    np.testing.assert_array_equal(loaded[0][1], right)
    np.testing.assert_array_equal(loaded[1][1], left)
    assert loaded[0][1].dtype == np.uint8 and loaded[1][1].dtype == np.uint8
    assert not np.array_equal(left, right)  # so a swap shows


def test_load_skimage_gray_becomes_three_equal_uint8_channels() -> None:
    gray = np.array([[0, 7, 255], [128, 3, 9]], dtype=np.int64)  # a loader that does not give uint8
    name, rgb, is_gray, lr = srgan.datasets.prepare._load_skimage("g", lambda: gray)
    assert (name, is_gray, lr) == ("g", True, None)
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 3, 3) and rgb.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(rgb, np.stack([gray] * 3, axis=2).astype(np.uint8))


def test_load_skimage_rgba_keeps_rgb_as_contiguous_uint8() -> None:
    rgba = np.arange(2 * 3 * 4, dtype=np.float64).reshape(2, 3, 4) * 10  # values 0..230, alpha included
    name, rgb, is_gray, lr = srgan.datasets.prepare._load_skimage("rgba", lambda: rgba)
    assert (name, is_gray, lr) == ("rgba", False, None)
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 3, 3) and rgb.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(rgb, rgba[:, :, :3].astype(np.uint8))


def _folder_with_others(root: Path, count: int) -> Path:
    hr = root / "HR"
    hr.mkdir(parents=True)
    (hr / "one.png").write_bytes(_png_bytes(_smooth(8, 8)))
    for i in range(count):
        (hr / f"note{i}.txt").write_text("x", encoding="utf-8")
    return hr


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        (1, "note0.txt"),
        (5, "note0.txt, note1.txt, note2.txt, note3.txt, note4.txt"),
        (6, "note0.txt, note1.txt, note2.txt, note3.txt, note4.txt, ..."),
        (7, "note0.txt, note1.txt, note2.txt, note3.txt, note4.txt, ..."),
    ],
)
def test_skipped_files_log_names_at_most_five(tmp_path: Path, caplog, count: int, shown: str) -> None:
    hr = _folder_with_others(tmp_path / "src", count)
    with caplog.at_level("INFO", logger="srgan.datasets.prepare"):
        prepare_dataset("mini", _ds("folder", path=str(tmp_path / "src")), 4, tmp_path / "out", tmp_path / "c")
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "srgan.datasets.prepare"]
    assert lines == [
        ("INFO", f"{hr}: skipped {count} files that are not images ({shown})"),
        ("INFO", f"prepared 1 images of mini from {(tmp_path / 'src').resolve()}"),
    ]


def test_no_skipped_files_log_without_other_files(tmp_path: Path, caplog) -> None:
    _folder_with_others(tmp_path / "src", 0)
    with caplog.at_level("INFO", logger="srgan.datasets.prepare"):
        prepare_dataset("Tiny", _ds("folder", path=str(tmp_path / "src")), 4, tmp_path / "out", tmp_path / "c")
    assert [r.getMessage() for r in caplog.records if r.name == "srgan.datasets.prepare"] == [
        f"prepared 1 images of Tiny from {(tmp_path / 'src').resolve()}"
    ]


def test_prepare_folder_that_is_a_file_says_so(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "set.png"
    not_a_folder.write_bytes(_png_bytes(_smooth(8, 8)))
    with pytest.raises(SrganError) as info:
        prepare_dataset("mini", _ds("folder", path=str(not_a_folder)), 4, tmp_path / "out", tmp_path / "c")
    assert str(info.value) == f"dataset folder {not_a_folder} is a file, not a folder"
    with pytest.raises(SrganError) as info:
        folder_eval_images(tmp_path / "absent", 4)
    assert str(info.value) == f"dataset folder {tmp_path / 'absent'} does not exist"


def test_prepare_folder_empty_message_lists_suffixes(tmp_path: Path) -> None:
    (tmp_path / "empty" / "HR").mkdir(parents=True)
    with pytest.raises(SrganError) as info:
        folder_eval_images(tmp_path / "empty", 4)
    assert str(info.value) == (
        f"dataset folder {tmp_path / 'empty' / 'HR'} holds no images "
        "(.png, .jpg, .jpeg, .bmp, .tif, .tiff, .webp, .gif)"
    )


@pytest.mark.parametrize(("count", "disable"), [(19, True), (20, False), (21, False)])
def test_read_images_progress_bar_from_twenty_images(tmp_path: Path, monkeypatch, record_bars, count: int,
                                                     disable: bool) -> None:
    src = tmp_path / "src"
    _write_n_images(src / "HR", count)
    bars = record_bars(srgan.datasets.prepare)
    monkeypatch.setattr(srgan.datasets.prepare, "write_prepared_set",
                        lambda out_dir, images, scale, source: {"images": [item[0] for item in images]})
    manifest = prepare_dataset("valid", _ds("folder", path=str(src)), 4, tmp_path / "out", tmp_path / "c")
    assert manifest["images"] == [f"img{i:03d}" for i in range(count)]
    assert bars == [
        {"kwargs": {"total": count, "desc": "prepare valid", "unit": "image", "disable": disable}, "updates": count}
    ]


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        (("HR/only_subfolder/x.png",), "."),  # HR/ at the top: the top is the set, never HR/ itself
        (("HR/x.png",), "."),
        (("Top/HR/x.png", "Top/LRbicx4/x.png"), "Top"),
        (("Top/Inner/HR/x.png",), "Top/Inner"),
        (("Flat/x.png", "Flat/y.png"), "Flat"),
        (("Flat/x.png", "__MACOSX/Flat/._x.png", ".hidden"), "Flat"),
        (("A/x.png", "B/y.png"), "."),
        (("x.png",), "."),
        (("Top/x.png", "y.png"), "."),
        (("Top/A/x.png", "Top/B/y.png"), "Top"),
    ],
)
def test_archive_root(tmp_path: Path, layout: tuple[str, ...], expected: str) -> None:
    extracted = tmp_path / "extracted"
    for member in layout:
        (extracted / member).parent.mkdir(parents=True, exist_ok=True)
        (extracted / member).write_bytes(b"x")
    assert srgan.datasets.prepare._archive_root(extracted) == extracted / expected


def test_archive_root_of_an_empty_folder_is_itself(tmp_path: Path) -> None:
    (tmp_path / "extracted").mkdir()
    assert srgan.datasets.prepare._archive_root(tmp_path / "extracted") == tmp_path / "extracted"


def test_folder_source_ignores_a_url_left_in_params(tmp_path: Path) -> None:
    # ds.url names Set5's archive, but the source is a folder: the archive name must not make it a known set.
    src = tmp_path / "src"
    _write_hr_folder(src)
    ds = _ds("folder", path=str(src), url="http://example.org/Set5_HR.zip")
    manifest = prepare_dataset("mine", ds, 4, tmp_path / "out", tmp_path / "c")
    assert [e["name"] for e in manifest["images"]] == ["alpha", "beta"]


def test_download_cache_layout_and_log(tmp_path: Path, http_root: tuple[Path, str], caplog) -> None:
    served, base = http_root
    data = _zip_of_hr(served / "Mini_HR.zip")
    url = f"{base}/Mini_HR.zip"
    cache = tmp_path / "cache"
    with caplog.at_level("INFO", logger="srgan.datasets.prepare"):
        manifest = prepare_dataset("mini", _ds("download", url=url), 4, tmp_path / "out", cache)
    url_dir = cache / hashlib.sha256(url.encode("ascii")).hexdigest()[:16]
    assert sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*")) == [
        url_dir.name,
        f"{url_dir.name}/Mini_HR.zip",
        f"{url_dir.name}/extracted",
        f"{url_dir.name}/extracted/HR",
        f"{url_dir.name}/extracted/HR/alpha.png",
        f"{url_dir.name}/extracted/HR/beta.png",
    ]
    assert (url_dir / "Mini_HR.zip").read_bytes() == data
    source = f"{url} sha256={hashlib.sha256(data).hexdigest()}"
    assert manifest["source"] == source
    assert [r.getMessage() for r in caplog.records if r.name == "srgan.datasets.prepare"] == [
        f"prepared 2 images of mini from {source}"
    ]
