"""Scoring super-resolved images: distortion under both protocols (`metrics`), NIQE
(`niqe`, with LIVE's pristine model as package data), LPIPS-Alex (`lpips`), colour
fidelity (`colour`), and scoring whole runs on the evaluation sets (`evaluate`).

May import: srgan.core, srgan.datasets.prepared, srgan.inference.generator, srgan.inference.tiling.
"""
