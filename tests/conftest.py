"""Fixtures shared by several test modules, and the test order of mutation runs."""

import os

import pytest
import torch


@pytest.fixture
def one_thread():
    """One intra-op thread: on 2 shared cores a second one made the steps several times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _shares_a_costly_fixture(item: pytest.Item) -> bool:
    """Whether the test uses a fixture of this suite scoped wider than the test (built once per module or session:
    a fake pipeline, a rendered report); pytest's own (tmp_path_factory) do not count."""
    fixtures = getattr(item, "_fixtureinfo", None)
    return fixtures is not None and any(
        d.scope != "function" and d.baseid for defs in fixtures.name2fixturedefs.values() for d in defs)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under mutmut (benchmarks/mutation.py), tests that build a shared fixture run last.

    mutmut runs a mutant's tests with -x, fastest first by the time of their call alone, so a test whose module
    fixture takes seconds to build (a whole report) would run before the unit tests that kill the mutant in
    milliseconds. A stable sort keeps mutmut's order otherwise; a plain pytest run is not reordered."""
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    if mutant and mutant not in ("stats", "fail", "list_all_tests", "mutant_generation"):
        items.sort(key=_shares_a_costly_fixture)
