"""Tests for srgan.inference.exporting: ONNX (dynamic shapes, opset, parity with torch at odd sizes) and safetensors.

The ONNX tests need the `export` extra (onnx, onnxruntime, onnxscript) and skip without it; the missing-extra
messages are tested by hiding the modules.
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from srgan.core.artifacts import load_checkpoint
from srgan.core.errors import SrganError
from srgan.core.runtime import Runtime
from srgan.inference import exporting
from srgan.inference.exporting import PARITY_TOLERANCE, export_onnx, export_safetensors, onnx_parity
from srgan.inference.generator import load_generator, save_generator
from srgan.inference.importing import import_generator
from srgan.nets.srresnet import SRResNet

CPU = Runtime(device=torch.device("cpu"), amp_dtype=None, channels_last=False)


def _generator(path: Path, shared_bn: bool = False, conv_bias: bool = True, seed: int = 0) -> Path:
    """A small generator with non-trivial BatchNorm statistics (so folding has something to fold)."""
    torch.manual_seed(seed)
    model = SRResNet(scale=4, num_blocks=3, channels=16, shared_bn=shared_bn, conv_bias=conv_bias)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.2)
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=gen))
                m.weight.copy_(0.5 + torch.rand(m.num_features, generator=gen))
                m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
    save_generator(path, model, experiment="srresnet", variant="mse", step=42)
    return path


@pytest.fixture(scope="module", params=[(False, True), (True, False)], ids=["paper", "study-as-run"])
def exported(request, tmp_path_factory) -> tuple[Path, Path, exporting.OnnxExport]:
    """(checkpoint, ONNX file, export result) for this project's generator and for the study's blocks."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    folder = tmp_path_factory.mktemp("onnx")
    shared_bn, conv_bias = request.param
    checkpoint = _generator(folder / "g.pt", shared_bn, conv_bias)
    return checkpoint, folder / "g.onnx", export_onnx(checkpoint, folder / "g.onnx", scale=4)


def test_onnx_has_dynamic_batch_height_width_and_opset_17_or_more(exported) -> None:
    import onnx

    _, path, result = exported
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17 and result.opset >= 17
    (lr_img,) = proto.graph.input
    dims = lr_img.type.tensor_type.shape.dim
    assert lr_img.name == "lr_img" and [d.dim_param or d.dim_value for d in dims] == ["batch", 3, "height", "width"]
    op_types = {n.op_type for n in proto.graph.node}
    assert op_types == set(result.op_types) == {"Conv", "PRelu", "Add", "DepthToSpace"}  # BatchNorm folded
    record = json.loads({p.key: p.value for p in proto.metadata_props}["srgan_record"])
    assert (record["experiment"], record["variant"], record["step"]) == ("srresnet", "mse", 42)


def test_onnxruntime_matches_torch_at_two_odd_sizes(exported) -> None:
    """Independent of the export's own check: onnxruntime against the unfolded eval-mode torch model."""
    import onnxruntime as ort

    checkpoint, path, result = exported
    model, _ = load_generator(checkpoint, 4, CPU)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for shape in ((1, 3, 19, 13), (3, 3, 9, 27)):
        lr_img = torch.rand(*shape, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            want = model(lr_img).numpy()
        (got,) = session.run(None, {"lr_img": lr_img.numpy()})
        assert got.shape == (shape[0], 3, 4 * shape[2], 4 * shape[3])
        assert np.abs(got - want).max() <= PARITY_TOLERANCE
        assert np.abs(got - want).max() < 1e-5  # float rounding only
    assert result.max_abs_diff <= PARITY_TOLERANCE


def test_the_parity_check_sees_another_model(exported) -> None:
    """onnx_parity measures a real difference: the exported graph against a model with other weights."""
    checkpoint, path, _ = exported
    model, _ = load_generator(checkpoint, 4, CPU)
    other, _ = load_generator(_generator(checkpoint.parent / "other.pt", model.shared_bn, model.conv_bias, seed=5),
                              4, CPU)
    assert onnx_parity(path.read_bytes(), model) < 1e-5
    assert onnx_parity(path.read_bytes(), other) > 1e-2


def test_an_export_that_fails_its_parity_check_writes_nothing(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    monkeypatch.setattr(exporting, "onnx_parity", lambda data, model: 0.5)
    with pytest.raises(SrganError, match=r"differs from torch by 5.00e-01 .*nothing written"):
        export_onnx(_generator(tmp_path / "g.pt"), tmp_path / "g.onnx", scale=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.pt"]


def test_existing_output_wrong_scale_and_low_opset_stop_before_exporting(tmp_path: Path) -> None:
    checkpoint = _generator(tmp_path / "g.pt")
    (tmp_path / "old.onnx").write_bytes(b"keep")
    with pytest.raises(SrganError, match="exists; choose another -o, or pass --force"):
        export_onnx(checkpoint, tmp_path / "old.onnx", scale=4)
    assert (tmp_path / "old.onnx").read_bytes() == b"keep"
    with pytest.raises(SrganError, match="is a x4 model, but scale 2"):
        export_safetensors(checkpoint, tmp_path / "g.safetensors", scale=2)
    with pytest.raises(SrganError, match="--opset must be >= 17"):
        export_onnx(checkpoint, tmp_path / "new.onnx", scale=4, opset=16)


@pytest.mark.parametrize("module", ["onnx", "onnxscript", "onnxruntime"])
def test_onnx_export_without_the_extra_names_it(tmp_path: Path, monkeypatch, module: str) -> None:
    checkpoint = _generator(tmp_path / "g.pt")
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    with pytest.raises(SrganError) as err:
        export_onnx(checkpoint, tmp_path / "g.onnx", scale=4)
    assert "srgan-pipeline[export]" in str(err.value) and f"'{module}' is missing" in str(err.value)
    assert "pip install -e '.[export]'" in str(err.value)
    assert not (tmp_path / "g.onnx").exists()


def test_safetensors_round_trip_without_pickle(tmp_path: Path) -> None:
    pytest.importorskip("safetensors")
    from safetensors import safe_open

    checkpoint = _generator(tmp_path / "g.pt", shared_bn=True, conv_bias=False)
    count = export_safetensors(checkpoint, tmp_path / "g.safetensors", scale=4)
    raw = (tmp_path / "g.safetensors").read_bytes()
    header_len = struct.unpack("<Q", raw[:8])[0]  # the format: a little-endian length, a JSON header, raw tensors
    assert json.loads(raw[8 : 8 + header_len])["__metadata__"]["format"] == "pt"
    weights = load_checkpoint(checkpoint)["model"]
    with safe_open(str(tmp_path / "g.safetensors"), framework="pt") as fh:
        assert set(fh.keys()) == set(weights) and len(weights) == count
        assert all(torch.equal(fh.get_tensor(k), v) for k, v in weights.items())
        assert json.loads(fh.metadata()["srgan_record"])["variant"] == "mse"
    record, origin = import_generator("state_dict", tmp_path / "g.safetensors", tmp_path / "back.pt", scale=4)
    assert (record.experiment, record.variant, record.step) == ("srresnet", "mse", 42)  # provenance carried over
    assert record.architecture.shared_bn and not record.architecture.conv_bias
    assert origin.source_file == "g.safetensors"
    back = load_checkpoint(tmp_path / "back.pt")["model"]
    assert all(torch.equal(back[k], v) for k, v in weights.items())


def test_safetensors_without_the_extra_names_it(tmp_path: Path, monkeypatch) -> None:
    checkpoint = _generator(tmp_path / "g.pt")
    monkeypatch.setitem(sys.modules, "safetensors", None)
    with pytest.raises(SrganError, match=r"needs the optional packages of srgan-pipeline\[export\]"):
        export_safetensors(checkpoint, tmp_path / "g.safetensors", scale=4)
    (tmp_path / "x.safetensors").write_bytes(b"0")
    with pytest.raises(SrganError, match=r"reading .safetensors files needs .*\[export\]"):
        import_generator("state_dict", tmp_path / "x.safetensors", tmp_path / "x.pt", scale=4)
