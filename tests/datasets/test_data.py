"""Tests for srgan.core.images, srgan.core.tensors and srgan.datasets.prepared: the one image
reader in every mode, geometry, 8-bit rounding, prepared sets (streamed), and PIL-bicubic LR
generation against the shipped Set5/Set14 LRbicx4 files. Training patches: test_patches.py."""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import types
import weakref
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import srgan.core.images
import srgan.datasets.prepared
from srgan.core.errors import SrganError
from srgan.core.images import (
    SUPPORTED_MODES,
    bicubic_downscale,
    bicubic_upscale,
    float_to_u8,
    list_images,
    mod_crop,
    open_image,
    pil_to_rgb_u8,
    read_image,
    write_png,
)
from srgan.core.tensors import round_u8, to_tensor, to_u8
from srgan.datasets.prepared import (
    load_eval_set,
    load_train_set,
    write_prepared_set,
)

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def _noise(h: int, w: int, seed: int = 0, channels: int = 3) -> np.ndarray:
    shape = (h, w, channels) if channels else (h, w)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _smooth(h: int, w: int) -> np.ndarray:
    """A smooth colour gradient: bicubic resampling stays close to it, unlike noise."""
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 255 // max(w - 1, 1), yy * 255 // max(h - 1, 1), (xx + yy) * 255 // max(h + w - 2, 1)], axis=2).astype(np.uint8)


# ---------------------------------------------------------------- read_image


def test_read_rgb_png(tmp_path: Path) -> None:
    arr = _noise(7, 9)
    Image.fromarray(arr).save(tmp_path / "a.png")
    img, gray = read_image(tmp_path / "a.png")
    assert gray is False
    assert img.dtype == np.uint8 and img.shape == (7, 9, 3)
    np.testing.assert_array_equal(img, arr)


def test_read_gray_png(tmp_path: Path) -> None:
    arr = _noise(6, 5, channels=0)
    Image.fromarray(arr).save(tmp_path / "g.png")
    img, gray = read_image(tmp_path / "g.png")
    assert gray is True
    assert img.shape == (6, 5, 3)
    for c in range(3):
        np.testing.assert_array_equal(img[:, :, c], arr)


def test_read_la_png(tmp_path: Path) -> None:
    luma, alpha = _noise(4, 5, 1, channels=0), _noise(4, 5, 2, channels=0)
    Image.fromarray(np.stack([luma, alpha], axis=2), mode="LA").save(tmp_path / "la.png")
    assert Image.open(tmp_path / "la.png").mode == "LA"
    img, gray = read_image(tmp_path / "la.png")
    assert gray is True
    np.testing.assert_array_equal(img, np.repeat(luma[:, :, None], 3, axis=2))


def test_read_rgba_drops_alpha(tmp_path: Path) -> None:
    rgb = _noise(5, 6)
    alpha = np.zeros((5, 6, 1), dtype=np.uint8)  # fully transparent: the colour must still come through
    Image.fromarray(np.concatenate([rgb, alpha], axis=2)).save(tmp_path / "rgba.png")
    assert Image.open(tmp_path / "rgba.png").mode == "RGBA"
    img, gray = read_image(tmp_path / "rgba.png")
    assert gray is False
    np.testing.assert_array_equal(img, rgb)


def _palette_image() -> tuple[Image.Image, np.ndarray]:
    colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]], dtype=np.uint8)
    index = np.array([[0, 1, 2, 3], [3, 2, 1, 0], [1, 1, 3, 3]], dtype=np.uint8)
    pal = Image.fromarray(index, mode="P")
    pal.putpalette(colours.flatten().tolist())
    return pal, colours[index]


def test_read_palette(tmp_path: Path) -> None:
    pal, expected = _palette_image()
    pal.save(tmp_path / "p.png")
    assert Image.open(tmp_path / "p.png").mode == "P"
    img, gray = read_image(tmp_path / "p.png")
    assert gray is False
    np.testing.assert_array_equal(img, expected)


def test_read_palette_with_transparency(tmp_path: Path) -> None:
    pal, expected = _palette_image()
    pal.save(tmp_path / "pt.png", transparency=3)
    with Image.open(tmp_path / "pt.png") as check:
        assert check.mode == "P" and "transparency" in check.info
    img, gray = read_image(tmp_path / "pt.png")
    assert gray is False
    np.testing.assert_array_equal(img, expected)  # transparent entries keep their palette colour


def test_read_16bit_gray_png(tmp_path: Path) -> None:
    arr = np.array([[0, 65535, 32896], [257, 128, 65280]], dtype=np.uint16)
    Image.fromarray(arr).save(tmp_path / "g16.png")
    with Image.open(tmp_path / "g16.png") as check:
        assert check.mode == "I;16"
    img, gray = read_image(tmp_path / "g16.png")
    assert gray is True
    assert img.dtype == np.uint8
    # 65535 -> 255, 32896 = 128 * 257 -> 128, 257 -> 1, 65280 = 255 * 256 -> 254.0 rounds to 254;
    # 128 / 65535 * 255 = 0.498 -> 0: a dark 16-bit value is not mistaken for 8-bit.
    expected = np.array([[0, 255, 128], [1, 0, 254]], dtype=np.uint8)
    for c in range(3):
        np.testing.assert_array_equal(img[:, :, c], expected)


def test_read_16bit_dark_image_is_not_read_as_8bit(tmp_path: Path) -> None:
    arr = np.full((3, 3), 200, dtype=np.uint16)  # every value <= 255
    Image.fromarray(arr).save(tmp_path / "dark16.png")
    img, _ = read_image(tmp_path / "dark16.png")
    assert int(img.max()) == 1  # 200 / 65535 * 255 = 0.78


@pytest.mark.parametrize(("mode", "dtype"), [("I;16B", ">u2"), ("I;16L", "<u2"), ("I;16N", "=u2")])
def test_read_16bit_gray_any_byte_order(mode: str, dtype: str) -> None:
    img = Image.frombytes(mode, (3, 1), np.array([0, 65535, 32896], dtype=dtype).tobytes())
    rgb, gray = pil_to_rgb_u8(img, "x")
    assert gray is True
    assert rgb[:, :, 0].tolist() == [[0, 255, 128]]


@pytest.mark.parametrize(
    ("mode", "values", "expected"),
    [
        ("I", [0, 255, 1000, 65535], [0, 1, 4, 255]),  # a value above 255: the range is 16 bit
        ("I", [0, 128, 255], [0, 128, 255]),  # all within 8 bit: PIL opened an 8-bit file as I
        ("F", [0.0, 127.5, 255.0], [0, 128, 255]),  # ties round up
    ],
)
def test_read_32bit_gray_modes(mode: str, values: list, expected: list[int]) -> None:
    img = Image.fromarray(np.array([values], dtype=np.int32 if mode == "I" else np.float32), mode=mode)
    rgb, gray = pil_to_rgb_u8(img, "x")
    assert gray is True
    assert rgb[0, :, 1].tolist() == expected


def test_read_16bit_tiff_file(tmp_path: Path) -> None:
    arr = np.array([[0, 65535], [32896, 257]], dtype=np.uint16)
    Image.fromarray(arr).save(tmp_path / "g16.tif")
    img, gray = read_image(tmp_path / "g16.tif")
    assert gray is True and img[:, :, 2].tolist() == [[0, 255], [128, 1]]


@pytest.mark.parametrize("mode", SUPPORTED_MODES)
def test_every_supported_mode_reads(mode: str) -> None:
    img = Image.new(mode, (5, 3))
    rgb, gray = pil_to_rgb_u8(img, "x")
    assert rgb.shape == (3, 5, 3) and rgb.dtype == np.uint8 and rgb.flags.writeable
    assert gray is (mode in srgan.core.images.GRAY_MODES + srgan.core.images.DEEP_GRAY_MODES)


def test_unsupported_mode_names_the_image() -> None:
    fake = types.SimpleNamespace(mode="BGR;24", info={})
    with pytest.raises(SrganError, match=r"pic\.png has PIL mode BGR;24.*RGB"):
        pil_to_rgb_u8(fake, "pic.png")  # type: ignore[arg-type]


def test_read_premultiplied_and_palette_alpha_modes() -> None:
    rgba = Image.new("RGBA", (2, 2), (100, 120, 140, 128))
    rgb, gray = pil_to_rgb_u8(rgba.convert("RGBa"), "x")
    assert gray is False and np.abs(rgb[0, 0].astype(int) - [100, 120, 140]).max() <= 2  # un-premultiplied
    la, gray = pil_to_rgb_u8(Image.new("LA", (2, 2), (90, 128)).convert("La"), "x")
    assert gray is True and abs(int(la[0, 0, 0]) - 90) <= 2
    pa = Image.new("PA", (2, 2))
    pa.putpalette([0, 0, 0, 200, 100, 50] + [0] * 762)
    pa.putdata([(1, 0)] * 4)
    assert pil_to_rgb_u8(pa, "x")[0][0, 0].tolist() == [200, 100, 50]


def test_read_cmyk_jpeg(tmp_path: Path) -> None:
    Image.new("CMYK", (8, 6), (0, 255, 255, 0)).save(tmp_path / "c.jpg", quality=95)
    with Image.open(tmp_path / "c.jpg") as check:
        assert check.mode == "CMYK"
    img, gray = read_image(tmp_path / "c.jpg")
    assert gray is False and img.shape == (6, 8, 3)
    assert img[3, 4, 0] > 200 and img[3, 4, 1] < 60  # red


def test_read_applies_exif_orientation(tmp_path: Path) -> None:
    arr = _noise(4, 6)  # 4 rows, 6 columns as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(arr).save(tmp_path / "rot.jpg", exif=exif, quality=100, subsampling=0)
    Image.fromarray(arr).save(tmp_path / "rot.png", exif=exif)
    img, _ = read_image(tmp_path / "rot.png")
    np.testing.assert_array_equal(img, np.rot90(arr, k=-1))  # displayed: 6 rows, 4 columns
    assert read_image(tmp_path / "rot.jpg")[0].shape == (6, 4, 3)
    assert open_image(tmp_path / "rot.png").size == (4, 6)


def test_read_multi_frame_uses_the_first_with_a_warning(tmp_path: Path, caplog) -> None:
    frames = [Image.fromarray(np.full((4, 5, 3), v, dtype=np.uint8)) for v in (10, 200)]
    frames[0].save(tmp_path / "pages.tif", save_all=True, append_images=frames[1:])
    with caplog.at_level(logging.WARNING, logger="srgan.core.images"):
        img, _ = read_image(tmp_path / "pages.tif")
    assert int(img.max()) == 10
    assert "2 frames" in caplog.text and "pages.tif" in caplog.text


def test_read_refuses_decompression_bomb(tmp_path: Path, monkeypatch) -> None:
    Image.fromarray(_noise(40, 40)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 1600 px > 2x the limit: PIL raises
    with pytest.raises(SrganError, match="too large") as info:
        read_image(tmp_path / "big.png")
    assert "big.png" in str(info.value)


def test_images_module_does_not_import_torch() -> None:
    code = "import sys, srgan.core.images, srgan.datasets.prepared; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_list_images_splits_images_from_other_files(tmp_path: Path) -> None:
    for name in ("b.PNG", "a.jpg", "c.gif", "d.svg", "notes.txt", ".hidden.png", "._a.jpg", ".out.png.tmp"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.png").mkdir()
    images, others = list_images(tmp_path)
    assert [p.name for p in images] == ["a.jpg", "b.PNG", "c.gif"]
    assert [p.name for p in others] == ["d.svg", "notes.txt"]


def test_read_jpeg(tmp_path: Path) -> None:
    arr = _smooth(32, 40)
    Image.fromarray(arr).save(tmp_path / "a.jpg", quality=95)
    img, gray = read_image(tmp_path / "a.jpg")
    assert gray is False and img.shape == (32, 40, 3)
    assert np.abs(img.astype(int) - arr.astype(int)).mean() < 3


def test_read_gray_jpeg(tmp_path: Path) -> None:
    Image.fromarray(_smooth(16, 16)[:, :, 0]).save(tmp_path / "g.jpg")
    img, gray = read_image(tmp_path / "g.jpg")
    assert gray is True and img.shape == (16, 16, 3)


def test_read_truncated_png(tmp_path: Path) -> None:
    Image.fromarray(_noise(64, 64)).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SrganError) as info:
        read_image(path)
    assert str(path) in str(info.value)


def test_read_non_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture\n", encoding="utf-8")
    with pytest.raises(SrganError) as info:
        read_image(path)
    assert str(path) in str(info.value)


def test_read_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "gone.png"
    with pytest.raises(SrganError, match="not found") as info:
        read_image(path)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------- geometry and conversion


@pytest.mark.parametrize(("h", "w", "scale", "out_hw"), [(10, 13, 4, (8, 12)), (8, 12, 4, (8, 12)), (7, 7, 2, (6, 6)), (3, 5, 4, (0, 4))])
def test_mod_crop(h: int, w: int, scale: int, out_hw: tuple[int, int]) -> None:
    img = _noise(h, w)
    out = mod_crop(img, scale)
    assert out.shape == (*out_hw, 3)
    np.testing.assert_array_equal(out, img[: out_hw[0], : out_hw[1]])  # crops bottom/right only


def test_bicubic_downscale_shape_and_values() -> None:
    hr = _smooth(40, 24)
    lr = bicubic_downscale(hr, 4)
    assert lr.shape == (10, 6, 3) and lr.dtype == np.uint8
    expected = np.asarray(Image.fromarray(hr).resize((6, 10), Image.Resampling.BICUBIC))
    np.testing.assert_array_equal(lr, expected)


def test_bicubic_downscale_constant_stays_constant() -> None:
    lr = bicubic_downscale(np.full((16, 16, 3), 77, dtype=np.uint8), 4)
    assert (lr == 77).all()


@pytest.mark.parametrize("hw", [(41, 24), (40, 26)])
def test_bicubic_downscale_rejects_non_multiple(hw: tuple[int, int]) -> None:
    with pytest.raises(SrganError, match="mod-crop"):
        bicubic_downscale(_noise(*hw), 4)


def test_bicubic_downscale_accepts_non_contiguous_view() -> None:
    hr = mod_crop(_smooth(42, 27), 4)
    assert not hr.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(bicubic_downscale(hr, 4), bicubic_downscale(np.ascontiguousarray(hr), 4))


def test_bicubic_upscale() -> None:
    lr = _smooth(6, 5)
    sr = bicubic_upscale(lr, 4)
    assert sr.shape == (24, 20, 3) and sr.dtype == np.uint8
    # Down again lands close to where it started.
    assert np.abs(bicubic_downscale(sr, 4).astype(int) - lr.astype(int)).max() <= 8


def test_to_tensor_and_back() -> None:
    img = _noise(5, 7)
    t = to_tensor(img)
    assert t.shape == (3, 5, 7) and t.dtype == torch.float32
    assert float(t.min()) >= 0.0 and float(t.max()) <= 1.0
    assert t[1, 2, 3].item() == pytest.approx(img[2, 3, 1] / 255.0)
    np.testing.assert_array_equal(to_u8(t), img)
    np.testing.assert_array_equal(to_u8(t.unsqueeze(0)), img)  # 1x3xHxW too


def test_to_u8_clamps_and_rounds_ties_up() -> None:
    t = torch.tensor([-0.5, 0.0, 1.4 / 255, 1.6 / 255, 2.5 / 255, 1.0, 2.0], dtype=torch.float64)
    out = to_u8(t.view(1, 1, 7).expand(3, 1, 7))
    assert out.shape == (1, 7, 3) and out.dtype == np.uint8
    assert out[0, :, 0].tolist() == [0, 0, 1, 2, 3, 255, 255]  # 2.5 -> 3, where torch.round gives 2


def _half_up(x: float) -> int:
    """floor(x * 255 + 1/2) in exact arithmetic, clamped to 0..255."""
    return min(max(math.floor(Fraction(x) * 255 + Fraction(1, 2)), 0), 255)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rounding_rule_agrees_everywhere_on_ties(dtype: torch.dtype) -> None:
    """to_u8, round_u8 (super_resolve_u8's rounding; see test_infer), float_to_u8 and
    metrics.quantize_u8 give the same bytes on (k + 0.5) / 255 and its neighbours."""
    from srgan.scoring.metrics import quantize_u8

    ties = (torch.arange(255, dtype=torch.float64) + 0.5) / 255
    values = torch.cat([ties, ties + 1e-9, ties - 1e-9, torch.tensor([-0.1, 0.0, 1.0, 1.1], dtype=torch.float64)])
    values = values.to(dtype)
    img = values.view(1, 1, -1).expand(3, 1, -1)
    before = img.clone()
    expected = quantize_u8(img[None])[0, 0, 0].to(torch.int64).tolist()
    assert to_u8(img)[0, :, 0].tolist() == expected
    assert round_u8(values).tolist() == expected
    assert float_to_u8(values.numpy()).tolist() == expected
    assert torch.equal(img, before)  # nothing is rounded in place
    if dtype == torch.float32:
        # float64 holds x * 255 + 0.5 exactly for a float32 x: the rule is exact rounding, half up.
        assert expected == [_half_up(float(v)) for v in values]
    else:
        assert expected[:255] == list(range(1, 256))  # every tie goes up
    # The rule used before (torch.round in the input's precision) sends some ties down.
    old = values.mul(255).round().clamp(0, 255).to(torch.int64).tolist()
    assert old != expected


# ---------------------------------------------------------------- write_png


def test_write_png_rgb(tmp_path: Path) -> None:
    img = _noise(6, 8)
    path = tmp_path / "sub" / "out.png"
    write_png(path, img)
    with Image.open(path) as check:
        assert check.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(check), img)
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.png"]  # no temp files left


def test_write_png_gray_is_mode_l(tmp_path: Path) -> None:
    gray = np.repeat(_noise(6, 8, channels=0)[:, :, None], 3, axis=2)
    path = tmp_path / "g.png"
    write_png(path, gray, gray=True)
    with Image.open(path) as check:
        assert check.mode == "L"
    back, was_gray = read_image(path)
    assert was_gray is True
    np.testing.assert_array_equal(back, gray)


def test_write_png_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "out.png"
    path.write_bytes(b"old")
    write_png(path, _noise(3, 3))
    assert read_image(path)[0].shape == (3, 3, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_write_png_failure_leaves_old_file(tmp_path: Path) -> None:
    path = tmp_path / "out.png"
    write_png(path, _noise(3, 3, 1))
    before = path.read_bytes()
    with pytest.raises(Exception):
        write_png(path, np.zeros((3, 3, 3), dtype=np.float64))  # not uint8: PIL refuses
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


# ---------------------------------------------------------------- prepared sets


def _images() -> list[tuple[str, np.ndarray, bool, np.ndarray | None]]:
    gray = np.repeat(_smooth(21, 34)[:, :, :1], 3, axis=2)
    return [("colour", _smooth(30, 41), False, None), ("gray", gray, True, None)]


def test_prepared_set_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "prepared" / "set"
    manifest = write_prepared_set(out, _images(), 4, "unit-test")
    assert manifest == {
        "scale": 4,
        "source": "unit-test",
        "images": [
            {"name": "colour", "gray": False, "hr_hw": [28, 40]},
            {"name": "gray", "gray": True, "hr_hw": [20, 32]},
        ],
    }
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8")) == manifest
    assert sorted(p.name for p in (out / "HR").iterdir()) == ["colour.png", "gray.png"]
    with Image.open(out / "HR" / "gray.png") as hr_gray, Image.open(out / "LR" / "gray.png") as lr_gray:
        assert hr_gray.mode == "L" and lr_gray.mode == "L"
    assert not [p for p in out.parent.iterdir() if p.name != "set"]  # no temp dirs left

    pairs = load_eval_set(out, 4)
    assert [p.name for p in pairs] == ["colour", "gray"]
    colour = pairs[0]
    np.testing.assert_array_equal(colour.hr_u8, mod_crop(_smooth(30, 41), 4))
    np.testing.assert_array_equal(colour.lr_u8, bicubic_downscale(mod_crop(_smooth(30, 41), 4), 4))
    assert colour.gray is False and pairs[1].gray is True
    assert pairs[1].lr_u8.shape == (5, 8, 3)

    train_images = load_train_set(out, 4)
    assert [image.name for image in train_images] == ["colour", "gray"]
    np.testing.assert_array_equal(train_images[0].hr_u8, colour.hr_u8)
    np.testing.assert_array_equal(train_images[0].lr_u8, colour.lr_u8)


def test_write_prepared_set_streams_one_image_at_a_time(tmp_path: Path, monkeypatch) -> None:
    """The writer draws the next image only after the previous one is written and released."""
    written: list[str] = []
    real_write_png = srgan.datasets.prepared.write_png

    def recording_write_png(path: Path, img_u8: np.ndarray, gray: bool = False) -> None:
        written.append(f"{path.parent.name}/{path.stem}")
        real_write_png(path, img_u8, gray)

    monkeypatch.setattr(srgan.datasets.prepared, "write_png", recording_write_png)
    alive: list[weakref.ref] = []
    peak_alive = 0

    def decode_on_demand():
        nonlocal peak_alive
        for i in range(6):
            if i:
                assert written[-2:] == [f"HR/img{i - 1}", f"LR/img{i - 1}"], "drawn before the previous was written"
            hr_u8 = _smooth(20 + 4 * i, 24)
            alive.append(weakref.ref(hr_u8))
            peak_alive = max(peak_alive, sum(ref() is not None for ref in alive))
            yield f"img{i}", hr_u8, False, None
            del hr_u8

    manifest = write_prepared_set(tmp_path / "set", decode_on_demand(), 4, "generator")
    assert [e["name"] for e in manifest["images"]] == [f"img{i}" for i in range(6)]
    assert peak_alive == 1  # never two decoded images at once
    assert all(ref() is None for ref in alive)


def test_write_prepared_set_from_an_empty_generator(tmp_path: Path) -> None:
    with pytest.raises(SrganError, match="no images"):
        write_prepared_set(tmp_path / "set", iter(()), 4, "t")
    assert list(tmp_path.iterdir()) == []


def test_prepared_set_uses_given_lr(tmp_path: Path) -> None:
    hr = _smooth(16, 24)
    lr = _noise(4, 6)  # not what bicubic would make: proves it was used as given
    write_prepared_set(tmp_path / "set", [("x", hr, False, lr)], 4, "unit-test")
    np.testing.assert_array_equal(load_eval_set(tmp_path / "set", 4)[0].lr_u8, lr)


def test_prepared_set_replaces_existing(tmp_path: Path) -> None:
    out = tmp_path / "set"
    write_prepared_set(out, _images(), 4, "first")
    write_prepared_set(out, _images()[:1], 4, "second")
    assert [p.name for p in load_eval_set(out, 4)] == ["colour"]
    assert not (out / "HR" / "gray.png").exists()


def test_prepared_set_wrong_lr_size_fails_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "set"
    images = _images() + [("bad", _smooth(16, 24), False, _noise(5, 6))]
    with pytest.raises(SrganError, match="bad") as info:
        write_prepared_set(out, images, 4, "unit-test")
    assert "5" in str(info.value) and "6x4" in str(info.value)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temp dir left behind


def test_prepared_set_failure_keeps_previous(tmp_path: Path) -> None:
    out = tmp_path / "set"
    write_prepared_set(out, _images(), 4, "good")
    with pytest.raises(SrganError):
        write_prepared_set(out, [("bad", _smooth(16, 24), False, _noise(5, 6))], 4, "bad")
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["source"] == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["set"]


def test_prepared_set_too_small_and_empty(tmp_path: Path) -> None:
    with pytest.raises(SrganError, match="tiny"):
        write_prepared_set(tmp_path / "a", [("tiny", _noise(3, 9), False, None)], 4, "t")
    with pytest.raises(SrganError, match="no images"):
        write_prepared_set(tmp_path / "b", [], 4, "t")
    assert list(tmp_path.iterdir()) == []


def test_load_eval_set_wrong_scale_and_missing(tmp_path: Path) -> None:
    write_prepared_set(tmp_path / "set", _images(), 4, "t")
    with pytest.raises(SrganError, match="x4"):
        load_eval_set(tmp_path / "set", 2)
    with pytest.raises(SrganError, match="manifest.json"):
        load_eval_set(tmp_path / "nothing", 4)
    with pytest.raises(SrganError, match="manifest.json"):
        load_train_set(tmp_path / "nothing", 4)


def test_load_eval_set_missing_image_file(tmp_path: Path) -> None:
    write_prepared_set(tmp_path / "set", _images(), 4, "t")
    (tmp_path / "set" / "LR" / "gray.png").unlink()
    with pytest.raises(SrganError, match="gray.png"):
        load_eval_set(tmp_path / "set", 4)


# ---------------------------------------------------------------- LR generation vs the shipped LRbicx4


def _psnr_u8(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


@pytest.mark.parametrize(("set_name", "n_images"), [("Set5", 5), ("Set14", 14)])
def test_bicubic_downscale_matches_shipped_lrbicx4(set_name: str, n_images: int) -> None:
    root = SHARED_DATA / set_name
    if not (root / "HR").is_dir() or not (root / "LRbicx4").is_dir():
        pytest.skip(f"{root} is absent")
    psnrs, cropped = {}, 0
    for hr_path in sorted((root / "HR").glob("*.png")):
        hr_u8, _ = read_image(hr_path)
        hr_crop = mod_crop(hr_u8, 4)
        cropped += hr_crop.shape != hr_u8.shape
        lr_ref, _ = read_image(root / "LRbicx4" / hr_path.name)
        lr_u8 = bicubic_downscale(hr_crop, 4)
        assert lr_u8.shape == lr_ref.shape, hr_path.name
        psnrs[hr_path.stem] = _psnr_u8(lr_u8, lr_ref)
    assert len(psnrs) == n_images
    mean_db = sum(psnrs.values()) / len(psnrs)
    print(f"{set_name}: PIL bicubic LR vs LRbicx4 mean PSNR {mean_db:.2f} dB over {len(psnrs)} images")
    assert mean_db >= 50.0, psnrs
    assert min(psnrs.values()) >= 40.0, psnrs
    if set_name == "Set14":
        assert cropped >= 4  # several Set14 HR images are not multiples of 4
        assert read_image(root / "HR" / "bridge.png")[1] is True  # bridge is grayscale
