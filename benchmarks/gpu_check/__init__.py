"""One-command GPU check of the training path (one GPU, no network, under 8 minutes).

Estimated at about 5 minutes on one H100 from its step counts (never run on a GPU yet); the JSON records
each part's seconds.

usage: python benchmarks/gpu_check.py [--cpu] [--out gpu_check.json] [--parts afbcdeg] [--loop-steps 300]
                                      [--step-steps 100] [--run-seconds 30] [--parity-steps 30]
   or: python -m benchmarks.gpu_check [the same options]

Writes one JSON file (--out, default gpu_check.json; rewritten after every part, so a run cut short keeps
what finished) and prints a markdown table per part, then the verdicts. Each part runs on its own: one that
fails records its error and the others still run. The tasks are the training stages' own
(`srgan.training.srresnet`, `srgan.training.srgan`), driven through the training `Task` protocol:
SRResNet-MSE, and SRGAN + VGG19_5_4 (adversarial weight 1e-3; the extractor has random weights: offline,
and the speed is the same). One module per part:

  (a) `captured`        the whole step, patch cut included, captured as a CUDA graph (fp32, bf16)
  (b) `parity`          graphed against eager: pooled and per-tensor drift, per-step losses, integer state
  (c) `host_sync`       replayed steps with host synchronisation made an error
  (d) `speed`           loops at the profiles' precision against targets per GPU model (`targets`), the step
                        alone +- the guard, the sampler alone, and a 30-s TrainingRun per stage (`stage_runs`)
  (e) `profile`         kernels per step, busy share, top kernels, memory; CUPTI version; untraced graphs flagged
  (f) `sampler_parity`  device sampler against the CPU loader; the captured cut against the eager cut
  (g) `capture_failure` a forced capture failure: auto goes on eagerly (stream restored), required stops
`common` holds what they share, `report` the tables, `cli` the command.

--cpu: a dry run of every part on the CPU at tiny sizes (SRResNet 2 blocks x 8 channels, batch 2, 32-px
patches, 4-step stage runs). Graphs never apply there, so (b) compares eager with eager, (c) turns every host
read of a tensor into an error instead of CUDA's sync check, (e) counts ATen ops per step instead of kernels,
and (f) and (g) stand a host-read check in for the capture.
"""
