"""Tests for srgan.inference.onnx_model: an exported generator run by onnxruntime behind `srgan upscale`'s tiling."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from srgan.core.errors import SrganError
from srgan.core.runtime import Runtime
from srgan.inference.exporting import export_onnx
from srgan.inference.folding import load_for_inference
from srgan.inference.generator import save_generator
from srgan.inference.onnx_model import CPU_PROVIDER, CUDA_PROVIDER, load_onnx_generator, onnx_providers
from srgan.inference.tiling import super_resolve_u8
from srgan.nets.srresnet import SRResNet

CPU = Runtime(device=torch.device("cpu"), amp_dtype=None, channels_last=False)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, Path]:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    folder = tmp_path_factory.mktemp("onnx")
    torch.manual_seed(0)
    save_generator(folder / "g.pt", SRResNet(scale=4, num_blocks=2, channels=8), experiment="srgan", variant="mse")
    export_onnx(folder / "g.pt", folder / "g.onnx", scale=4)
    return folder / "g.pt", folder / "g.onnx"


def test_tiled_upscaling_with_onnxruntime_equals_torch(exported) -> None:
    """The same tiles, blending and 8-bit rounding as the torch path: equal images up to a rounding tie."""
    checkpoint, path = exported
    onnx_model, record = load_onnx_generator(path, 4)
    assert (record.experiment, record.variant) == ("srgan", "mse") and onnx_model.providers == [CPU_PROVIDER]
    torch_model, _ = load_for_inference(checkpoint, 4, CPU)
    lr_u8 = (np.random.default_rng(0).random((29, 37, 3)) * 255).astype(np.uint8)
    calls: list[tuple[int, int]] = []
    got = super_resolve_u8(onnx_model, lr_u8, CPU, tile_px=12, overlap_px=4, on_tile=lambda d, n: calls.append((d, n)))
    want = super_resolve_u8(torch_model, lr_u8, CPU, tile_px=12, overlap_px=4)
    assert got.shape == (116, 148, 3) and np.abs(got.astype(int) - want).max() <= 1
    assert calls[-1][0] == calls[-1][1] == len(calls) > 1  # progress per tile, as with torch


def test_wrong_scale_is_one_line(exported) -> None:
    with pytest.raises(SrganError, match=r"is a x4 model, but scale 2 was asked for; use --scale 4"):
        load_onnx_generator(exported[1], 2)


def test_a_file_that_is_not_onnx_is_named(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    (tmp_path / "bad.onnx").write_text("not a model")
    with pytest.raises(SrganError, match=r"bad.onnx is not an ONNX model onnxruntime can load"):
        load_onnx_generator(tmp_path / "bad.onnx", 4)
    with pytest.raises(SrganError, match=r"no such file"):
        load_onnx_generator(tmp_path / "missing.onnx", 4)


def test_an_onnx_model_from_elsewhere_is_refused(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 4])
    model = helper.make_model(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 18)])
    onnx.save(model, str(tmp_path / "other.onnx"))
    with pytest.raises(SrganError, match=r"was not written by srgan export"):
        load_onnx_generator(tmp_path / "other.onnx", 4)


def test_providers_follow_the_device() -> None:
    assert onnx_providers("cpu", [CUDA_PROVIDER, CPU_PROVIDER]) == [CPU_PROVIDER]
    assert onnx_providers("auto", [CPU_PROVIDER]) == [CPU_PROVIDER]
    assert onnx_providers("auto", [CUDA_PROVIDER, CPU_PROVIDER]) == [CUDA_PROVIDER, CPU_PROVIDER]
    with pytest.raises(SrganError, match="no CUDAExecutionProvider .* install onnxruntime-gpu"):
        onnx_providers("cuda", [CPU_PROVIDER])


def test_without_onnxruntime_the_extra_is_named(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(SrganError, match=r"running an ONNX model needs the optional packages of .*\[export\]"):
        load_onnx_generator(tmp_path / "g.onnx", 4)
