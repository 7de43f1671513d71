"""Tests for the `srgan upscale` command: batches with bad files, colour modes, model names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srgan.artifacts import save_checkpoint
from srgan.cli import build_parser, main
from srgan.models import SRResNet


def _save_tiny(path: Path, scale: int = 4, with_scale_key: bool = True) -> Path:
    ckpt = {"model": SRResNet(scale=scale, num_blocks=2, channels=8).state_dict(), "kind": "srresnet"}
    if with_scale_key:
        ckpt["scale"] = scale
    save_checkpoint(path, ckpt)
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
    assert "6 written" in proc.stdout and "2 failed" in proc.stdout

    expected_modes = {"rgb.png": "RGB", "gray.png": "L", "rgba.png": "RGBA", "palette.png": "RGB",
                      "deep16.png": "L", "photo.jpg": "RGB"}
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


def test_unknown_model_name_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _save_tiny(tmp_path / "models" / "srresnet" / "best.pt")
    Image.fromarray(_rgb()).save(tmp_path / "a.png")
    code, _, err = _run(["upscale", "a.png", "-o", "out", "--model", "srgan_nope", "--device", "cpu"], capsys)
    assert code == 1
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: unknown model 'srgan_nope'")
    assert "srresnet" in lines[0]
    assert not (tmp_path / "out").exists()


def test_model_name_resolves_under_models(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _save_tiny(tmp_path / "models" / "srgan" / "vgg19_5_4" / "best.pt")
    Image.fromarray(_rgb()).save(tmp_path / "a.bmp")
    code, out, _ = _run(["upscale", "a.bmp", "-o", "out", "--model", "srgan_vgg19_5_4", "--device", "cpu"], capsys)
    assert code == 0 and "1 written" in out
    with Image.open(tmp_path / "out" / "a.bmp") as img:
        assert img.size == (36, 28)


@pytest.mark.parametrize("with_scale_key", [True, False])
def test_wrong_scale_checkpoint_is_a_clear_message(tmp_path, capsys, with_scale_key):
    ckpt = _save_tiny(tmp_path / "x2.pt", scale=2, with_scale_key=with_scale_key)
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
    assert "missing.png not found" in err and "overwrite the input" in err
    assert (tmp_path / "a.png").read_bytes() == original


def test_upscale_help_documents_colour_handling():
    sub = build_parser()._subparsers._group_actions[0].choices["upscale"]
    text = sub.format_help()
    for phrase in ("Grayscale", "RGBA", "Palette", "8-bit", "--tile", "srgan_<loss>"):
        assert phrase in text


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.skipif(not (SHARED / "Set5" / "HR").is_dir(), reason="../shared/data/Set5 is not present")
def test_evaluate_a_local_set5_folder(capsys):
    """`srgan evaluate` on the real Set5 folder: the bicubic baseline gives the published figures."""
    from srgan.cli import main

    main(["evaluate", "--model", "bicubic", "--device", "cpu", str(SHARED / "Set5")])
    scores = json.loads(capsys.readouterr().out)["Set5"]
    assert scores["images"] == 5
    assert scores["psnr_y_db"] == pytest.approx(28.42, abs=0.02)
    assert scores["ssim_y"] == pytest.approx(0.810, abs=0.002)
    assert {"psnr_rgb_db", "ms_ssim_rgb"} <= set(scores)
