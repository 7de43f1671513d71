"""Running a stage script as N DistributedDataParallel processes with torchrun."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

from srgan.core.errors import SrganError

log = logging.getLogger(__name__)


def relaunch_under_torchrun(processes: int, argv: list[str]) -> bool:
    """Re-run this script under `torchrun --nproc-per-node processes` unless already under it.

    Returns True when the work was done by the relaunched processes (the caller
    then returns); False when this process should do the work itself. For
    several nodes, start the stage with torchrun yourself (docs/gpus.md, "Several machines"): then
    WORLD_SIZE is set and nothing is relaunched.
    """
    if processes <= 1 or "WORLD_SIZE" in os.environ:
        return False
    # A stage started as `python -m stages.x` is relaunched the same way (so it imports the same srgan).
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    target = ["-m", spec.name, *argv[1:]] if spec is not None else argv
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}", *target]
    log.info("starting %d processes: %s", processes, " ".join(cmd))
    result = subprocess.run(cmd, check=False)
    if result.returncode != 0:
        raise SrganError(f"distributed training with {processes} processes failed (exit {result.returncode}); see the log above")
    return True
