"""An exported generator (.onnx, written by `srgan.inference.exporting`) run by onnxruntime.

`OnnxGenerator` is called like the torch generator on CPU tensors, so the tiling of
`srgan.inference.tiling` (and so `srgan upscale`, with its progress) runs it unchanged. Needs the
`export` extra's onnxruntime.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import Tensor, nn

from srgan.core.errors import SrganError
from srgan.core.records import GeneratorRecord, read_generator_record
from srgan.inference.exporting import INPUT_NAME, OUTPUT_NAME
from srgan.inference.importing import (
    META_ORIGIN,
    META_RECORD,
    ORIGIN_KEY,
    ImportOrigin,
    read_origin,
    require_export_extra,
)

CUDA_PROVIDER, CPU_PROVIDER = "CUDAExecutionProvider", "CPUExecutionProvider"


class OnnxGenerator(nn.Module):
    """onnxruntime behind the generator's call: (N, 3, h, w) float32 RGB in [0, 1] on the CPU ->
    (N, 3, s*h, s*w) float32 on the CPU, unclamped. Holds no torch parameters."""

    def __init__(self, session, scale: int, providers: list[str], origin: ImportOrigin | None = None) -> None:
        super().__init__()
        self.session = session
        self.scale = scale
        self.providers = providers  # onnxruntime's execution providers, in the order it tries them
        self.origin = origin  # where imported weights came from (None: trained by the pipeline)

    def forward(self, lr_img: Tensor) -> Tensor:
        lr = lr_img.detach().to("cpu", torch.float32).contiguous().numpy()
        (sr,) = self.session.run([OUTPUT_NAME], {INPUT_NAME: lr})
        return torch.from_numpy(sr)


def onnx_providers(device: str, available: list[str]) -> list[str]:
    """onnxruntime's execution providers for --device: cpu; cuda (needs onnxruntime-gpu); auto = CUDA when this
    onnxruntime has it, else the CPU."""
    if device == "cuda":
        if CUDA_PROVIDER not in available:
            raise SrganError(f"--device cuda: this onnxruntime has no {CUDA_PROVIDER} (it has {', '.join(available)}); "
                             "install onnxruntime-gpu, or use --device cpu")
        return [CUDA_PROVIDER, CPU_PROVIDER]
    if device == "auto" and CUDA_PROVIDER in available:
        return [CUDA_PROVIDER, CPU_PROVIDER]
    return [CPU_PROVIDER]


def load_onnx_generator(path: Path, scale: int, device: str = "cpu", threads: int = 0
                        ) -> tuple[OnnxGenerator, GeneratorRecord]:
    """An onnxruntime session of `path` and the record its metadata holds. threads: onnxruntime's intra-op threads
    (0: its default). SrganError naming the file when it is missing, is not an ONNX model onnxruntime loads, was
    not written by `srgan export`, or is made for another scale."""
    ort = require_export_extra("onnxruntime", "running an ONNX model")
    if not path.is_file():
        raise SrganError(f"--model {path}: no such file; pass the path of an ONNX model written by srgan export")
    options = ort.SessionOptions()
    if threads > 0:
        options.intra_op_num_threads = threads
    providers = onnx_providers(device, ort.get_available_providers())
    state = ort.capi.onnxruntime_pybind11_state
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except (state.Fail, state.InvalidProtobuf, state.InvalidGraph, state.InvalidArgument, state.NoSuchFile,
            state.NotImplemented, state.RuntimeException) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise SrganError(f"--model {path} is not an ONNX model onnxruntime can load ({first})") from None
    meta = session.get_modelmeta().custom_metadata_map
    names = ([i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()])
    if META_RECORD not in meta or names != ([INPUT_NAME], [OUTPUT_NAME]):
        raise SrganError(f"--model {path} was not written by srgan export (no '{META_RECORD}' metadata, or inputs "
                         f"{names[0]} and outputs {names[1]}); export a generator checkpoint with srgan export")
    try:
        record_data = json.loads(meta[META_RECORD])
    except json.JSONDecodeError as e:
        raise SrganError(f"--model {path}: its '{META_RECORD}' metadata is not JSON ({e})") from None
    record = read_generator_record({"record": record_data}, path)
    if record.architecture.scale != scale:
        raise SrganError(f"--model {path} is a x{record.architecture.scale} model, but scale {scale} was asked for; "
                         f"use --scale {record.architecture.scale} or a x{scale} model")
    origin = read_origin({ORIGIN_KEY: json.loads(meta[META_ORIGIN])}) if META_ORIGIN in meta else None
    return OnnxGenerator(session, scale, session.get_providers(), origin), record


if __name__ == "__main__":
    raise SystemExit("error: srgan.inference.onnx_model is a library module, not a command: run "
                     "`srgan upscale --model MODEL.onnx`")
