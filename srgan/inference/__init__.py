"""Running a trained generator. `generator`: checkpoint loading and whole-image
super-resolution (all that training's validation needs); `tiling`: tiles blended
without seams and the streaming 8-bit path; `folding`: BatchNorm folded into the
convolutions for fast inference; `upscale`: image files for `srgan upscale`;
`importing`: published generator checkpoints (Lornatang/SRGAN-PyTorch, the study's
layout, plain state dicts) mapped onto SRResNet (`srgan import`); `exporting`: ONNX
(BatchNorm folded) and safetensors (`srgan export`); `onnx_model`: an exported file run
by onnxruntime with the same tiling (`srgan upscale --model MODEL.onnx`).

Training stages import `generator` only, and no stage imports `importing`,
`exporting` or `onnx_model`, so a change to tiling, folding, file handling or the
weights that come in and go out never reruns training.

May import: srgan.core, srgan.nets.
"""
