"""Where a training run keeps what it needs to resume, and how it publishes its outputs.

State folder (scratch, never a DVC output): `resume.pt`, the whole training
state saved atomically every `execution.checkpoint_every` steps, with the run's
fingerprint; `points/<folder>/{best,last}.pt`, the checkpoint points written so
far; `logs/` (TensorBoard) and `plots/` (one TSV per scalar), written while the
run trains (`tensorboard --logdir state` shows live runs). They wait there
because DVC deletes a stage's outputs before the stage runs, so a resumed run
must find them elsewhere; and no output is `persist: true`, so DVC can save and
restore every training stage in its run-cache. At the end `publish` copies the
points into the output folder, the logs and plots into their output folders,
writes the summary (and the timing into the log folder) and deletes the state, with
the folders it leaves empty under state/.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srgan.core.artifacts import atomic_path, load_checkpoint, save_checkpoint
from srgan.core.errors import SrganError
from srgan.core.records import RunTiming, TrainingSummary, write_summary, write_timing

log = logging.getLogger(__name__)

RESUME_FILE = "resume.pt"
CHECKPOINT_FILES = ("best.pt", "last.pt")
LIVE_LOGS, LIVE_PLOTS = "logs", "plots"  # the state folder's live copies of log_dir and plots_dir


@dataclass(frozen=True)
class RunPaths:
    out_dir: Path  # final artefacts (DVC output, written when the run ends)
    log_dir: Path  # TensorBoard and timing.json (DVC output, written when the run ends)
    plots_dir: Path  # one TSV per scalar for `dvc plots` (DVC plots output, written when the run ends)
    state_dir: Path  # resume state, checkpoint points, live logs and plots: scratch, not a DVC output


class RunStore:
    """The files of one run (see the module docstring); only the main process writes."""

    def __init__(self, paths: RunPaths, is_main: bool) -> None:
        self.paths = paths
        self.is_main = is_main
        self.resume_path = paths.state_dir / RESUME_FILE
        self.live_log_dir = paths.state_dir / LIVE_LOGS  # TensorBoard while the run trains
        self.live_plots_dir = paths.state_dir / LIVE_PLOTS  # the plot TSVs while the run trains

    def load_resume(self, fingerprint: dict[str, str]) -> dict[str, Any] | None:
        """The saved state when it belongs to this run (same fingerprint), else None (start afresh)."""
        if not self.resume_path.is_file():
            return None
        # On the CPU: torch.set_rng_state takes only a CPU tensor; load_state_dict moves
        # weights and optimiser state to the device.
        saved = load_checkpoint(self.resume_path, map_location="cpu")
        saved_fingerprint = saved.get("fingerprint") or {}
        changed = [name for name in fingerprint if saved_fingerprint.get(name) != fingerprint[name]]
        if changed:
            log.warning("%s is from a run with other %s: starting afresh", self.resume_path, ", ".join(changed))
            return None
        return saved

    def save_resume(self, state: dict[str, Any], fingerprint: dict[str, str]) -> None:
        if self.is_main:
            save_checkpoint(self.resume_path, {**state, "fingerprint": fingerprint})

    def open_folders(self, fresh: bool) -> None:
        """A fresh run clears its state folder (an older run's); a resumed one keeps it. Both clear the
        output log and plots folders, which only `publish` fills."""
        if not self.is_main:
            return
        folders = (self.paths.log_dir, self.paths.plots_dir) + ((self.paths.state_dir,) if fresh else ())
        for folder in folders:
            if Path.cwd().resolve().is_relative_to(folder.resolve()):
                raise SrganError(f"refusing to clear {folder}: it holds the working directory")
            shutil.rmtree(folder, ignore_errors=True)
        for folder in (self.live_log_dir, self.live_plots_dir):
            folder.mkdir(parents=True, exist_ok=True)

    def save_point(self, folder: str, checkpoints: dict[str, dict[str, Any]]) -> None:
        """Keep a checkpoint point's files ({"best.pt": ..., "last.pt": ...}) until `publish`."""
        if self.is_main:
            for name, checkpoint in checkpoints.items():
                save_checkpoint(self.paths.state_dir / "points" / folder / name, checkpoint)

    def publish(self, folders: list[str], summary: TrainingSummary, timing: RunTiming) -> None:
        """Copy the points, logs and plots into their output folders, write the summary and timing, drop
        the state."""
        if not self.is_main:
            return
        self.paths.out_dir.mkdir(parents=True, exist_ok=True)
        for folder in dict.fromkeys(folders):
            for name in CHECKPOINT_FILES:
                # Copied, not moved: until resume.pt is gone below, a killed run must find them again.
                with atomic_path(self.paths.out_dir / folder / name) as tmp:
                    shutil.copy2(self.paths.state_dir / "points" / folder / name, tmp)
        write_summary(self.paths.out_dir, summary)
        for live, out in ((self.live_log_dir, self.paths.log_dir), (self.live_plots_dir, self.paths.plots_dir)):
            with atomic_path(out) as tmp:
                shutil.copytree(live, tmp)
        write_timing(self.paths.log_dir, timing)
        # Finished: only the final artefacts remain.
        self.resume_path.unlink(missing_ok=True)
        for folder in ("points", LIVE_LOGS, LIVE_PLOTS):
            shutil.rmtree(self.paths.state_dir / folder, ignore_errors=True)
        remove_empty_folders(self.paths.state_dir)


def remove_empty_folders(folder: Path) -> None:
    """Remove `folder` and then each parent in turn while it is empty (state/srgan/mse/seed0, state/srgan/mse,
    ...), never the working directory or anything holding it: a finished run leaves no trace under state/."""
    keep = {Path.cwd().resolve(), *Path.cwd().resolve().parents}
    for candidate in (folder, *folder.parents):
        resolved = candidate.resolve()
        if resolved in keep or not candidate.is_dir() or any(candidate.iterdir()):
            return
        candidate.rmdir()
