"""A non-UTF-8 locale for tests of files and git output read or written as UTF-8 whatever the locale."""

from __future__ import annotations

import codecs
import locale
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def ascii_locale() -> Iterator[None]:
    """Python's locale encoding made ASCII (the C locale), as a non-UTF-8 locale (Latin-1, cp1252) differs from
    the UTF-8 the report writes: text read or written with the locale's encoding meets a UnicodeError on the
    report's '↑', '−', 'é'. Skips where Python runs in UTF-8 mode or the C locale is UTF-8."""
    if sys.flags.utf8_mode:
        pytest.skip("Python's UTF-8 mode reads every file as UTF-8 whatever the locale")
    old = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        if codecs.lookup(locale.getpreferredencoding(False)).name == "utf-8":
            pytest.skip("this platform's C locale is UTF-8")
        yield
    finally:
        locale.setlocale(locale.LC_CTYPE, old)
