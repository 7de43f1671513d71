"""Training both experiments: the optimiser steps (`steps`), the two tasks that own
networks and optimisers (`tasks`), the weight average (`ema`), the loop (`loop`), the
run store of resume state and checkpoint points (`store`), logging (`log`), validation
(`validation`), and one builder for both runs (`runs`).

May import `srgan.core`, `srgan.datasets`, `srgan.nets`, `srgan.losses`,
`srgan.scoring.metrics` and `srgan.inference.generator` (never tiling, folding,
upscale files, report or figures).
"""
