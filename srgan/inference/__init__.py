"""Running a trained generator. `generator`: checkpoint loading and whole-image
super-resolution (all that training's validation needs); `tiling`: tiles blended
without seams and the streaming 8-bit path; `folding`: BatchNorm folded into the
convolutions for fast inference; `upscale`: image files for `srgan upscale`.

Training stages import `generator` only, so a change to tiling, folding or file
handling never reruns training.

May import: srgan.core, srgan.nets.
"""
