"""DVC wiring: the params each stage declares (`stage_params`), a stage's code as the import
closure of its script (`code_deps`), dvc.yaml generated from both and dvc.lock kept to its stages
(`dvc_yaml`; `python -m srgan.pipeline.dvc_yaml --check`), what reruns when (`reruns`), and the
study on several hosts: what is done (`done`), the slices of what is not (`plan`, the `srgan plan`
command) and a host's clone moved between rounds (`worker`, `srgan worker sync`).

No stage imports this package: a stage reads its declaration back from dvc.yaml
(`srgan.core.declared`). `plan` builds the networks on the meta device to count their FLOPs.

May import: srgan.core, srgan.datasets, srgan.nets, srgan.losses, srgan.report.curves.
"""
