"""Console plumbing shared by the `srgan` command and the stage scripts.

`setup_logging` routes log records through `tqdm.write`, so log lines and error
lines appear above progress bars instead of being printed through them.
`run_main` turns a `SrganError` into one `error: ...` line and exit code 1.
This module imports nothing heavy: stage scripts depend on it (dvc.yaml), and
everything it imports becomes part of every stage's code dependencies.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from tqdm import tqdm

from srgan.core.errors import SrganError


class TqdmHandler(logging.Handler):
    """A logging handler that writes through `tqdm.write` (to stderr), keeping bars intact."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # logging's own contract: a handler never raises
            self.handleError(record)


def setup_logging(verbose: bool = False) -> None:
    """INFO (or DEBUG) logging to stderr through tqdm.

    Replaces console handlers set before (plain StreamHandlers, an earlier
    TqdmHandler); other handlers (files, pytest's capture) stay.
    """
    handler = TqdmHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if type(h) not in (logging.StreamHandler, TqdmHandler)] + [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


def error_line(message: str) -> None:
    """Print `error: message` on stderr without breaking an active progress bar."""
    tqdm.write(f"error: {message}", file=sys.stderr)


def run_main(main: Callable[[list[str]], None]) -> None:
    """Run a stage's `main(sys.argv)`; a SrganError becomes `error: ...` and exit 1."""
    setup_logging()
    try:
        main(sys.argv)
    except SrganError as e:
        sys.exit(f"error: {e}")
    except KeyboardInterrupt:
        sys.exit("interrupted")
