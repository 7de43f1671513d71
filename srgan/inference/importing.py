"""Weights from elsewhere: published SRResNet / SRGAN generator state dicts as this project's generator checkpoints.

`import_generator(fmt, source, out, scale)` reads a checkpoint written by another code base, finds
which of the layouts of `fmt` its keys follow, maps every tensor onto this project's `SRResNet`
(`srgan.nets.srresnet`) of the same architecture and writes a generator checkpoint that
`srgan evaluate` and `srgan upscale` read like one the pipeline trained. Beside its record the
checkpoint holds an `ImportOrigin`: the format, the layout, the source file's name and SHA-256, and
the `study_code` switches its architecture equals.

The layouts are facts of the source code, read from it (`SOURCE_LAYOUTS`):

- Lornatang/SRGAN-PyTorch, `model.py` (its SRResNet is also its SRGAN generator; the published x4
  files `SRResNet_x4-ImageNet.pth.tar` and `SRGAN_x4-ImageNet.pth.tar` hold it under `state_dict`):
  class `SRResNet` from 2022-10-31 on (`conv1`, `trunk`, `conv2`, `upsampling`, `conv3`); class
  `Generator` / `SRResNet` of 2022-02-15 to 2022-09-26 (the same modules named `conv_block1`,
  `conv_block2`, `conv_block3`). Each residual block `trunk.N.rcb` is a Sequential of
  Conv3x3(bias=False), BatchNorm, PReLU, Conv3x3(bias=False), BatchNorm; `conv2` is Conv3x3(bias=False),
  BatchNorm; each upsampling block `upsampling.N.upsample_block` is Conv3x3(C -> 4C, bias), PixelShuffle(2),
  PReLU; the 9x9 head (bias) + PReLU and the 9x9 tail (bias). PReLU has one parameter. Input RGB in
  [0, 1] (`imgproc.preprocess_one_image`), output clamped to [0, 1] inside `forward`. Checkpoints are
  `{"epoch", "psnr", "ssim", "state_dict", "ema_state_dict", "optimizer", ...}` (`train_gan.py`); a
  compiled model's keys start with `_orig_mod.`.
- unique-chan/SRGAN (the content-loss study), `Model/Generator.py` and `Model/Block.py`: `input_block`
  (Conv9x9 without bias, PReLU), `residual_blocks.N` with `conv1`, `conv2` (no bias), **one** `bn` that
  normalises both convs' outputs, and `p_relu`; `intermediate_block` (Conv3x3 without bias, BatchNorm);
  `upsampling_blocks.N` with `conv` (no bias) and `p_relu`; `output_block.0` (Conv9x9 without bias).
  Input RGB in [0, 1] (`transforms.ToTensor`); it saved plain `generator.state_dict()` files.
- `state_dict`: this project's own SRResNet (`head`, `body`, `body_tail`, `upsample`, `tail`), as
  `torch.save(model.state_dict())` or the `.safetensors` file `srgan export --format safetensors` writes.

All three compute the same function as this project's SRResNet with `shared_bn` and `conv_bias` set
to the layout's: conv9x9 + PReLU, residual blocks, conv3x3 + BN plus the long skip, x2 upsampling
blocks, conv9x9. Clamping happens where this project always does it, at the edge.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from srgan.core.artifacts import load_checkpoint, save_checkpoint, torch_load_safely
from srgan.core.errors import SrganError
from srgan.core.records import GeneratorArchitecture, GeneratorRecord, generator_checkpoint
from srgan.nets.srresnet import SUPPORTED_SCALES, build_generator

ORIGIN_KEY = "origin"  # the checkpoint entry beside "model" and "record" that holds the ImportOrigin
# The keys of an exported file's metadata (ONNX metadata_props, the safetensors header) holding the record and the
# origin as JSON (srgan.inference.exporting writes them).
META_RECORD, META_ORIGIN = "srgan_record", "srgan_origin"
# Wrapping dicts around a state dict, tried in this order: Lornatang's training checkpoints ("state_dict"),
# BasicSR's ("params_ema", "params"), this project's ("model").
WRAPPER_KEYS = ("state_dict", "params_ema", "params", "model")
# Prefixes a whole state dict can carry: DataParallel / DistributedDataParallel / AveragedModel ("module."),
# torch.compile ("_orig_mod.").
STRIPPED_PREFIXES = ("module.", "_orig_mod.")


@dataclass(frozen=True)
class SourceLayout:
    """How one code base names the tensors of an SRResNet generator.

    rules: (regex over this project's key, the source's key as a template of its groups); every key of
    this project's SRResNet matches exactly one rule. block / upsampling: regexes whose group 1 is the
    index of a residual / upsampling block in the source's keys (so the architecture can be read from
    them). head_conv: the source key of the 9x9 input conv (its output channels are the width).
    signature: keys (of a one-block model) that say a state dict is in this layout.
    """

    format: str  # the `srgan import` format that reads it
    name: str  # where the layout comes from, for messages and the origin record
    rules: tuple[tuple[str, str], ...]
    block: str
    upsampling: str
    head_conv: str
    signature: frozenset[str]
    shared_bn: bool
    conv_bias: bool


def _lornatang(name: str, head: str, body_tail: str, tail: str) -> SourceLayout:
    """Lornatang/SRGAN-PyTorch model.py: the two namings of the same modules (see the module docstring)."""
    return SourceLayout(
        format="lornatang",
        name=name,
        rules=(
            (r"head\.0\.(weight|bias)", head + r".0.\1"),
            (r"head\.1\.weight", head + ".1.weight"),
            (r"body\.(\d+)\.conv1\.weight", r"trunk.\1.rcb.0.weight"),
            (r"body\.(\d+)\.bn1\.(\w+)", r"trunk.\1.rcb.1.\2"),
            (r"body\.(\d+)\.act\.weight", r"trunk.\1.rcb.2.weight"),
            (r"body\.(\d+)\.conv2\.weight", r"trunk.\1.rcb.3.weight"),
            (r"body\.(\d+)\.bn2\.(\w+)", r"trunk.\1.rcb.4.\2"),
            (r"body_tail\.0\.weight", body_tail + ".0.weight"),
            (r"body_tail\.1\.(\w+)", body_tail + r".1.\1"),
            (r"upsample\.(\d+)\.conv\.(weight|bias)", r"upsampling.\1.upsample_block.0.\2"),
            (r"upsample\.(\d+)\.act\.weight", r"upsampling.\1.upsample_block.2.weight"),
            (r"tail\.(weight|bias)", tail + r".\1"),
        ),
        block=r"trunk\.(\d+)\.",
        upsampling=r"upsampling\.(\d+)\.",
        head_conv=head + ".0.weight",
        signature=frozenset({f"{head}.0.weight", f"{head}.0.bias", "trunk.0.rcb.0.weight", "trunk.0.rcb.4.running_var",
                             f"{body_tail}.0.weight", "upsampling.0.upsample_block.0.weight", f"{tail}.weight"}),
        shared_bn=False,
        conv_bias=True,
    )


SOURCE_LAYOUTS: tuple[SourceLayout, ...] = (
    _lornatang("Lornatang/SRGAN-PyTorch model.py SRResNet (2022-10-31 on)", "conv1", "conv2", "conv3"),
    _lornatang("Lornatang/SRGAN-PyTorch model.py Generator (2022-02 to 2022-09)", "conv_block1", "conv_block2",
               "conv_block3"),
    SourceLayout(
        format="study",
        name="unique-chan/SRGAN Model/Generator.py Generator",
        rules=(
            (r"head\.0\.weight", "input_block.0.weight"),
            (r"head\.1\.weight", "input_block.1.weight"),
            (r"body\.(\d+)\.conv1\.weight", r"residual_blocks.\1.conv1.weight"),
            (r"body\.(\d+)\.act\.weight", r"residual_blocks.\1.p_relu.weight"),
            (r"body\.(\d+)\.conv2\.weight", r"residual_blocks.\1.conv2.weight"),
            (r"body\.(\d+)\.bn\.(\w+)", r"residual_blocks.\1.bn.\2"),
            (r"body_tail\.0\.weight", "intermediate_block.0.weight"),
            (r"body_tail\.1\.(\w+)", r"intermediate_block.1.\1"),
            (r"upsample\.(\d+)\.conv\.weight", r"upsampling_blocks.\1.conv.weight"),
            (r"upsample\.(\d+)\.act\.weight", r"upsampling_blocks.\1.p_relu.weight"),
            (r"tail\.weight", "output_block.0.weight"),
        ),
        block=r"residual_blocks\.(\d+)\.",
        upsampling=r"upsampling_blocks\.(\d+)\.",
        head_conv="input_block.0.weight",
        signature=frozenset({"input_block.0.weight", "residual_blocks.0.conv1.weight", "residual_blocks.0.bn.weight",
                             "intermediate_block.0.weight", "upsampling_blocks.0.conv.weight",
                             "output_block.0.weight"}),
        shared_bn=True,
        conv_bias=False,
    ),
    *(SourceLayout(
        format="state_dict",
        name=f"srgan-pipeline SRResNet ({'shared' if shared else 'two'} BN per block, {'' if bias else 'no '}biases)",
        rules=((r"(.+)", r"\1"),),  # the same names
        block=r"body\.(\d+)\.",
        upsampling=r"upsample\.(\d+)\.",
        head_conv="head.0.weight",
        signature=frozenset({"head.0.weight", "body.0.conv1.weight", "body.0.act.weight", "body_tail.1.running_var",
                             "upsample.0.conv.weight", "tail.weight",
                             "body.0.bn.weight" if shared else "body.0.bn2.weight",
                             *(("head.0.bias", "tail.bias") if bias else ())}),
        shared_bn=shared,
        conv_bias=bias,
    ) for shared in (False, True) for bias in (True, False)),
)

# The formats `srgan import` reads: name -> what it is (its layouts are SOURCE_LAYOUTS of that format).
IMPORT_FORMATS = {
    "lornatang": "Lornatang/SRGAN-PyTorch SRResNet and SRGAN generators",
    "study": "unique-chan/SRGAN, the content-loss study's generator",
    "state_dict": "this project's SRResNet as a state dict: .pt, .pth, .safetensors",
}

# Generators of other architectures, recognised to say what a file holds: name -> signature keys.
OTHER_ARCHITECTURES = {
    "BasicSR's MSRResNet (conv_first, body.N.conv1/conv2, upconv1, conv_hr, conv_last: no BatchNorm, LeakyReLU, "
    "a bilinear global skip)": frozenset({"conv_first.weight", "body.0.conv1.weight", "upconv1.weight",
                                          "conv_hr.weight", "conv_last.weight"}),
    "an ESRGAN RRDBNet (conv_first, body.N.rdb1, conv_body, conv_up1, conv_hr, conv_last)": frozenset(
        {"conv_first.weight", "body.0.rdb1.conv1.weight", "conv_body.weight", "conv_up1.weight", "conv_last.weight"}),
    "an SRGAN discriminator (features.N, classifier.N), not a generator": frozenset(
        {"features.0.weight", "classifier.0.weight"}),
}


@dataclass(frozen=True)
class ImportOrigin:
    """Where an imported generator's weights come from (the checkpoint's "origin" entry)."""

    format: str  # the `srgan import` format: lornatang | study | state_dict
    layout: str  # the SourceLayout.name the keys followed
    source_file: str  # the source file's name (no folders)
    source_sha256: str  # of the source file's bytes
    wrapper: str  # the key the state dict sat under ("state_dict", ...), "" for a bare state dict
    stripped_prefixes: tuple[str, ...]  # e.g. ("module.",)
    study_code: dict[str, bool]  # the study_code switches this architecture equals: shared_bn, generator_bias


def read_origin(checkpoint: dict[str, Any]) -> ImportOrigin | None:
    """The ImportOrigin of a loaded generator checkpoint, or None for one the pipeline trained."""
    data = checkpoint.get(ORIGIN_KEY)
    if not isinstance(data, dict):
        return None
    return ImportOrigin(**{**data, "stripped_prefixes": tuple(data["stripped_prefixes"])})


def checkpoint_origin(path: Path) -> ImportOrigin | None:
    """The ImportOrigin of the generator checkpoint at `path` (None: trained by the pipeline)."""
    return read_origin(load_checkpoint(path))


def describe_origin(origin: ImportOrigin) -> str:
    """One line: 'imported from SRGAN_x4-ImageNet.pth.tar (lornatang: Lornatang/... SRResNet (2022-10-31 on))'."""
    return f"imported from {origin.source_file} ({origin.format}: {origin.layout})"


# ---------------------------------------------------------------- reading the source


def _safetensors_load(path: Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    """(tensors, metadata) of a .safetensors file; SrganError when unreadable or without the package."""
    safetensors = require_export_extra("safetensors", "reading .safetensors files")
    from safetensors.torch import load_file

    try:
        with safetensors.safe_open(str(path), framework="pt") as fh:
            metadata = fh.metadata() or {}
        return load_file(str(path)), metadata
    except (safetensors.SafetensorError, OSError, ValueError) as e:
        raise SrganError(f"checkpoint {path} is not a readable .safetensors file ({e})") from None


def require_export_extra(module: str, what: str) -> Any:
    """Import `module` of the `export` extra, or SrganError naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise SrganError(f"{what} needs the optional packages of srgan-pipeline[export] (onnx, onnxruntime, "
                         f"onnxscript, safetensors; '{module}' is missing): pip install -e '.[export]'") from None


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(k, str) and isinstance(v, Tensor)
                                                       for k, v in obj.items())


def _unwrap(obj: Any, path: Path) -> tuple[dict[str, Tensor], str]:
    """(state dict, the wrapper key it sat under or "")."""
    if _is_state_dict(obj):
        return obj, ""
    if isinstance(obj, dict):
        for key in WRAPPER_KEYS:
            if _is_state_dict(obj.get(key)):
                return obj[key], key
        keys = ", ".join(repr(k) for k in list(obj)[:8])
        raise SrganError(f"checkpoint {path} holds no state dict of tensors (a dict with keys {keys}; looked for a "
                         f"bare state dict or one under {', '.join(WRAPPER_KEYS)})")
    raise SrganError(f"checkpoint {path} holds a {type(obj).__name__}, not a state dict of tensors")


def _strip_prefixes(state: dict[str, Tensor]) -> tuple[dict[str, Tensor], tuple[str, ...]]:
    stripped: list[str] = []
    while True:
        prefix = next((p for p in STRIPPED_PREFIXES if all(k.startswith(p) for k in state)), None)
        if prefix is None:
            return state, tuple(stripped)
        state = {k[len(prefix):]: v for k, v in state.items()}
        stripped.append(prefix)


def read_source(path: Path) -> tuple[dict[str, Tensor], str, tuple[str, ...], dict[str, str]]:
    """A checkpoint of any of the import formats, as (state dict with prefixes stripped, wrapper key,
    stripped prefixes, safetensors metadata or {}). SrganError naming the file when it is missing, is
    not a checkpoint, is truncated, or holds no state dict."""
    if not path.is_file():
        raise SrganError(f"checkpoint {path} not found (no such file); pass the path of the weights to import")
    metadata: dict[str, str] = {}
    if path.suffix == ".safetensors":
        obj, metadata = _safetensors_load(path)
    else:
        obj = torch_load_safely(path)
    if isinstance(obj, dict) and isinstance(obj.get("record"), dict) and "model" in obj:
        raise SrganError(f"{path} is already an srgan-pipeline generator checkpoint: pass it to srgan evaluate or "
                         "srgan upscale --model as it is")
    state, wrapper = _unwrap(obj, path)
    state, stripped = _strip_prefixes(state)
    return state, wrapper, stripped, metadata


# ---------------------------------------------------------------- which layout, which architecture


def _matches(state: dict[str, Tensor], signature: frozenset[str]) -> bool:
    return signature <= state.keys()


def identify(state: dict[str, Tensor]) -> str:
    """What a state dict looks like, in words: a layout's name, another architecture's, or its first keys."""
    for layout in SOURCE_LAYOUTS:
        if _matches(state, layout.signature):
            return f"the {layout.format} layout ({layout.name})"
    for name, signature in OTHER_ARCHITECTURES.items():
        if _matches(state, signature):
            return name
    first = ", ".join(list(state)[:5])
    return f"{len(state)} tensors in no known layout (first keys: {first})"


def _known_formats() -> str:
    return "; ".join(f"{name} ({what})" for name, what in IMPORT_FORMATS.items())


def find_layout(state: dict[str, Tensor], fmt: str, path: Path) -> SourceLayout:
    """The layout of format `fmt` whose signature `state` carries; SrganError saying what was found otherwise."""
    if fmt not in IMPORT_FORMATS:
        raise SrganError(f"unknown import format '{fmt}'; known formats: {_known_formats()}")
    layouts = [layout for layout in SOURCE_LAYOUTS if layout.format == fmt and _matches(state, layout.signature)]
    if layouts:
        # The most specific match: a state_dict signature with biases also matches the one without.
        return max(layouts, key=lambda layout: len(layout.signature))
    found = identify(state)
    hint = ""
    other = next((layout for layout in SOURCE_LAYOUTS if _matches(state, layout.signature)), None)
    if other is not None:
        hint = f"; import it with: srgan import {other.format} {path} -o OUT.pt"
    raise SrganError(f"checkpoint {path} holds {found}, not the {fmt} format{hint}. Known formats: {_known_formats()}")


def _indices(state: dict[str, Tensor], pattern: str) -> list[int]:
    return sorted({int(m.group(1)) for key in state if (m := re.match(pattern, key))})


def read_architecture(state: dict[str, Tensor], layout: SourceLayout, path: Path) -> GeneratorArchitecture:
    """The SRResNet a state dict of `layout` holds: its residual blocks, upsampling blocks (scale) and width."""
    blocks = _indices(state, layout.block)
    ups = _indices(state, layout.upsampling)
    for what, found in (("residual", blocks), ("upsampling", ups)):
        if found != list(range(len(found))):
            raise SrganError(f"checkpoint {path}: its {what} blocks are numbered {found}, not 0..{len(found) - 1}; "
                             "the file is incomplete or edited")
    scale = 2 ** len(ups)
    if scale not in SUPPORTED_SCALES:
        raise SrganError(f"checkpoint {path} has {len(ups)} upsampling blocks (x{scale}); this project builds "
                         f"x{', x'.join(map(str, SUPPORTED_SCALES))} generators")
    head = state[layout.head_conv]
    if head.dim() != 4 or tuple(head.shape[1:]) != (3, 9, 9):
        raise SrganError(f"checkpoint {path}: '{layout.head_conv}' has shape {tuple(head.shape)}, not "
                         "(channels, 3, 9, 9): not an RGB SRResNet")
    return GeneratorArchitecture(scale=scale, num_blocks=len(blocks), channels=int(head.shape[0]),
                                 shared_bn=layout.shared_bn, conv_bias=layout.conv_bias)


def _source_key(key: str, layout: SourceLayout) -> str:
    for pattern, template in layout.rules:
        m = re.fullmatch(pattern, key)
        if m:
            return m.expand(template)
    raise AssertionError(f"{layout.name}: no rule for this project's key {key!r}")  # a bug in SOURCE_LAYOUTS


def _preview(keys: list[str]) -> str:
    more = f" and {len(keys) - 4} more" if len(keys) > 4 else ""
    return ", ".join(repr(k) for k in keys[:4]) + more


def convert_state(state: dict[str, Tensor], layout: SourceLayout, arch: GeneratorArchitecture,
                  path: Path) -> dict[str, Tensor]:
    """This project's state dict for `arch` from a source state dict in `layout`: every tensor mapped by name,
    shapes checked, floats as float32; SrganError naming the key for a missing, extra, misshapen or non-finite
    tensor. BatchNorm's `num_batches_tracked` (training bookkeeping, no effect on the output) may be absent."""
    target = build_generator(arch).state_dict()
    out: dict[str, Tensor] = {}
    used: set[str] = set()
    missing: list[str] = []
    for key, ours in target.items():
        theirs = _source_key(key, layout)
        if theirs not in state:
            if key.endswith("num_batches_tracked"):
                out[key] = ours
            else:
                missing.append(theirs)
            continue
        value = state[theirs]
        used.add(theirs)
        if tuple(value.shape) != tuple(ours.shape):
            raise SrganError(f"checkpoint {path}: '{theirs}' has shape {tuple(value.shape)}, but the {layout.format} "
                             f"layout of this architecture has {tuple(ours.shape)} there")
        if value.is_floating_point():
            value = value.float()
            if not torch.isfinite(value).all():
                raise SrganError(f"checkpoint {path}: '{theirs}' holds NaN or infinite values")
        out[key] = value.to(ours.dtype).contiguous().clone()
    if missing:
        raise SrganError(f"checkpoint {path} lacks {_preview(missing)} of the {layout.format} layout "
                         f"({layout.name}): a truncated or edited state dict?")
    extra = sorted(set(state) - used)
    if extra:
        raise SrganError(f"checkpoint {path} has tensors the {layout.format} layout ({layout.name}) does not: "
                         f"{_preview(extra)}; another variant of the architecture, which no format reads")
    return out


# ---------------------------------------------------------------- the import


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _record(arch: GeneratorArchitecture, metadata: dict[str, str]) -> GeneratorRecord:
    """A fresh record, or the provenance a .safetensors export carried (`srgan_record` metadata)."""
    fresh = GeneratorRecord(arch, experiment="", variant="", loss_terms={}, feature_weights={}, step=0,
                            valid_psnr_y_db=None, valid_ssim_y=None)
    carried = metadata.get(META_RECORD)
    if carried is None:
        return fresh
    try:
        data = json.loads(carried)
        return GeneratorRecord(**{**data, "architecture": arch})
    except (json.JSONDecodeError, TypeError):
        return fresh  # metadata of another writer: the weights still import, without provenance


def import_generator(fmt: str, source: Path, out: Path, scale: int, overwrite: bool = False
                     ) -> tuple[GeneratorRecord, ImportOrigin]:
    """Convert the generator checkpoint `source` of format `fmt` (IMPORT_FORMATS) into this project's generator
    checkpoint `out`, written atomically. Every check runs before anything is written: the file, the layout,
    the architecture (a x`scale` SRResNet), every tensor's name, shape and finiteness, and a strict load.
    Returns (record, origin). SrganError with one line naming the problem otherwise."""
    if out.exists() and not overwrite:
        raise SrganError(f"output {out} exists; choose another -o, or pass --force to replace it")
    state, wrapper, stripped, metadata = read_source(source)
    layout = find_layout(state, fmt, source)
    arch = read_architecture(state, layout, source)
    if arch.scale != scale:
        raise SrganError(f"checkpoint {source} is a x{arch.scale} generator ({len(_indices(state, layout.upsampling))} "
                         f"upsampling blocks), but scale {scale} was asked for; pass --scale {arch.scale}")
    weights = convert_state(state, layout, arch, source)
    build_generator(arch).load_state_dict(weights, strict=True)  # what srgan.inference.generator will do
    record = _record(arch, metadata)
    origin = ImportOrigin(format=fmt, layout=layout.name, source_file=source.name, source_sha256=_sha256(source),
                          wrapper=wrapper, stripped_prefixes=stripped,
                          study_code={"shared_bn": arch.shared_bn, "generator_bias": arch.conv_bias})
    checkpoint = generator_checkpoint(weights, record)
    checkpoint[ORIGIN_KEY] = asdict(origin)
    save_checkpoint(out, checkpoint)
    return record, origin


if __name__ == "__main__":
    raise SystemExit("error: srgan.inference.importing is a library module, not a command: run `srgan import`")
