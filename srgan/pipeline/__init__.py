"""DVC wiring: the params each stage declares (`stage_params`), a stage's code as the import
closure of its script (`code_deps`), dvc.yaml generated from both (`dvc_yaml`; `python -m
srgan.pipeline.dvc_yaml --check`), what reruns when (`reruns`), and the study's slices for several
hosts (`plan`, the `srgan plan` command).

No stage imports this package: a stage reads its declaration back from dvc.yaml
(`srgan.core.declared`). `plan` builds the networks on the meta device to count their FLOPs.

May import: srgan.core, srgan.datasets, srgan.nets, srgan.losses, srgan.report.curves.
"""
