"""What a training run shows and records: a progress bar, TensorBoard, and TSV files for `dvc plots`.

dvclive was considered: its summary metrics.json inside the plots folder stops
`dvc plots show` from rendering a folder that spans all stage instances (DVC
3.67), so the plot files are written here, one per scalar, in the format that
`srgan.core.records` owns (`append_scalars`). Only the main process of a run logs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from torch import Tensor
from tqdm import tqdm

from srgan.core.records import append_scalars, truncate_scalars

T = TypeVar("T")


class TrainLog:
    """TensorBoard writer plus one TSV per scalar; `resume_step` > 0 continues an interrupted run's logs."""

    def __init__(self, log_dir: Path, plots_dir: Path, resume_step: int) -> None:
        from torch.utils.tensorboard import (
            SummaryWriter,  # heavy (tensorboard): only when a run logs
        )

        # purge_step drops events an interrupted run logged after its last resume checkpoint.
        self.writer = SummaryWriter(str(log_dir), purge_step=resume_step + 1 if resume_step else None)
        self.plots_dir = plots_dir
        self.bar: tqdm | None = None
        if resume_step:
            truncate_scalars(plots_dir, resume_step)

    def progress(self, batches: Iterable[T], total: int, initial: int, name: str, enabled: bool) -> Iterator[T]:
        """`batches` with a tqdm bar over the run's steps (the loss of the last logged step as postfix)."""
        self.bar = tqdm(batches, total=total, initial=initial, desc=name, disable=not enabled, mininterval=1.0)
        return iter(self.bar)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.writer.add_scalar(key, value, step)
        append_scalars(self.plots_dir, step, values)
        if self.bar is not None and "loss/content" in values:
            self.bar.set_postfix(loss=f"{values['loss/content']:.4f}", refresh=False)

    def image(self, tag: str, img: Tensor, step: int) -> None:
        """img: (3, H, W) float in [0, 1]."""
        self.writer.add_image(tag, img, step)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.writer.close()
