"""Fixtures the tests of srgan/datasets share."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest


@pytest.fixture
def record_bars(monkeypatch: pytest.MonkeyPatch) -> Callable[[ModuleType], list[dict]]:
    """record_bars(module): replace `module.tqdm` with a bar that records its keyword arguments and the sum of
    its updates; returns the list of {"kwargs", "updates"} of the bars made, in order."""
    made: list[dict] = []

    class RecordingBar:
        def __init__(self, **kwargs: object) -> None:
            self.kwargs, self.updates = kwargs, 0
            made.append(self.__dict__)

        def __enter__(self) -> RecordingBar:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def update(self, n: int = 1) -> None:
            self.updates += n

    def patch(module: ModuleType) -> list[dict]:
        monkeypatch.setattr(module, "tqdm", RecordingBar)
        return made

    return patch
