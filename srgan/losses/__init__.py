"""Content and adversarial losses: the term grammar (`terms`, torch-free: one table for
params checks, extractor building and the report's loss families), frozen torchvision
feature extractors (`extractors`), the weighted content loss (`content`, which imports no
extractor code) and the GAN losses (`adversarial`).

May import: srgan.core.
"""
