"""Tests for srgan.core.images at its edges: whole messages, frame counts, EXIF orientations, the 8/16-bit
scaling of deep gray modes at its thresholds, palettes with per-entry alpha, and what `write_png` refuses.
The reader in every mode, geometry and the prepared sets: tests/datasets/test_data.py."""

from __future__ import annotations

import logging
import types
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import srgan.core.images
from srgan.core.errors import SrganError
from srgan.core.images import image_type_error, open_image, pil_to_rgb_u8, read_image, write_png

_TYPES = "png, jpg, jpeg, bmp, tif, tiff, webp, gif"
_MODES = "1, L, LA, La, I;16, I;16B, I;16L, I;16N, I, F, RGB, RGBA, RGBa, RGBX, P, PA, CMYK, YCbCr, LAB, HSV"


def _noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _half_up(value: Fraction) -> int:
    """floor(value * 255 + 1/2) in exact arithmetic, for value in [0, 1]: the project's 8-bit rule."""
    return int(value * 255 + Fraction(1, 2))


# ---------------------------------------------------------------- image_type_error


@pytest.mark.parametrize(("name", "expected"), [
    ("notes.svg", f".svg is not a supported image type ({_TYPES})"),
    ("scan.TXT", f".TXT is not a supported image type ({_TYPES})"),
    ("README", f"a file without a suffix is not a supported image type ({_TYPES})"),
])
def test_a_file_that_is_not_an_image_type_is_named_with_the_supported_types(name: str, expected: str) -> None:
    assert image_type_error(Path("in") / name) == expected


@pytest.mark.parametrize("name", ["a.png", "b.PNG", "c.jpeg", "d.Tiff", "e.webp", "f.gif", "g.bmp", "h.tif", "i.jpg"])
def test_an_image_type_in_any_case_has_no_error(name: str) -> None:
    assert image_type_error(Path(name)) is None


# ---------------------------------------------------------------- open_image: frames, orientation


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp", ".tif", ".gif"])
def test_a_single_frame_file_logs_nothing(tmp_path: Path, caplog, suffix: str) -> None:
    """JPEG and BMP files have no frame count in PIL (n_frames): they count as one frame."""
    path = tmp_path / f"one{suffix}"
    Image.fromarray(_noise(4, 5)).save(path)
    with caplog.at_level(logging.DEBUG, logger="srgan.core.images"):
        img = open_image(path)
    assert img.size == (5, 4)
    assert [r for r in caplog.records if r.name == "srgan.core.images"] == []


def test_a_multi_frame_file_logs_one_warning_naming_the_file_and_its_frames(tmp_path: Path, caplog) -> None:
    path = tmp_path / "anim.gif"
    frames = [Image.fromarray(np.full((4, 5, 3), v, dtype=np.uint8)) for v in (0, 100, 200)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with caplog.at_level(logging.DEBUG, logger="srgan.core.images"):
        open_image(path)
    assert [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "srgan.core.images"] == [
        (logging.WARNING, f"{path} has 3 frames (an animation or a multi-page file); only the first is used")]


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


@pytest.mark.parametrize("orientation", [None, 1])
def test_an_upright_file_is_the_decoded_file_itself_not_a_transposed_copy(tmp_path: Path, orientation) -> None:
    """No orientation tag, or tag 1 ("upright"): the file's own image comes back (its format kept), pixels as stored."""
    arr = _noise(4, 6)
    path = tmp_path / "up.png"
    Image.fromarray(arr).save(path, **({} if orientation is None else {"exif": _exif(orientation)}))
    img = open_image(path)
    assert img.format == "PNG"  # a copy (what ImageOps.exif_transpose returns) has no format
    np.testing.assert_array_equal(np.asarray(img), arr)


# EXIF orientation -> how the stored pixels are displayed, by numpy (rows first).
_DISPLAYED = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1, :],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, k=-1),
    7: lambda a: np.rot90(a[:, ::-1], k=-1),  # mirrored, then turned 90 degrees clockwise
    8: lambda a: np.rot90(a, k=1),
}


@pytest.mark.parametrize("orientation", sorted(_DISPLAYED))
def test_every_exif_orientation_is_undone(tmp_path: Path, orientation: int) -> None:
    arr = _noise(4, 6, seed=orientation)
    path = tmp_path / "o.png"
    Image.fromarray(arr).save(path, exif=_exif(orientation))
    np.testing.assert_array_equal(read_image(path)[0], _DISPLAYED[orientation](arr))


# ---------------------------------------------------------------- pil_to_rgb_u8: deep gray


def test_16bit_values_scale_from_65535_with_ties_up() -> None:
    """33025 / 65535 * 255 = 128.502 (-> 129; from 65536 it would be 128.498 -> 128); 65407 -> 254.502 -> 255."""
    values = [0, 128, 129, 257, 33024, 33025, 65407, 65535]
    img = Image.frombytes("I;16", (len(values), 1), np.array(values, dtype="<u2").tobytes())
    rgb, gray = pil_to_rgb_u8(img, "x")
    expected = [_half_up(Fraction(v, 65535)) for v in values]
    assert expected == [0, 0, 1, 1, 128, 129, 255, 255]
    assert gray is True
    assert rgb.tolist() == [[[e, e, e] for e in expected]]


def test_float_gray_ties_round_up_in_float64() -> None:
    """128.5 / 255 in float32 is a hair below 0.50392..., which would floor to 128."""
    values = [0.5, 127.5, 128.5, 200.5, 254.5]
    img = Image.fromarray(np.array([values], dtype=np.float32), mode="F")
    rgb, gray = pil_to_rgb_u8(img, "x")
    assert gray is True
    assert rgb[0, :, 0].tolist() == [int(v + 0.5) for v in values] == [1, 128, 129, 201, 255]


@pytest.mark.parametrize(("values", "top"), [
    ([0, 128, 255], 255),  # every value within 8 bit: PIL opened an 8-bit file as I
    ([0, 128, 256], 65535),  # one value above 255: the range is 16 bit
    ([0, 128, 257, 33025], 65535),
])
def test_32bit_integer_gray_is_8_bit_up_to_255_and_16_bit_above(values: list[int], top: int) -> None:
    img = Image.fromarray(np.array([values], dtype=np.int32), mode="I")
    rgb, _ = pil_to_rgb_u8(img, "x")
    assert rgb[0, :, 2].tolist() == [_half_up(Fraction(v, top)) for v in values]


@pytest.mark.parametrize("mode", ["I", "F"])
def test_an_empty_32bit_gray_image_converts_to_an_empty_array(mode: str) -> None:
    rgb, gray = pil_to_rgb_u8(Image.new(mode, (0, 3)), "x")
    assert gray is True
    assert rgb.shape == (3, 0, 3) and rgb.dtype == np.uint8


# ---------------------------------------------------------------- pil_to_rgb_u8: other modes


def test_an_unsupported_mode_is_named_in_one_whole_line() -> None:
    fake = types.SimpleNamespace(mode="I;16S", info={})
    with pytest.raises(SrganError) as info:
        pil_to_rgb_u8(fake, "in/pic.png")  # type: ignore[arg-type]
    assert str(info.value) == f"image in/pic.png has PIL mode I;16S, which is not supported ({_MODES})"


def test_read_image_names_the_file_whose_mode_is_not_supported(tmp_path: Path, monkeypatch) -> None:
    """No file PIL opens has a mode outside SUPPORTED_MODES today; a future PIL's would be named by its path."""
    path = tmp_path / "deep.tif"
    monkeypatch.setattr(srgan.core.images, "open_image", lambda p: types.SimpleNamespace(mode="I;32", info={}))
    with pytest.raises(SrganError) as info:
        read_image(path)
    assert str(info.value) == f"image {path} has PIL mode I;32, which is not supported ({_MODES})"


def test_a_palette_with_per_entry_alpha_reads_its_colours_without_a_pil_warning(tmp_path: Path) -> None:
    """A PNG palette with a tRNS chunk of several alphas (PIL: transparency as bytes) goes through RGBA; converted
    straight to RGB, PIL warns "Palette images with Transparency expressed in bytes should be converted to RGBA"."""
    colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]], dtype=np.uint8)
    index = np.array([[0, 1, 2, 3], [3, 2, 1, 0]], dtype=np.uint8)
    pal = Image.fromarray(index, mode="P")
    pal.putpalette(colours.flatten().tolist())
    path = tmp_path / "alpha_palette.png"
    pal.save(path, transparency=b"\x00\x80\xff\xff")
    with Image.open(path) as check:
        assert check.mode == "P" and check.info["transparency"] == b"\x00\x80\xff\xff"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rgb, gray = read_image(path)
    assert gray is False
    np.testing.assert_array_equal(rgb, colours[index])  # transparent entries keep their palette colour


# ---------------------------------------------------------------- write_png


@pytest.mark.parametrize(("shape", "dtype", "gray"), [
    ((3, 4, 4), np.uint8, False),  # RGBA: not written as an RGBA PNG
    ((3, 4), np.uint8, False),  # 2-D: not written as a gray PNG unless asked
    ((3, 4, 3), np.uint16, True),  # 16-bit: not written as a 16-bit gray PNG
])
def test_write_png_refuses_arrays_that_are_not_8_bit_rgb(tmp_path: Path, shape, dtype, gray: bool) -> None:
    path = tmp_path / "out.png"
    with pytest.raises((ValueError, TypeError)):
        write_png(path, np.zeros(shape, dtype=dtype), gray=gray)
    assert list(tmp_path.iterdir()) == []
