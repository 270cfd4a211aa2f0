"""Hypothesis settings for the fuzz tests: a bounded number of examples so that CI stays inside its
time; ``DBTWIN_FUZZ_EXAMPLES`` raises it for a longer local hunt."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "dbtwin",
    max_examples=int(os.environ.get("DBTWIN_FUZZ_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=os.environ.get("DBTWIN_FUZZ_RANDOM") is None,  # the same examples on every CI run
    print_blob=True,
)
settings.load_profile("dbtwin")
