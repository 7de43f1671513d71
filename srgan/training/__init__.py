"""Training both experiments. The loop (`loop`) drives a task through the `Task` contract
(`task`); beside it stand its hooks (`hooks`: the contract, the guard's reader and the shared
progress): the curves and TensorBoard (`log`), validation and best tracking (`validation`), the
checkpoint points (`points`) and the resume saves (`resume`); `summary` writes the finished run's
summary and timing; the run store keeps the files and publishes the outputs (`store`). Each
experiment is one module with its step, task and run:
`srresnet` (experiment 1) and `srgan` (experiment 2). Shared: the step context and ending
(`step`), the non-finite guard (`guard`), CUDA graphs (`graphs`), the EMA (`ema`), per-dtype
bookkeeping (`grouped`), the stage setup (`setup`) and the run builder (`run`).

A training stage's closure holds only what it runs: experiment 1 imports no `srgan` module,
discriminator or adversarial loss; the pixel-MSE stages import no extractors (the feature
stages' scripts build them and pass them in).

May import: srgan.core, srgan.datasets, srgan.nets, srgan.losses.content, srgan.losses.terms,
srgan.losses.adversarial, srgan.scoring.metrics, srgan.inference.generator.
"""
