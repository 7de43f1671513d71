"""DVC wiring: the params each stage declares (`stage_params`), a stage's code as the
import closure of its script (`code_deps`), and dvc.yaml generated from both
(`dvc_yaml`; `python -m srgan.pipeline.dvc_yaml --check`).

Training stages import `stage_params` and `code_deps` for their resume fingerprint;
nothing else of this package is imported by a stage. May import `srgan.core`.
"""
