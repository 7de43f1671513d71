"""What a training run shows and records: the published curves (one TSV per scalar for `dvc plots` and the
report), TensorBoard and a progress bar.

`TrainLog` is a hook of the loop (`srgan.training.hooks`): at its steps it writes the step's loss scalars,
the learning rate and the count of skipped steps; `Validation` hands it the validation points. Two
cadences: `curve_every` steps for the curve files, which are published outputs of the stage, and
`board_every` steps for TensorBoard and the progress bar, which only show the run.

dvclive was considered: its summary metrics.json inside the plots folder stops
`dvc plots show` from rendering a folder that spans all stage instances (DVC
3.67), so the plot files are written here, one per scalar, in the format that
`srgan.core.records` owns (`append_scalars`). Only the main process of a run logs.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor
from tqdm import tqdm

from srgan.core.records import append_scalars, truncate_scalars
from srgan.training.hooks import Hook, TrainState
from srgan.training.task import Task


class TrainLog(Hook):
    """Curve TSVs every `curve_every` steps, TensorBoard and the progress bar every `board_every` steps (both at
    the last step too); a session that resumes continues an interrupted run's files.

    log_dir / plots_dir: where TensorBoard and the curve files are written while the run trains; total_steps,
    name, progress: the bar's length, label and whether it is shown.
    """

    def __init__(self, log_dir: Path, plots_dir: Path, task: Task, state: TrainState, total_steps: int,
                 curve_every: int, board_every: int, name: str, progress: bool) -> None:
        self.log_dir, self.plots_dir, self.task, self.state = log_dir, plots_dir, task, state
        self.total_steps, self.curve_every, self.board_every = total_steps, curve_every, board_every
        self.name, self.progress = name, progress
        self.writer = None
        self.bar: tqdm | None = None
        self.bar_step = 0

    def start(self, step: int) -> None:
        from torch.utils.tensorboard import (
            SummaryWriter,  # heavy (tensorboard): only when a run logs
        )

        # purge_step drops events an interrupted run logged after its last resume checkpoint.
        self.writer = SummaryWriter(str(self.log_dir), purge_step=step + 1 if step else None)
        if step:
            truncate_scalars(self.plots_dir, step)
        self.bar = tqdm(total=self.total_steps, initial=step, desc=self.name, disable=not self.progress,
                        mininterval=1.0)
        self.bar_step = step

    def _curve_due(self, step: int) -> bool:
        return step % self.curve_every == 0 or step == self.total_steps

    def _board_due(self, step: int) -> bool:
        return step % self.board_every == 0 or step == self.total_steps

    def due(self, step: int) -> bool:
        return self._curve_due(step) or self._board_due(step)

    def at(self, step: int, scalars: dict[str, Tensor]) -> None:
        values = dict(zip(scalars, torch.stack([v.detach().float() for v in scalars.values()]).tolist()))
        values.update(lr=self.task.learning_rate, bad_steps=self.state.bad_steps)
        self.scalars(step, values, curve=self._curve_due(step), board=self._board_due(step))

    def scalars(self, step: int, values: dict[str, float], curve: bool = True, board: bool = True) -> None:
        """Write `values` at `step`: into the curve files (`curve`), TensorBoard and the bar (`board`)."""
        if curve:
            append_scalars(self.plots_dir, step, values)
        if board:
            for key, value in values.items():
                self.writer.add_scalar(key, value, step)
            if "loss/content" in values:
                self.bar.set_postfix(loss=f"{values['loss/content']:.4f}", refresh=False)
            self.bar.update(step - self.bar_step)
            self.bar_step = step

    def image(self, tag: str, img: Tensor, step: int) -> None:
        """TensorBoard only. img: (3, H, W) float in [0, 1]."""
        self.writer.add_image(tag, img, step)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()
