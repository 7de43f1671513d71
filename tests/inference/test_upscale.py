"""Tests for srgan.inference.upscale, called directly: colour modes in and out, output formats and their save
options, colour profiles, output names and folders, error messages in full, progress callbacks, atomic writes.

Expected pixels are computed here independently: the SR image from the model and numpy's floor(x * 255 + 0.5)
rounding, colour conversions by PIL's own `convert`, alpha by PIL's bicubic `resize`. The command around these
functions (`srgan upscale`) is tested in tests/test_cli.py.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms
from torch import nn

from srgan.core.errors import SrganError
from srgan.core.runtime import Runtime
from srgan.inference import upscale
from srgan.inference.tiling import super_resolve_u8
from srgan.inference.upscale import (
    _fit_format,
    check_output_folder,
    collect_inputs,
    output_path,
    upscale_file,
    upscale_image,
)
from srgan.nets.srresnet import SRResNet

# One intra-op thread: on 2 shared cores, two made a 20x20 px forward of the tiny model ~500x slower.
pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

CPU = Runtime(device=torch.device("cpu"), amp_dtype=None, channels_last=False)
LOGGER = "srgan.inference.upscale"
# Real sRGB profile bytes; upscale_file passes a profile through unread, so gray inputs carry it too.
ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


class _Nearest(nn.Module):
    """A pointwise x2 'model' (nearest neighbour) with no `scale` attribute: callers must pass scale=2."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.interpolate(x, scale_factor=2, mode="nearest")


class _OutOfMemory(nn.Module):
    def __init__(self, error: type[BaseException]) -> None:
        super().__init__()
        self.error = error

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise self.error("no memory left")


@pytest.fixture(scope="module")
def tiny() -> SRResNet:
    """A random-init x2 SRResNet (1 block, 8 channels) in eval mode: outputs vary per pixel and leave [0, 1]."""
    torch.manual_seed(0)
    return SRResNet(scale=2, num_blocks=1, channels=8).eval()


def _u8(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _sr_by_hand(model: nn.Module, rgb_u8: np.ndarray, gray: bool = False) -> np.ndarray:
    """The model on the whole image, clipped to [0, 1], BT.601 luma when `gray`, floor(x * 255 + 0.5)."""
    lr_img = torch.from_numpy(rgb_u8).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        sr = np.clip(model(lr_img)[0].numpy(), 0, 1)  # float32, (3, H, W)
    if gray:
        sr = sr[0] * np.float32(0.299) + sr[1] * np.float32(0.587) + sr[2] * np.float32(0.114)
    else:
        sr = sr.transpose(1, 2, 0)
    return np.floor(sr.astype(np.float64) * 255 + 0.5).astype(np.uint8)


def _nearest2(arr: np.ndarray) -> np.ndarray:
    return arr.repeat(2, axis=0).repeat(2, axis=1)


def _bicubic_alpha(alpha: Image.Image) -> np.ndarray:
    return np.array(alpha.resize((alpha.width * 2, alpha.height * 2), Image.Resampling.BICUBIC))


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------- collect_inputs


def test_collect_inputs_messages_in_full(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("x")
    found = collect_inputs([tmp_path / "empty", tmp_path / "notes"])
    assert found.files == []
    assert found.skipped == [(tmp_path / "notes" / "a.txt",
                              ".txt is not a supported image type (png, jpg, jpeg, bmp, tif, tiff, webp, gif)")]
    assert found.errors == [f"folder {tmp_path / 'empty'} holds no png/jpg/jpeg/bmp/tif/tiff/webp/gif files",
                            f"folder {tmp_path / 'notes'} holds no png/jpg/jpeg/bmp/tif/tiff/webp/gif files"]


# ---------------------------------------------------------------- upscale_image: colour modes


def test_rgb_is_the_model_output_rounded(tiny, caplog):
    rgb = _u8((5, 7, 3))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        out = upscale_image(tiny, Image.fromarray(rgb), CPU, scale=2, tile_px=0)
    assert out.mode == "RGB" and out.size == (14, 10)
    np.testing.assert_array_equal(np.array(out), _sr_by_hand(tiny, rgb))
    assert _warnings(caplog) == []


def test_gray_is_the_luma_of_the_sr_image(tiny, caplog):
    gray = _u8((6, 5))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        out = upscale_image(tiny, Image.fromarray(gray), CPU, scale=2, tile_px=0)
    assert out.mode == "L"
    np.testing.assert_array_equal(np.array(out), _sr_by_hand(tiny, np.repeat(gray[:, :, None], 3, axis=2), True))
    assert _warnings(caplog) == []  # 8-bit gray: no "more than 8 bits" warning


@pytest.mark.parametrize("name", [None, "scan.tif"])
def test_deep_gray_is_scaled_to_8_bit_with_a_warning_naming_the_image(name, caplog):
    deep = (np.arange(20, dtype=np.uint16).reshape(4, 5) * 3449)  # 0 .. 65531
    img = Image.fromarray(deep)
    assert img.mode == "I;16"
    kwargs = {} if name is None else {"name": name}
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        out = upscale_image(_Nearest(), img, CPU, scale=2, tile_px=0, **kwargs)
    assert _warnings(caplog) == [
        f"{name or 'image'} is I;16 (more than 8 bits); the result is written as 8-bit grayscale"]
    assert out.mode == "L"
    np.testing.assert_array_equal(np.array(out), _nearest2(np.floor(deep / 65535 * 255 + 0.5).astype(np.uint8)))


def test_palette_without_transparency_becomes_rgb():
    pal = Image.frombytes("P", (3, 4), (_u8((4, 3), seed=1) % 4).tobytes())
    pal.putpalette([200, 100, 50, 10, 20, 30, 0, 255, 0, 9, 8, 7] + [0] * 756)
    out = upscale_image(_Nearest(), pal, CPU, scale=2, tile_px=0)
    assert out.mode == "RGB"
    np.testing.assert_array_equal(np.array(out), _nearest2(np.array(pal.convert("RGB"))))


def test_palette_with_transparency_becomes_rgba():
    pal = Image.new("P", (3, 2), 1)
    pal.putpalette([0, 0, 0, 200, 100, 50] + [0] * 762)
    pal.putpixel((0, 0), 0)
    pal.info["transparency"] = 0
    out = upscale_image(_Nearest(), pal, CPU, scale=2, tile_px=0)
    assert out.mode == "RGBA"
    rgba = pal.convert("RGBA")
    np.testing.assert_array_equal(np.array(out)[:, :, :3], _nearest2(np.array(rgba)[:, :, :3]))
    np.testing.assert_array_equal(np.array(out)[:, :, 3], _bicubic_alpha(rgba.getchannel("A")))


def test_palette_with_alpha_keeps_its_alpha():
    pal = Image.new("P", (3, 2), 1)
    pal.putpalette([0, 0, 0, 200, 100, 50] + [0] * 762)
    alpha = Image.fromarray(np.arange(6, dtype=np.uint8).reshape(2, 3) * 40)
    pa = Image.merge("PA", [pal, alpha])
    assert "transparency" not in pa.info
    out = upscale_image(_Nearest(), pa, CPU, scale=2, tile_px=0)
    assert out.mode == "RGBA"
    np.testing.assert_array_equal(np.array(out)[:, :, :3], _nearest2(np.array(pa.convert("RGB"))))
    np.testing.assert_array_equal(np.array(out)[:, :, 3], _bicubic_alpha(alpha))


def test_premultiplied_rgba_comes_back_as_rgba():
    rgba = Image.fromarray(_u8((4, 5, 4), seed=2), "RGBA")
    premultiplied = rgba.convert("RGBa")
    out = upscale_image(_Nearest(), premultiplied, CPU, scale=2, tile_px=0)
    assert out.mode == "RGBA"
    straight = premultiplied.convert("RGBA")  # PIL's own un-premultiplying
    np.testing.assert_array_equal(np.array(out)[:, :, :3], _nearest2(np.array(straight)[:, :, :3]))
    np.testing.assert_array_equal(np.array(out)[:, :, 3], _bicubic_alpha(straight.getchannel("A")))


def test_premultiplied_gray_alpha_comes_back_as_la():
    la = Image.fromarray(_u8((4, 5, 2), seed=3), "LA")
    premultiplied = la.convert("La")
    out = upscale_image(_Nearest(), premultiplied, CPU, scale=2, tile_px=0)
    assert out.mode == "LA"
    straight = premultiplied.convert("LA")
    np.testing.assert_array_equal(np.array(out)[:, :, 0], _nearest2(np.array(straight)[:, :, 0]))
    np.testing.assert_array_equal(np.array(out)[:, :, 1], _bicubic_alpha(straight.getchannel("A")))


def test_a_mode_it_cannot_read_is_an_error_naming_the_image():
    """Pillow 13 makes no mode outside SUPPORTED_MODES; a mode a later Pillow adds must still name the image."""

    class _FutureModeImage(Image.Image):
        @property
        def mode(self) -> str:
            return "I;12"

    img = Image.new("L", (2, 2))
    img.__class__ = _FutureModeImage
    with pytest.raises(SrganError) as e:
        upscale_image(_Nearest(), img, CPU, scale=2, tile_px=0, name="odd.tif")
    assert str(e.value) == ("image odd.tif has PIL mode I;12, which is not supported (1, L, LA, La, I;16, I;16B, "
                            "I;16L, I;16N, I, F, RGB, RGBA, RGBa, RGBX, P, PA, CMYK, YCbCr, LAB, HSV)")


def test_default_overlap_is_16_lr_px_and_every_tile_is_reported(tiny):
    """20x20 LR px in tiles of 18: an overlap of 16 gives 2x2 tiles (17 would give 3x3)."""
    rgb = _u8((20, 20, 3), seed=4)
    calls = []
    out = upscale_image(tiny, Image.fromarray(rgb), CPU, scale=2, tile_px=18, on_tile=lambda *a: calls.append(a))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    np.testing.assert_array_equal(np.array(out), super_resolve_u8(tiny, rgb, CPU, tile_px=18, overlap_px=16))


# ---------------------------------------------------------------- _fit_format

# (format, mode in) -> mode out
_FIT = {
    ("PNG", "L"): "L", ("PNG", "LA"): "LA", ("PNG", "RGB"): "RGB", ("PNG", "RGBA"): "RGBA",
    ("TIFF", "L"): "L", ("TIFF", "LA"): "LA", ("TIFF", "RGB"): "RGB", ("TIFF", "RGBA"): "RGBA",
    ("JPEG", "L"): "L", ("JPEG", "LA"): "L", ("JPEG", "RGB"): "RGB", ("JPEG", "RGBA"): "RGB",
    ("WEBP", "L"): "RGB", ("WEBP", "LA"): "RGBA", ("WEBP", "RGB"): "RGB", ("WEBP", "RGBA"): "RGBA",
    ("BMP", "L"): "L", ("BMP", "LA"): "RGBA", ("BMP", "RGB"): "RGB", ("BMP", "RGBA"): "RGBA",
}


@pytest.mark.parametrize(("fmt", "mode"), list(_FIT))
def test_fit_format_converts_to_a_mode_the_format_stores(fmt, mode, caplog):
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}[mode]
    arr = _u8((3, 4, channels), seed=5)
    img = Image.fromarray(arr[:, :, 0] if channels == 1 else arr, mode)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        out = _fit_format(img, fmt, "in/x.png")
    want = _FIT[fmt, mode]
    assert out.mode == want
    np.testing.assert_array_equal(np.array(out), np.array(img.convert(want)))  # PIL's own conversion
    dropped = fmt == "JPEG" and mode in ("LA", "RGBA")
    assert _warnings(caplog) == (["in/x.png: JPEG has no alpha channel; transparency is dropped"] if dropped else [])


# ---------------------------------------------------------------- check_output_folder


def test_an_output_that_is_a_file_is_refused_in_one_line(tmp_path):
    (tmp_path / "out.png").write_bytes(b"x")
    with pytest.raises(SrganError) as e:
        check_output_folder(tmp_path / "out.png")
    assert str(e.value) == (f"-o {tmp_path / 'out.png'} is a file; srgan upscale writes one image per input into a "
                            "folder: give a folder (it is created when missing)")


def test_an_output_under_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(SrganError) as e:
        check_output_folder(tmp_path / "f" / "a" / "b")
    assert str(e.value) == f"-o {tmp_path / 'f' / 'a' / 'b'}: {tmp_path / 'f'} is a file, so the folder cannot be " \
                           "made there"


def test_a_folder_without_write_and_search_permission_is_refused(tmp_path, monkeypatch):
    """os.access is asked for write and search together (faked: this suite may run as root, who may write anywhere)."""
    asked = []

    def access(path, mode):
        asked.append((Path(path), mode))
        return mode & os.W_OK == 0  # writing is refused

    monkeypatch.setattr(upscale.os, "access", access)
    with pytest.raises(SrganError) as e:
        check_output_folder(tmp_path / "new" / "deeper")
    assert str(e.value) == f"-o {tmp_path / 'new' / 'deeper'}: {tmp_path} is not writable"
    assert asked == [(tmp_path, os.W_OK | os.X_OK)]
    assert _files(tmp_path) == []  # nothing made


def test_a_usable_output_folder_is_checked_without_creating_it(tmp_path):
    check_output_folder(tmp_path / "a" / "b")
    check_output_folder(tmp_path)
    assert _files(tmp_path) == []


# ---------------------------------------------------------------- output_path


def test_output_path_names(tmp_path):
    assert output_path(Path("in/photo.JPG"), tmp_path, None) == tmp_path / "photo.jpg"
    assert output_path(Path("in/anim.gif"), tmp_path, None) == tmp_path / "anim.png"
    assert output_path(Path("in/anim.gif"), tmp_path, "WEBP") == tmp_path / "anim.webp"
    assert output_path(Path("in/a.b.png"), tmp_path, "tif") == tmp_path / "a.b.tif"


def test_output_path_for_an_input_without_a_suffix_says_so(tmp_path):
    with pytest.raises(SrganError) as e:
        output_path(Path("in/README"), tmp_path, None)
    assert str(e.value) == "cannot write files without a suffix (in/README); use --format png|jpg|webp|tiff"


def test_output_path_for_an_unknown_format_names_it(tmp_path):
    with pytest.raises(SrganError) as e:
        output_path(Path("in/a.png"), tmp_path, "heic")
    assert str(e.value) == "cannot write .heic (in/a.png); use --format png|jpg|webp|tiff"


# ---------------------------------------------------------------- upscale_file


def test_file_output_is_the_model_output_rounded(tiny, tmp_path):
    rgb = _u8((6, 9, 3), seed=6)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    size = upscale_file(tiny, tmp_path / "a.png", tmp_path / "out" / "a.png", CPU, scale=2, tile_px=0)
    assert size == (18, 12)
    with Image.open(tmp_path / "out" / "a.png") as img:
        assert img.format == "PNG" and img.mode == "RGB" and "icc_profile" not in img.info
        np.testing.assert_array_equal(np.array(img), _sr_by_hand(tiny, rgb))
    assert _files(tmp_path / "out") == ["a.png"]  # no temporaries left


@pytest.mark.parametrize(("suffix", "fmt", "options"), [
    (".jpg", "JPEG", {"quality": 95}),
    (".webp", "WEBP", {"quality": 95}),
    (".tif", "TIFF", {"compression": "tiff_deflate"}),
    (".bmp", "BMP", {}),
])
def test_file_bytes_are_the_format_with_its_save_options(tiny, tmp_path, suffix, fmt, options):
    rgb = _u8((5, 6, 3), seed=7)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    upscale_file(tiny, tmp_path / "a.png", tmp_path / f"b{suffix}", CPU, scale=2, tile_px=0)
    expected = io.BytesIO()
    Image.fromarray(_sr_by_hand(tiny, rgb)).save(expected, format=fmt, **options)
    assert (tmp_path / f"b{suffix}").read_bytes() == expected.getvalue()


def test_an_existing_output_is_replaced(tiny, tmp_path):
    Image.fromarray(_u8((4, 4, 3))).save(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"old")
    upscale_file(_Nearest(), tmp_path / "a.png", tmp_path / "b.png", CPU, scale=2, tile_px=0)
    with Image.open(tmp_path / "b.png") as img:
        np.testing.assert_array_equal(np.array(img), _nearest2(_u8((4, 4, 3))))
    assert _files(tmp_path) == ["a.png", "b.png"]


def test_an_unknown_output_suffix_is_refused_in_full(tmp_path):
    Image.fromarray(_u8((4, 4, 3))).save(tmp_path / "a.png")
    with pytest.raises(SrganError) as e:
        upscale_file(_Nearest(), tmp_path / "a.png", tmp_path / "a.gif", CPU, scale=2, tile_px=0)
    assert str(e.value) == f"cannot write {tmp_path / 'a.gif'}: unknown suffix; use one of .png, .jpg, .jpeg, .webp, " \
                           ".tif, .tiff, .bmp"
    assert _files(tmp_path) == ["a.png"]


def _with_profile(path: Path, mode: str) -> None:
    if mode in ("P", "1", "I;16"):  # a palette of RGB colours, a bilevel and a 16-bit gray image
        arr = _u8((4, 5, 3), seed=8)
        img = {"P": lambda: Image.fromarray(arr).quantize(6), "1": lambda: Image.fromarray(arr[:, :, 0]).convert("1"),
               "I;16": lambda: Image.fromarray(arr[:, :, 0].astype(np.uint16) * 257)}[mode]()
        img.save(path, icc_profile=ICC)
        return
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "CMYK": 4}[mode]
    arr = _u8((4, 5, channels), seed=8)
    img = Image.fromarray(arr[:, :, 0], "L") if channels == 1 else Image.frombytes(mode, (5, 4), arr.tobytes())
    img.save(path, icc_profile=ICC)


@pytest.mark.parametrize(("mode", "src", "dst", "kept"), [
    ("RGB", "a.png", "b.png", True),
    ("RGBA", "a.png", "b.png", True),
    ("RGBA", "a.png", "b.jpg", True),  # RGBA -> RGB: same family
    ("L", "a.png", "b.png", True),
    ("LA", "a.png", "b.png", True),
    ("LA", "a.png", "b.jpg", True),  # LA -> L
    ("L", "a.png", "b.webp", False),  # gray -> RGB: a gray profile does not describe RGB
    ("LA", "a.png", "b.webp", False),  # LA -> RGBA
    ("CMYK", "a.jpg", "b.png", False),  # CMYK -> RGB: a CMYK profile does not describe RGB
    ("P", "a.png", "b.png", True),  # a palette's colours are RGB in the profile's space
    ("P", "a.png", "b.jpg", True),
    ("1", "a.png", "b.png", True),  # bilevel -> L: gray
    ("I;16", "a.png", "b.png", True),  # 16-bit gray -> 8-bit gray
    ("I;16", "a.png", "b.webp", False),
])
def test_a_colour_profile_is_kept_only_within_its_colour_family(tmp_path, mode, src, dst, kept):
    _with_profile(tmp_path / src, mode)
    with Image.open(tmp_path / src) as img:
        assert img.mode == mode and img.info["icc_profile"] == ICC
    upscale_file(_Nearest(), tmp_path / src, tmp_path / dst, CPU, scale=2, tile_px=0)
    with Image.open(tmp_path / dst) as img:
        assert img.info.get("icc_profile") == (ICC if kept else None)


def test_a_file_without_a_profile_gets_none(tmp_path):
    Image.fromarray(_u8((4, 4, 3))).save(tmp_path / "a.png")
    upscale_file(_Nearest(), tmp_path / "a.png", tmp_path / "b.png", CPU, scale=2, tile_px=0)
    with Image.open(tmp_path / "b.png") as img:
        assert "icc_profile" not in img.info


def test_file_warnings_name_the_input_file(tmp_path, caplog):
    Image.fromarray(np.full((3, 4), 40000, dtype=np.uint16)).save(tmp_path / "deep.png")
    Image.fromarray(_u8((3, 4, 4)), "RGBA").save(tmp_path / "alpha.png")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        upscale_file(_Nearest(), tmp_path / "deep.png", tmp_path / "deep.jpg", CPU, scale=2, tile_px=0)
        upscale_file(_Nearest(), tmp_path / "alpha.png", tmp_path / "alpha.jpg", CPU, scale=2, tile_px=0)
    assert _warnings(caplog) == [
        f"{tmp_path / 'deep.png'} is I;16 (more than 8 bits); the result is written as 8-bit grayscale",
        f"{tmp_path / 'alpha.png'}: JPEG has no alpha channel; transparency is dropped",
    ]
    with Image.open(tmp_path / "deep.jpg") as img:
        assert img.mode == "L" and img.size == (8, 6)


def test_file_default_overlap_is_16_lr_px_and_every_tile_is_reported(tiny, tmp_path):
    rgb = _u8((20, 20, 3), seed=9)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    calls = []
    upscale_file(tiny, tmp_path / "a.png", tmp_path / "b.png", CPU, scale=2, tile_px=18,
                 on_tile=lambda *a: calls.append(a))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    with Image.open(tmp_path / "b.png") as img:
        np.testing.assert_array_equal(np.array(img), super_resolve_u8(tiny, rgb, CPU, tile_px=18, overlap_px=16))


@pytest.mark.parametrize(("tile_px", "hint"), [
    (-1, "use --tile 256"),
    (0, "use --tile 256"),
    (1, "use a smaller --tile than 1"),
    (2, "use a smaller --tile than 2"),
])
@pytest.mark.parametrize("error", [MemoryError, torch.cuda.OutOfMemoryError])
def test_out_of_memory_suggests_a_tile_size_and_writes_nothing(tmp_path, tile_px, hint, error):
    Image.fromarray(_u8((3, 3, 3))).save(tmp_path / "a.png")
    with pytest.raises(SrganError) as e:
        upscale_file(_OutOfMemory(error), tmp_path / "a.png", tmp_path / "b.png", CPU, scale=2, tile_px=tile_px,
                     overlap_px=0)
    assert str(e.value) == f"out of memory upscaling {tmp_path / 'a.png'}; {hint}"
    assert _files(tmp_path) == ["a.png"]


def test_a_failed_write_is_one_line_and_leaves_nothing_half_written(tmp_path, monkeypatch):
    Image.fromarray(_u8((3, 3, 3))).save(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"old")

    def save_half(self, fp, format=None, **params):
        Path(fp).write_bytes(b"\x89PNG half")
        raise OSError("No space left on device")

    monkeypatch.setattr(Image.Image, "save", save_half)
    with pytest.raises(SrganError) as e:
        upscale_file(_Nearest(), tmp_path / "a.png", tmp_path / "b.png", CPU, scale=2, tile_px=0)
    assert str(e.value) == f"cannot write {tmp_path / 'b.png'} (from {tmp_path / 'a.png'}): No space left on device"
    assert _files(tmp_path) == ["a.png", "b.png"]
    assert (tmp_path / "b.png").read_bytes() == b"old"


def test_an_output_folder_that_cannot_be_made_is_one_line(tmp_path):
    Image.fromarray(_u8((3, 3, 3))).save(tmp_path / "a.png")
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(SrganError) as e:
        upscale_file(_Nearest(), tmp_path / "a.png", tmp_path / "f" / "b.png", CPU, scale=2, tile_px=0)
    with pytest.raises(OSError) as cause:
        (tmp_path / "f").mkdir(parents=True, exist_ok=True)  # what atomic_path meets
    assert str(e.value) == f"cannot write {tmp_path / 'f' / 'b.png'} (from {tmp_path / 'a.png'}): {cause.value}"
    assert _files(tmp_path) == ["a.png", "f"]
