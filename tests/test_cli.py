"""Tests for `srgan upscale` and srgan.inference.upscale: inputs (skipped and unsupported files), colour modes,
formats, the --model checkpoint path."""

from __future__ import annotations

import io
import json
import math
import re
import runpy
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from torch import nn

from srgan.cli import UpscaleProgress, build_parser, main
from srgan.core.errors import SrganError
from srgan.core.runtime import Runtime
from srgan.inference.generator import save_generator
from srgan.inference.upscale import collect_inputs, upscale_file, upscale_image
from srgan.nets.srresnet import SRResNet

from published_layouts import lornatang_state, msrresnet_state

CPU = Runtime(device=torch.device("cpu"), amp_dtype=None, channels_last=False)
ROOT = Path(__file__).resolve().parents[1]


def _save_tiny(path: Path, scale: int = 4) -> Path:
    save_generator(path, SRResNet(scale=scale, num_blocks=2, channels=8), experiment="srresnet", variant="mse")
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return _save_tiny(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


def _rgb(w: int = 9, h: int = 7, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    """Call `srgan.cli.main` in-process; returns (exit code, stdout, stderr)."""
    try:
        main(argv)
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
    out, err = capsys.readouterr()
    return code, out, err


def test_upscale_folder_with_good_and_bad_files(tmp_path, checkpoint):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    Image.fromarray(_rgb()).save(src / "rgb.png")
    Image.fromarray(_rgb()[:, :, 0]).save(src / "gray.png")
    rgba = np.dstack([_rgb(), np.linspace(0, 255, 63, dtype=np.uint8).reshape(7, 9)])
    Image.fromarray(rgba).save(src / "rgba.png")
    Image.fromarray(_rgb()).convert("P", palette=Image.Palette.ADAPTIVE, colors=8).save(src / "palette.png")
    Image.fromarray((np.arange(63, dtype=np.uint16).reshape(7, 9) * 1000)).save(src / "deep16.png")
    Image.fromarray(_rgb()).save(src / "photo.jpg", quality=90)
    (src / "corrupt.png").write_bytes(np.random.default_rng(1).bytes(500))
    full = (src / "rgb.png").read_bytes()
    (src / "truncated.png").write_bytes(full[: len(full) // 2])
    (src / "notes.txt").write_text("not an image")
    frames = [Image.fromarray(_rgb(seed=k)).convert("P", palette=Image.Palette.ADAPTIVE) for k in range(3)]
    frames[0].save(src / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    (src / ".rgb.png.1234.tmp").write_bytes(b"left by an interrupted run")
    (src / "._rgb.png").write_bytes(b"macOS resource fork")

    proc = subprocess.run(
        [sys.executable, "-m", "srgan.cli", "upscale", str(src), "-o", str(out), "--model", str(checkpoint),
         "--device", "cpu", "--tile", "4", "--tile-overlap", "1"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    error_lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(error_lines) == 2
    assert any("corrupt.png" in ln for ln in error_lines) and any("truncated.png" in ln for ln in error_lines)
    assert "7 written" in proc.stdout and "2 failed, 1 skipped" in proc.stdout
    skipped = [ln for ln in proc.stderr.splitlines() if "skipped" in ln]
    assert len(skipped) == 1  # hidden files are passed over silently
    assert any("notes.txt: .txt is not a supported image type" in ln for ln in skipped)
    # An animated GIF: its first frame is upscaled like any palette image, and the log says so.
    assert any("anim.gif has 3 frames" in ln and "only the first is used" in ln for ln in proc.stderr.splitlines())

    expected_modes = {"rgb.png": "RGB", "gray.png": "L", "rgba.png": "RGBA", "palette.png": "RGB",
                      "deep16.png": "L", "photo.jpg": "RGB", "anim.png": "RGB"}
    assert sorted(p.name for p in out.iterdir()) == sorted(expected_modes)  # no temp or partial files
    for name, mode in expected_modes.items():
        with Image.open(out / name) as img:
            assert img.size == (36, 28) and img.mode == mode, name
    with Image.open(out / "photo.jpg") as img:
        assert img.format == "JPEG"
    with Image.open(out / "rgba.png") as img:
        alpha = np.asarray(img.getchannel("A"), dtype=float)
    assert alpha[0, 0] < 30 and alpha[-1, -1] > 225  # the ramp survived, upscaled


@pytest.mark.parametrize(("fmt", "mode", "format_name"), [("jpg", "RGB", "JPEG"), ("webp", "RGBA", "WEBP"),
                                                         ("tiff", "RGBA", "TIFF"), ("png", "RGBA", "PNG")])
def test_upscale_format_option(tmp_path, checkpoint, capsys, fmt, mode, format_name):
    rgba = np.dstack([_rgb(), np.full((7, 9), 200, dtype=np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "a.png")
    code, out, _ = _run(["upscale", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--model",
                         str(checkpoint), "--device", "cpu", "--format", fmt], capsys)
    assert code == 0 and "1 written" in out
    with Image.open(tmp_path / "out" / f"a.{fmt}") as img:
        assert (img.format, img.mode, img.size) == (format_name, mode, (36, 28))


def test_jpeg_output_drops_alpha_with_a_warning(tmp_path, checkpoint, capsys, caplog):
    Image.new("LA", (5, 4), (90, 100)).save(tmp_path / "la.png")
    code, _, _ = _run(["upscale", str(tmp_path / "la.png"), "-o", str(tmp_path / "out"), "--model",
                       str(checkpoint), "--device", "cpu", "--format", "jpg"], capsys)
    assert code == 0
    assert "transparency is dropped" in caplog.text
    with Image.open(tmp_path / "out" / "la.jpg") as img:
        assert img.mode == "L" and img.size == (20, 16)


def test_explicit_unsupported_file_says_why(tmp_path, checkpoint, capsys):
    (tmp_path / "x.svg").write_text("<svg/>")
    Image.fromarray(_rgb()).save(tmp_path / "a.png")
    code, out, err = _run(["upscale", str(tmp_path / "x.svg"), str(tmp_path / "a.png"), "-o", str(tmp_path / "out"),
                           "--model", str(checkpoint), "--device", "cpu"], capsys)
    assert code == 1 and "1 written" in out and "1 failed" in out
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert errors == [f"error: {tmp_path / 'x.svg'}: .svg is not a supported image type "
                      "(png, jpg, jpeg, bmp, tif, tiff, webp, gif)"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png"]


def test_a_gif_is_upscaled_to_a_png(tmp_path, checkpoint, capsys):
    palette = Image.fromarray(_rgb()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.save(tmp_path / "p.gif")
    code, out, _ = _run(["upscale", str(tmp_path / "p.gif"), "-o", str(tmp_path / "out"), "--model",
                         str(checkpoint), "--device", "cpu"], capsys)
    assert code == 0 and "1 written" in out
    with Image.open(tmp_path / "out" / "p.png") as img:
        assert (img.format, img.mode, img.size) == ("PNG", "RGB", (36, 28))


@pytest.mark.parametrize("inputs", [["/no/such.png"], ["/no/such/folder"]])
def test_upscale_of_a_path_that_does_not_exist_says_so_in_one_line(tmp_path, checkpoint, capsys, inputs):
    code, out, err = _run(["upscale", *inputs, "-o", str(tmp_path / "out"), "--model", str(checkpoint),
                           "--device", "cpu"], capsys)
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [f"error: input {inputs[0]} does not exist (no such file or folder)"]


@pytest.mark.parametrize(("out", "message"), [
    ("taken.png", "-o {tmp}/taken.png is a file; srgan upscale writes one image per input into a folder"),
    ("taken.png/sub", "-o {tmp}/taken.png/sub: {tmp}/taken.png is a file, so the folder cannot be made there"),
])
def test_an_output_that_cannot_be_a_folder_is_one_line_before_the_model_loads(tmp_path, checkpoint, capsys,
                                                                              monkeypatch, out, message):
    import srgan.inference.folding

    def no_loading(*args, **kwargs):
        raise AssertionError("the model was loaded before the output folder was checked")

    monkeypatch.setattr(srgan.inference.folding, "load_for_inference", no_loading)
    Image.fromarray(_rgb()).save(tmp_path / "taken.png")
    code, out_text, err = _run(["upscale", str(tmp_path / "taken.png"), "-o", str(tmp_path / out), "--model",
                                str(checkpoint), "--device", "cpu"], capsys)
    assert code == 1 and out_text == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: " + message.format(tmp=tmp_path)), lines
    assert (tmp_path / "taken.png").is_file()


def test_other_path_mistakes_are_one_line(tmp_path, capsys):
    (tmp_path / "file.txt").write_text("not a folder\n")
    code, _, err = _run(["evaluate", "--model", "bicubic", "--device", "cpu", str(tmp_path / "file.txt")], capsys)
    assert code == 1 and err.strip().splitlines()[-1] == f"error: dataset folder {tmp_path / 'file.txt'} is a file, not a folder"
    code, out, err = _run(["check", str(tmp_path)], capsys)
    assert code == 1 and (out + err).strip() == (f"params file {tmp_path} is a folder; give the params file "
                                                 f"(e.g. {tmp_path / 'params.yaml'})")


@pytest.mark.parametrize("model", ["srgan_vgg19_5_4", "models/srresnet/best.pt"])
def test_model_is_a_checkpoint_path_and_a_missing_one_is_one_line(tmp_path, capsys, monkeypatch, model):
    monkeypatch.chdir(tmp_path)
    # A pipeline-looking layout is not searched: --model is a path, nothing else.
    _save_tiny(tmp_path / "models" / "srgan" / "vgg19_5_4" / "best.pt")
    Image.fromarray(_rgb()).save(tmp_path / "a.png")
    code, _, err = _run(["upscale", "a.png", "-o", "out", "--model", model, "--device", "cpu"], capsys)
    assert code == 1
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines == [f"error: --model {model}: no such file; pass the path of a generator checkpoint (.pt) or of an "
                     "ONNX model (.onnx)"]
    assert not (tmp_path / "out").exists()


def test_model_path_relative_to_the_working_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _save_tiny(tmp_path / "models" / "srgan" / "vgg19_5_4" / "best.pt")
    Image.fromarray(_rgb()).save(tmp_path / "a.bmp")
    code, out, _ = _run(["upscale", "a.bmp", "-o", "out", "--model", "models/srgan/vgg19_5_4/best.pt",
                         "--device", "cpu"], capsys)
    assert code == 0 and "1 written" in out
    with Image.open(tmp_path / "out" / "a.bmp") as img:
        assert img.size == (36, 28)


def test_wrong_scale_checkpoint_is_a_clear_message(tmp_path, capsys):
    ckpt = _save_tiny(tmp_path / "x2.pt", scale=2)
    Image.fromarray(_rgb()).save(tmp_path / "a.png")
    code, _, err = _run(["upscale", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--model", str(ckpt),
                         "--device", "cpu", "--scale", "4"], capsys)
    assert code == 1
    line = err.strip().splitlines()[-1]
    assert line.startswith("error: checkpoint") and "x2.pt" in line and "x2" in line and "4" in line
    assert "Traceback" not in err


def test_output_never_overwrites_input_and_missing_inputs_fail(tmp_path, checkpoint, capsys):
    Image.fromarray(_rgb()).save(tmp_path / "a.png")
    original = (tmp_path / "a.png").read_bytes()
    code, out, err = _run(["upscale", str(tmp_path / "a.png"), str(tmp_path / "missing.png"), "-o", str(tmp_path),
                           "--model", str(checkpoint), "--device", "cpu"], capsys)
    assert code == 1 and "0 written" in out and "2 failed" in out
    assert "missing.png does not exist" in err and "overwrite the input" in err
    assert (tmp_path / "a.png").read_bytes() == original


def test_upscale_help_documents_colour_handling():
    sub = build_parser()._subparsers._group_actions[0].choices["upscale"]
    text = sub.format_help()
    for phrase in ("Grayscale", "RGBA", "Palette", "8-bit", "--tile", "checkpoint (.pt)", "skipped", "EXIF"):
        assert phrase in text
    assert "srgan_<loss>" not in text  # no model names: paths live in dvc.yaml


# ---------------------------------------------------------------- srgan.inference.upscale


class _NearestUp(nn.Module):
    scale = 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.interpolate(x, scale_factor=4, mode="nearest")


def test_upscale_image_modes():
    model = _NearestUp()
    rgba = Image.new("RGBA", (6, 5), (10, 20, 30, 128))
    out = upscale_image(model, rgba, CPU, scale=4, tile_px=0)
    assert out.mode == "RGBA" and out.size == (24, 20)
    assert out.getpixel((3, 3)) == (10, 20, 30, 128)
    la = upscale_image(model, Image.new("LA", (6, 5), (77, 200)), CPU, scale=4, tile_px=0)
    assert la.mode == "LA" and la.getpixel((0, 0)) == (77, 200)
    gray16 = Image.fromarray(np.full((5, 6), 65535, dtype=np.uint16))
    out16 = upscale_image(model, gray16, CPU, scale=4, tile_px=0)
    assert out16.mode == "L" and out16.getpixel((0, 0)) == 255
    pal = Image.new("P", (6, 5), 1)
    pal.putpalette([0, 0, 0, 200, 100, 50] + [0] * 762)
    assert upscale_image(model, pal, CPU, scale=4, tile_px=0).getpixel((0, 0)) == (200, 100, 50)
    pal.info["transparency"] = 1
    assert upscale_image(model, pal, CPU, scale=4, tile_px=0).mode == "RGBA"
    cmyk = upscale_image(model, Image.new("CMYK", (6, 5), (0, 255, 255, 0)), CPU, scale=4, tile_px=0)
    assert cmyk.mode == "RGB" and cmyk.getpixel((0, 0)) == (255, 0, 0)


def test_upscale_file_reads_with_the_shared_reader(tmp_path):
    """EXIF orientation applies to upscaling too (one reader for prepare and upscale)."""
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    Image.fromarray(_rgb(w=6, h=4)).save(tmp_path / "rot.png", exif=exif)
    size = upscale_file(_NearestUp(), tmp_path / "rot.png", tmp_path / "out.png", CPU, scale=4, tile_px=0)
    assert size == (16, 24)
    with pytest.raises(SrganError, match=r"x\.svg: \.svg is not a supported image type"):
        upscale_file(_NearestUp(), tmp_path / "x.svg", tmp_path / "x.png", CPU, scale=4, tile_px=0)


def test_collect_inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("b.png", "a.JPG", "c.gif", "d.psd", "README", ".hidden.png", ".a.png.77.tmp"):
        (folder / name).write_bytes(b"x")
    (folder / "nested").mkdir()
    (tmp_path / "x.webp").write_bytes(b"x")
    (tmp_path / "y.heic").write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    found = collect_inputs([tmp_path / "x.webp", folder, tmp_path / "y.heic", tmp_path / "gone.png",
                            tmp_path / "empty"])
    assert [p.name for p in found.files] == ["x.webp", "a.JPG", "b.png", "c.gif"]
    assert [(p.name, why.split(" (")[0]) for p, why in found.skipped] == [
        ("README", "a file without a suffix is not a supported image type"),
        ("d.psd", ".psd is not a supported image type"),
    ]
    assert found.errors[0].startswith(f"{tmp_path / 'y.heic'}: .heic is not a supported image type (png, jpg")
    assert found.errors[1] == f"input {tmp_path / 'gone.png'} does not exist (no such file or folder)"
    assert found.errors[2].startswith(f"folder {tmp_path / 'empty'} holds no png/jpg/")
    assert len(found.errors) == 3


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.skipif(not (SHARED / "Set5" / "HR").is_dir(), reason="../shared/data/Set5 is not present")
def test_evaluate_a_local_set5_folder(capsys):
    """`srgan evaluate` on the real Set5 folder: the bicubic baseline gives the published figures."""
    from srgan.cli import main

    main(["evaluate", "--model", "bicubic", "--device", "cpu", str(SHARED / "Set5")])
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == "bicubic" and set(result) == {"model", "experiment", "variant", "lpips_alex_status",
                                                             "scores"}
    scores = result["scores"]["Set5"]
    assert scores["images"] == 5
    assert scores["psnr_y_db"] == pytest.approx(28.42, abs=0.02)
    assert scores["ssim_y"] == pytest.approx(0.810, abs=0.002)
    assert {"psnr_rgb_db", "ms_ssim_rgb"} <= set(scores)


def test_evaluate_a_checkpoint_names_it_and_its_run(tmp_path, checkpoint, capsys):
    folder = tmp_path / "tiny" / "HR"
    folder.mkdir(parents=True)
    Image.fromarray(_rgb(48, 40)).save(folder / "a.png")
    main(["evaluate", "--model", str(checkpoint), "--device", "cpu", str(tmp_path / "tiny")])
    result = json.loads(capsys.readouterr().out)
    assert (result["model"], result["experiment"], result["variant"]) == (str(checkpoint), "srresnet", "mse")
    assert result["scores"]["tiny"]["images"] == 1 and "psnr_y_db" in result["scores"]["tiny"]


# ---------------------------------------------------------------- srgan import, srgan export


def _lornatang_file(path: Path, ups: int = 2) -> Path:
    """A Lornatang/SRGAN-PyTorch training checkpoint (.pth.tar, weights under state_dict) of a small SRResNet."""
    torch.save({"epoch": 3, "state_dict": lornatang_state(blocks=2, channels=8, ups=ups)}, path)
    return path


def test_import_then_evaluate_and_upscale_the_imported_generator(tmp_path, capsys):
    source = _lornatang_file(tmp_path / "SRGAN_x4-ImageNet.pth.tar")
    code, out, err = _run(["import", "lornatang", str(source), "-o", str(tmp_path / "g.pt")], capsys)
    assert code == 0 and err == ""
    assert out.strip() == (f"{tmp_path / 'g.pt'}: SRResNet x4, 2 blocks, 8 channels, imported from "
                           "SRGAN_x4-ImageNet.pth.tar (lornatang: Lornatang/SRGAN-PyTorch model.py SRResNet "
                           "(2022-10-31 on))")
    Image.fromarray(_rgb()).save(tmp_path / "a.png")
    code, out, err = _run(["upscale", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--model",
                           str(tmp_path / "g.pt"), "--device", "cpu"], capsys)
    assert code == 0 and "1 written" in out and "weights imported from SRGAN_x4-ImageNet.pth.tar" in err
    folder = tmp_path / "tiny" / "HR"
    folder.mkdir(parents=True)
    Image.fromarray(_rgb(48, 40)).save(folder / "a.png")
    code, out, _ = _run(["evaluate", "--model", str(tmp_path / "g.pt"), "--device", "cpu", str(tmp_path / "tiny")],
                        capsys)
    result = json.loads(out)
    scores = result["scores"]["tiny"]
    assert code == 0 and scores["images"] == 1 and math.isfinite(scores["psnr_y_db"])


def _bad_import(tmp_path: Path, case: str) -> tuple[list[str], str]:
    """(argv, the expected line's start after 'error: ') for one bad input of `srgan import`."""
    out = tmp_path / "out" / "g.pt"
    good = _lornatang_file(tmp_path / "good.pth.tar")
    if case == "missing":
        return ["lornatang", str(tmp_path / "nope.pth.tar")], f"checkpoint {tmp_path / 'nope.pth.tar'} not found"
    if case == "not a checkpoint":
        (tmp_path / "notes.pth").write_text("these are not weights")
        return ["lornatang", str(tmp_path / "notes.pth")], f"checkpoint {tmp_path / 'notes.pth'} is not a readable"
    if case == "truncated":
        data = good.read_bytes()
        (tmp_path / "cut.pth.tar").write_bytes(data[: len(data) // 2])
        return ["lornatang", str(tmp_path / "cut.pth.tar")], f"checkpoint {tmp_path / 'cut.pth.tar'} is not a readable"
    if case == "wrong scale":
        x2 = _lornatang_file(tmp_path / "x2.pth.tar", ups=1)
        return ["lornatang", str(x2)], f"checkpoint {x2} is a x2 generator"
    if case == "another architecture":
        torch.save({"params": msrresnet_state()}, tmp_path / "MSRResNet.pth")
        return ["lornatang", str(tmp_path / "MSRResNet.pth")], (
            f"checkpoint {tmp_path / 'MSRResNet.pth'} holds BasicSR's MSRResNet")
    if case == "unknown format":
        return ["esrgan", str(good)], "unknown import format 'esrgan'; known formats: lornatang"
    if case == "output exists":
        out.parent.mkdir()
        out.write_bytes(b"keep me")
        return ["lornatang", str(good)], f"output {out} exists"
    raise ValueError(case)


@pytest.mark.parametrize("case", ["missing", "not a checkpoint", "truncated", "wrong scale", "another architecture",
                                  "unknown format", "output exists"])
def test_import_of_a_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, case):
    argv, expected = _bad_import(tmp_path, case)
    out = tmp_path / "out" / "g.pt"
    code, stdout, err = _run(["import", *argv, "-o", str(out)], capsys)
    lines = err.strip().splitlines()
    assert code == 1 and stdout == "" and len(lines) == 1 and lines[0].startswith(f"error: {expected}"), err
    if case == "output exists":
        assert out.read_bytes() == b"keep me"
    else:
        assert not out.parent.exists() or list(out.parent.iterdir()) == []  # no file, no temporary


def test_export_onnx_then_upscale_with_onnxruntime(tmp_path, checkpoint, capsys):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    code, out, _ = _run(["export", str(checkpoint), "-o", str(tmp_path / "g.onnx")], capsys)
    assert code == 0 and out.startswith(f"{tmp_path / 'g.onnx'}: ONNX opset 18, ")
    assert float(out.split("max |onnxruntime - torch| = ")[1].split()[0]) <= 1e-4
    Image.fromarray(_rgb()).save(tmp_path / "a.png")
    argv = ["upscale", str(tmp_path / "a.png"), "-o", str(tmp_path / "onnx"), "--device", "cpu", "--tile", "4",
            "--tile-overlap", "1"]
    code, out, err = _run([*argv, "--model", str(tmp_path / "g.onnx")], capsys)
    assert code == 0 and "1 written" in out and "onnxruntime, providers CPUExecutionProvider" in err
    _run([*argv[:3], str(tmp_path / "torch"), *argv[4:], "--model", str(checkpoint)], capsys)
    onnx_img = np.asarray(Image.open(tmp_path / "onnx" / "a.png"), dtype=int)
    torch_img = np.asarray(Image.open(tmp_path / "torch" / "a.png"), dtype=int)
    assert onnx_img.shape == (28, 36, 3) and np.abs(onnx_img - torch_img).max() <= 1


def test_export_safetensors_and_import_it_back(tmp_path, checkpoint, capsys):
    pytest.importorskip("safetensors")
    code, out, _ = _run(["export", str(checkpoint), "-o", str(tmp_path / "g.safetensors"), "--format", "safetensors"],
                        capsys)
    assert code == 0 and out.strip().endswith("tensors (safetensors)")
    code, out, _ = _run(["export", str(checkpoint), "-o", str(tmp_path / "by_suffix.safetensors")], capsys)
    assert code == 0 and out.strip().endswith("tensors (safetensors)")  # the format follows the suffix
    code, out, _ = _run(["import", "state_dict", str(tmp_path / "g.safetensors"), "-o", str(tmp_path / "g.pt")], capsys)
    assert code == 0 and "imported from g.safetensors (state_dict: srgan-pipeline SRResNet" in out


@pytest.mark.parametrize("module", ["onnx", "onnxruntime"])
def test_export_without_the_extra_is_one_line_naming_it(tmp_path, checkpoint, capsys, monkeypatch, module):
    monkeypatch.setitem(sys.modules, module, None)  # as if the extra were not installed
    code, out, err = _run(["export", str(checkpoint), "-o", str(tmp_path / "g.onnx")], capsys)
    assert code == 1 and out == "" and not (tmp_path / "g.onnx").exists()
    assert err.strip().splitlines() == [
        "error: srgan export (ONNX) needs the optional packages of srgan-pipeline[export] (onnx, onnxruntime, "
        f"onnxscript, safetensors; '{module}' is missing): pip install -e '.[export]'"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:  # tqdm shows its bars on terminals only
        return True


def test_upscale_progress_counts_tiles_and_megapixels(tmp_path):
    """Per image: a bar of tiles; over all images: LR megapixels (so the ETA weighs big images more)."""
    paths = []
    for name, (w, h) in {"small.png": (200, 100), "big.png": (600, 500)}.items():
        Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(tmp_path / name)
        paths.append(tmp_path / name)
    stream = _Terminal()
    progress = UpscaleProgress(paths, stream)
    assert progress.overall.total == pytest.approx(0.32)
    progress.start(paths[0], 1, 2)
    for done in (1, 2):
        progress.tile(done, 2)
    assert progress.image.n == 2 and progress.overall.n == pytest.approx(0.02)
    progress.finish()
    progress.start(paths[1], 2, 2)
    progress.tile(1, 4)
    assert progress.overall.n == pytest.approx(0.02 + 0.3 / 4)
    progress.finish()  # a failed image still counts whole: the bar ends at its total
    assert progress.overall.n == pytest.approx(0.32)
    progress.close()
    shown = stream.getvalue()
    assert "2/2 big.png" in shown and "tile" in shown and "0.32 MP" in shown


def test_check_prints_every_problem_of_a_params_file_one_line_each(tmp_path, capsys):
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["execution"]["log_evry"] = 3  # a typo in a section no stage declares: only a whole-file check sees it
    raw["srgan"]["variants"]["hybrid_vgg19_5_4"]["vgg19_5_9"] = 0.1  # VGG-19's block 5 has 4 convs
    raw["runtime"]["cuda_graphs"] = True
    raw["srresnet"]["learning_rate"] = "fast"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    code, out, err = _run(["check", str(tmp_path / "params.yaml")], capsys)
    lines = out.splitlines()
    assert code == 1 and len(lines) == 4 and all(line.startswith(f"{tmp_path / 'params.yaml'}: ") for line in lines)
    for needle in ("runtime.cuda_graphs", "execution.log_evry", "srresnet.learning_rate",
                   "srgan.variants.hybrid_vgg19_5_4.vgg19_5_9"):
        assert sum(needle in line for line in lines) == 1, needle
    assert "Traceback" not in err
    code, out, _ = _run(["check", str(ROOT / "params.yaml")], capsys)
    assert code == 0 and out.strip() == f"{ROOT / 'params.yaml'}: ok"


def test_every_command_and_option_says_what_it_does() -> None:
    """`srgan <command> --help` has a description, and every option and argument a help line."""
    import argparse

    from srgan.cli import build_parser

    build_parser().format_help()
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(commands) == {"evaluate", "upscale", "import", "export", "plan", "worker", "experiments", "lock", "check",
                             "compare"}
    todo = list(commands.items())
    while todo:
        name, parser = todo.pop()
        assert parser.description, f"srgan {name} has no description"
        parser.format_help()  # argparse formats %-signs in help texts: a bare one raises
        for action in parser._actions:
            assert action.help, f"srgan {name} {action.option_strings or action.dest} has no help"
            if isinstance(action, argparse._SubParsersAction):  # `srgan worker sync`
                todo += [(f"{name} {sub}", subparser) for sub, subparser in action.choices.items()]


def test_python_m_srgan_is_the_srgan_command(capsys, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    main(["plan", "--all", "--first"])
    expected = capsys.readouterr().out
    # In a clone, `python -m srgan` runs that clone's code: the docs' host commands use it.
    result = subprocess.run([sys.executable, "-m", "srgan", "plan", "--all", "--first"], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0 and result.stdout == expected and "prepare_train" in expected


def _outside_every_stage() -> list[str]:
    """The package's modules that no stage runs (a line there reruns nothing), as dotted names."""
    staged = set(re.findall(r"srgan/[\w/]+\.py", (ROOT / "dvc.yaml").read_text(encoding="utf-8")))
    files = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "srgan").rglob("*.py"))
    return [f.removesuffix(".py").replace("/", ".") for f in files
            if f not in staged and f.rpartition("/")[2] not in ("__init__.py", "__main__.py")]


@pytest.mark.parametrize("module", _outside_every_stage())
def test_python_m_on_a_module_works_or_names_the_command(module: str, monkeypatch, capsys) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", [module, "--help"])  # --help: a module with its own command only prints
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # runpy: the module is already imported
        try:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as e:
            code = e.code
    out = capsys.readouterr().out
    if code in (0, None):
        assert out.strip(), f"python -m {module} does nothing"
    else:
        pattern = rf"error: {re.escape(module)} is a library module, not a command: run `[^`]+`.*"
        assert re.fullmatch(pattern, code), code
