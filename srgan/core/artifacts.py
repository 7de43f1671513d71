"""Atomic file writes and safe checkpoint save/load.

Every output is written to a temporary file in the destination's directory and
moved into place with `os.replace`, so a crash never leaves a half-written file
that DVC could cache. Checkpoints are plain dicts of tensors and plain data,
loaded with `torch.load(weights_only=True)`: a checkpoint cannot run code.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import struct
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srgan.core.errors import SrganError

if TYPE_CHECKING:
    import torch


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success move it onto `path`.

    Works for files and directories: whatever the caller creates at the yielded
    path replaces `path` (an existing directory is removed first). On an
    exception the temporary is deleted and `path` is left untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # the caller creates a file or a directory here
    try:
        yield tmp
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def bump_mtime(path: Path) -> None:
    """Give `path` a modification time after its current one (and no earlier than now), leaving its bytes.

    For a params file a failed `dvc exp run -S` leaves edited: DVC's experiment executor applies the edit through
    a stash whose index entry can keep HEAD's content under the edited file's size and time, so `git status`,
    `git checkout` and even `git reset --hard` take the file for unchanged. A new time makes git look at it again.
    """
    stat = path.stat()
    when = max(time.time(), stat.st_mtime + 1.0)
    os.utime(path, (when, when))


def write_json_atomic(path: Path, data: Any) -> None:
    """Write `data` as indented JSON (NaN/inf allowed, as DVC reads them)."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def read_json(path: Path, what: str) -> dict:
    """A JSON object written by `write_json_atomic`; SrganError naming `what` and the file when it is
    missing or not one ("run the stage that writes it")."""
    if not path.is_file():
        raise SrganError(f"{what} {path} not found; run the stage that writes it (dvc repro) or check the path")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SrganError(f"{what} {path} is not valid JSON ({e}); run the stage that writes it again") from None
    if not isinstance(data, dict):
        raise SrganError(f"{what} {path} is not a JSON object; run the stage that writes it again")
    return data


def save_checkpoint(path: Path, checkpoint: dict[str, Any]) -> None:
    """Save a dict of state_dicts / tensors / plain data atomically; the same dict gives the same bytes.

    Written through an open file: given a path, torch.save names the zip's root folder after the
    file, here the random temporary name, so two saves of one dict (two hosts training the same
    run) would differ and DVC would see a changed output.
    """
    import torch  # here, not at the top: the atomic writers above serve torch-free modules too

    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        torch.save(checkpoint, fh)


def torch_load_safely(path: Path, map_location: str | torch.device = "cpu") -> Any:
    """torch.load with `weights_only=True`: whatever the file holds, or SrganError naming the file.

    A pickle that would import or call arbitrary objects is refused, not executed; a truncated or
    corrupt file (which trips the safe unpickler in many ways) is one readable line too.
    """
    import torch

    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's message opens with advice to retry with weights_only=False; show the reason instead.
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        reasons = [ln for ln in lines if "unsupported" in ln.lower()]
        first = (reasons or lines or [type(e).__name__])[0]
        raise SrganError(f"checkpoint {path} was refused by the safe loader (weights_only=True): {first}") from None
    except (RuntimeError, EOFError, OSError, ValueError, IndexError, KeyError, TypeError, struct.error) as e:
        raise SrganError(f"checkpoint {path} is not a readable checkpoint ({type(e).__name__}: {e})") from None


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint saved by `save_checkpoint` (`torch_load_safely`): a dict with a 'model' entry.

    Raises SrganError for a missing, truncated or unsafe file, or one that is not such a dict.
    """
    if not path.is_file():
        raise SrganError(f"checkpoint {path} not found; run the stage that makes it (dvc repro) or check the path")
    ckpt = torch_load_safely(path, map_location)
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise SrganError(f"checkpoint {path} is not an srgan checkpoint (no 'model' entry)")
    return ckpt
