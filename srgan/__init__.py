"""srgan-pipeline: SRResNet / SRGAN x4 super-resolution and the content-loss study.

The package is grouped by role; each subpackage's docstring says what it owns and, on its
last line ("May import: ..."), what it may import (tests/test_layering.py holds every module
to it). Imports only point downward in this order:

  core/       infrastructure: errors, params and their views, the study's switches, console,
              atomic files and checkpoints, runtime (device, DDP), images and 8-bit tensors,
              the records that cross stage boundaries. Imports nothing else of srgan.
  datasets/   data sources, downloads, the prepared-set layout, training patches.   (core)
  nets/       SRResNet and the discriminator.                                       (core)
  losses/     the content-loss grammar, frozen feature extractors, the losses.      (core)
  inference/  running a trained generator: whole images; tiles; BN folding; files;
              published checkpoints in, ONNX and safetensors out.                    (core, nets)
  scoring/    metrics (both protocols), NIQE, LPIPS, colour fidelity, evaluation.   (+ datasets, inference)
  training/   the loop, its task contract, both experiments' steps and tasks.       (+ losses, scoring.metrics)
  report/     the report's inputs, tables, figures, curves, metrics files, stats,
              their calibration, the results the docs quote.                      (+ losses.terms)
  pipeline/   DVC wiring: declared params, code closures, dvc.yaml, reruns, plan.   (+ report.curves)
  cli.py      the `srgan` command (may import anything; nothing imports it).

A module boundary is a DVC cache boundary: a stage depends on every module its
script imports, transitively (`srgan.pipeline.code_deps`), so each module holds
one concept and imports only what it needs. Package `__init__` files import
nothing: they are part of every closure below them.
"""

__version__ = "0.1.0"
