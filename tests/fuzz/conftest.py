"""Hypothesis settings for the fuzz tests: a bounded, fixed set of examples so that CI stays inside
its time and sees the same cases every run; ``DBTWIN_FUZZ_EXAMPLES`` raises the count for a longer
local hunt and ``DBTWIN_FUZZ_RANDOM=1`` draws fresh examples."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "dbtwin",
    max_examples=int(os.environ.get("DBTWIN_FUZZ_EXAMPLES", "30")),  # fit and sample; see strategies.examples
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=os.environ.get("DBTWIN_FUZZ_RANDOM") is None,  # the same examples on every CI run
    print_blob=True,
)
settings.load_profile("dbtwin")


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A temporary folder for one fuzz test, removed afterwards (a function-scoped fixture is shared by
    all of the test's examples: :func:`fresh` empties a folder in it for each one)."""
    path = Path(tempfile.mkdtemp(prefix="dbtwin-fuzz-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def fresh(path: Path) -> Path:
    """``path`` as a new, empty folder."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
