"""srgan.core.console: log lines through tqdm in one format, and one `error:` line for a SrganError."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator

import pytest

from srgan.core import console
from srgan.core.console import TqdmHandler, error_line, run_main, setup_logging
from srgan.core.errors import SrganError


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, restored after the test (handlers and level)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def test_setup_logging_replaces_console_handlers_keeps_others_and_sets_the_level(root_logger: logging.Logger,
                                                                                 tmp_path) -> None:
    plain, earlier, to_file = logging.StreamHandler(), TqdmHandler(), logging.FileHandler(tmp_path / "log.txt")
    root_logger.handlers[:] = [plain, to_file, earlier]
    setup_logging()
    *kept, handler = root_logger.handlers
    assert kept == [to_file] and type(handler) is TqdmHandler and handler is not earlier
    assert root_logger.level == logging.INFO
    setup_logging(verbose=True)
    assert root_logger.level == logging.DEBUG and root_logger.handlers[:-1] == [to_file]
    to_file.close()


def test_log_lines_are_time_level_logger_and_message_through_tqdm(root_logger: logging.Logger, monkeypatch) -> None:
    written = []
    monkeypatch.setattr(console.tqdm, "write", lambda text, file=None: written.append((text, file)))
    setup_logging()
    record = logging.LogRecord("srgan.train", logging.WARNING, __file__, 1, "loss %s", ("nan",), None)
    record.created = time.mktime((2026, 12, 7, 9, 5, 3, 0, 0, -1))
    root_logger.handlers[-1].handle(record)
    assert written == [("09:05:03 WARNING srgan.train: loss nan", sys.stderr)]


def test_a_handler_that_fails_to_write_reports_the_record_and_does_not_raise(monkeypatch) -> None:
    def broken(text, file=None):
        raise OSError("closed")

    monkeypatch.setattr(console.tqdm, "write", broken)
    handler, seen = TqdmHandler(), []
    monkeypatch.setattr(handler, "handleError", seen.append)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
    handler.emit(record)
    assert seen == [record]


def test_error_line_and_run_main(monkeypatch, capsys, root_logger) -> None:
    error_line("no checkpoint")
    assert capsys.readouterr().err == "error: no checkpoint\n"
    monkeypatch.setattr(sys, "argv", ["stage.py", "a"])
    seen = []
    run_main(seen.append)
    assert seen == [["stage.py", "a"]]

    def fails(argv):
        raise SrganError("params key 'x' must be > 0, got 0")

    def interrupted(argv):
        raise KeyboardInterrupt

    for main, code in ((fails, "error: params key 'x' must be > 0, got 0"), (interrupted, "interrupted")):
        with pytest.raises(SystemExit) as stop:
            run_main(main)
        assert stop.value.code == code
