"""srgan-pipeline: SRResNet / SRGAN x4 super-resolution and the content-loss study."""

__version__ = "0.1.0"
