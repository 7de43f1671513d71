"""Weights out: a generator checkpoint as an ONNX model (for onnxruntime and other runtimes) or as safetensors.

ONNX (`export_onnx`): the generator with every BatchNorm folded into its convolution
(`srgan.inference.folding.fold_batchnorm`), so the graph is Conv, PRelu, Add and DepthToSpace only: the
computation `srgan upscale` runs in torch, with nothing a runtime has to fuse or could run in training
mode, and no BatchNorm for a converter (TensorRT, OpenVINO, a browser) to get wrong. Input `lr_img`
(N, 3, h, w) float32 RGB in [0, 1], output `sr_img` (N, 3, s*h, s*w), unclamped like the torch model
(clip to [0, 1] at the edge, as `srgan upscale` does after blending tiles); batch, height and width are
dynamic. The file's metadata holds the generator's record (`srgan_record`, JSON) and, for an imported
one, its origin (`srgan_origin`). Before the file is moved into place, onnxruntime runs it at two odd
sizes against the unfolded eval-mode torch model; a difference above 1e-4 stops the export.

safetensors (`export_safetensors`): the checkpoint's state dict as it is (unfolded, this project's key
names), without pickle, with the record in the header's metadata; `srgan import state_dict` reads it
back.

Both need the optional packages of the `export` extra (`pip install -e '.[export]'`).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from srgan.core.artifacts import atomic_path, load_checkpoint
from srgan.core.errors import SrganError
from srgan.core.records import GeneratorRecord
from srgan.core.runtime import Runtime
from srgan.inference.folding import fold_batchnorm
from srgan.inference.generator import load_generator
from srgan.inference.importing import META_ORIGIN, META_RECORD, ORIGIN_KEY, require_export_extra

ONNX_OPSET = 18  # the opset torch's dynamo exporter emits natively (no version conversion pass)
INPUT_NAME, OUTPUT_NAME = "lr_img", "sr_img"
# Odd sizes, two batch sizes: a graph that kept the example's shape, or mishandles odd sizes, fails here.
PARITY_SHAPES = ((1, 3, 17, 23), (2, 3, 11, 29))
PARITY_TOLERANCE = 1e-4  # max |onnxruntime - torch| on [0, 1] images
EXPORT_FORMATS = ("onnx", "safetensors")
_CPU = Runtime(device=torch.device("cpu"), amp_dtype=None, channels_last=False)


@dataclass(frozen=True)
class OnnxExport:
    """What `export_onnx` wrote and how closely onnxruntime reproduced torch."""

    path: Path
    opset: int
    nodes: int  # nodes of the graph
    op_types: tuple[str, ...]  # its operator kinds, sorted
    max_abs_diff: float  # max |onnxruntime - torch| over PARITY_SHAPES
    parity_shapes: tuple[tuple[int, ...], ...]


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter's graph passes log each step at INFO (onnx_ir, onnxscript): keep them to warnings."""
    loggers = [logging.getLogger(name) for name in ("onnx_ir", "onnxscript", "torch.onnx")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _check_output(out: Path, overwrite: bool) -> None:
    if out.exists() and not overwrite:
        raise SrganError(f"output {out} exists; choose another -o, or pass --force to replace it")


def _load(checkpoint: Path, scale: int) -> tuple[torch.nn.Module, GeneratorRecord, dict | None]:
    model, record = load_generator(checkpoint, scale, _CPU)
    origin = load_checkpoint(checkpoint).get(ORIGIN_KEY)
    return model.eval(), record, origin


def _metadata(record: GeneratorRecord, origin: dict | None) -> dict[str, str]:
    meta = {META_RECORD: json.dumps(asdict(record))}
    if origin is not None:
        meta[META_ORIGIN] = json.dumps(origin)
    return meta


def onnx_parity(onnx_bytes: bytes, model: torch.nn.Module, shapes=PARITY_SHAPES, seed: int = 0) -> float:
    """Max |onnxruntime(onnx_bytes) - model| over random [0, 1] inputs of `shapes` (CPU, float32)."""
    ort = require_export_extra("onnxruntime", "checking an ONNX export")
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(seed)
    worst = 0.0
    for shape in shapes:
        lr_img = torch.rand(*shape, generator=gen)
        with torch.inference_mode():
            want = model(lr_img).numpy()
        (got,) = session.run([OUTPUT_NAME], {INPUT_NAME: lr_img.numpy()})
        if got.shape != want.shape:
            raise SrganError(f"the ONNX graph gives shape {got.shape} for input {shape}, torch {want.shape}")
        worst = max(worst, float(np.abs(got - want).max()))
    return worst


def export_onnx(checkpoint: Path, out: Path, scale: int, overwrite: bool = False, opset: int = ONNX_OPSET
                ) -> OnnxExport:
    """Write generator `checkpoint` (x`scale`) as an ONNX model at `out` (see the module docstring); nothing is
    written when the export or its parity check fails. opset >= 17."""
    _check_output(out, overwrite)
    if opset < 17:
        raise SrganError(f"--opset must be >= 17, got {opset}")
    onnx = require_export_extra("onnx", "srgan export (ONNX)")
    require_export_extra("onnxscript", "srgan export (ONNX)")  # torch's dynamo exporter builds the graph with it
    require_export_extra("onnxruntime", "srgan export (ONNX)")  # the parity check runs the graph
    model, record, origin = _load(checkpoint, scale)
    folded = fold_batchnorm(model).requires_grad_(False).eval()
    dims = {0: torch.export.Dim("batch"), 2: torch.export.Dim("height"), 3: torch.export.Dim("width")}
    with _quiet_exporter():
        program = torch.onnx.export(folded, (torch.rand(2, 3, 32, 32),), dynamo=True, opset_version=opset,
                                    input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                    dynamic_shapes={INPUT_NAME: dims}, verbose=False)
    proto = program.model_proto
    arch = record.architecture
    proto.doc_string = (f"srgan-pipeline SRResNet x{arch.scale} ({arch.num_blocks} blocks, {arch.channels} channels), "
                        f"BatchNorm folded. {INPUT_NAME}: (N, 3, h, w) float32 RGB in [0, 1]; {OUTPUT_NAME}: "
                        f"(N, 3, {arch.scale}h, {arch.scale}w), unclamped: clip to [0, 1].")
    for key, value in _metadata(record, origin).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    diff = onnx_parity(data, model)
    if not diff <= PARITY_TOLERANCE:
        raise SrganError(f"the ONNX export of {checkpoint} differs from torch by {diff:.2e} (more than "
                         f"{PARITY_TOLERANCE:g}); nothing written")
    with atomic_path(out) as tmp:
        tmp.write_bytes(data)
    return OnnxExport(out, opset, len(proto.graph.node), tuple(sorted({n.op_type for n in proto.graph.node})), diff,
                      PARITY_SHAPES)


def export_safetensors(checkpoint: Path, out: Path, scale: int, overwrite: bool = False) -> int:
    """Write generator `checkpoint`'s state dict (unfolded) as safetensors at `out`, the record (and origin) in its
    metadata; returns the number of tensors."""
    _check_output(out, overwrite)
    require_export_extra("safetensors", "srgan export --format safetensors")
    from safetensors.torch import save

    model, record, origin = _load(checkpoint, scale)
    state = {key: value.detach().contiguous() for key, value in model.state_dict().items()}
    data = save(state, metadata={"format": "pt", **_metadata(record, origin)})
    with atomic_path(out) as tmp:
        tmp.write_bytes(data)
    return len(state)


if __name__ == "__main__":
    raise SystemExit("error: srgan.inference.exporting is a library module, not a command: run `srgan export`")
