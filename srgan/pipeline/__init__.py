"""DVC wiring: the params each stage declares (`stage_params`), a stage's code as the
import closure of its script (`code_deps`), dvc.yaml generated from both
(`dvc_yaml`; `python -m srgan.pipeline.dvc_yaml --check`), and the study's slices
for several hosts (`plan`, the `srgan plan` command).

Training stages import `stage_params` and `code_deps` for their resume fingerprint;
nothing else of this package is imported by a stage. Those two may import `srgan.core`
only; `plan` (no stage imports it) also builds the networks to count their FLOPs.
"""
