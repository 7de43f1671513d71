"""srgan-pipeline: SRResNet / SRGAN x4 super-resolution and the content-loss study.

The package is grouped by role; each subpackage's docstring says what it owns
and what it may import. Imports only point downward in this list:

  core/       infrastructure: errors, params, console, atomic files and checkpoints,
              runtime (device, DDP), images and 8-bit tensors, the records that cross
              stage boundaries. Imports nothing else of srgan.
  datasets/   data sources, downloads, the prepared-set layout, training patches.
  nets/       SRResNet and the discriminator.
  losses/     the content-loss grammar, frozen feature extractors, the losses.
  scoring/    metrics (both protocols), NIQE, LPIPS, colour fidelity, evaluation.
  inference/  running a trained generator: whole images; tiles; BN folding; files.
  training/   the steps, tasks, loop, run store, log and validation.
  report/     the report's inputs, tables, figures and build.
  pipeline/   DVC wiring: what each stage declares, its code closure, dvc.yaml.
  cli.py      the `srgan` command (may import anything; nothing imports it).

A module boundary is a DVC cache boundary: a stage depends on every module its
script imports, transitively (`srgan.pipeline.code_deps`), so each module holds
one concept and imports only what it needs. Package `__init__` files import
nothing: they are part of every closure below them.
"""

__version__ = "0.1.0"
