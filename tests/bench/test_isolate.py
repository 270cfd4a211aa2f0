"""Worker processes: results come back, crashes and timeouts become results."""

from __future__ import annotations

import time

from dbtwin.bench.isolate import run_isolated


def _square(x: int) -> dict:
    return {"value": x * x}


def _boom() -> dict:
    raise ValueError("table 'x' is broken")


def _own_limit() -> dict:
    raise TimeoutError("ran past its own limit of 5 s")


def _sleep(seconds: float) -> dict:
    time.sleep(seconds)
    return {}


def test_ok_failed_timeout():
    assert run_isolated(_square, {"x": 7}, 60) == ("ok", {"value": 49})
    status, result = run_isolated(_boom, {}, 60)
    assert status == "failed" and "table 'x' is broken" in result["error"] and "Traceback" in result["traceback"]
    started = time.monotonic()
    status, result = run_isolated(_sleep, {"seconds": 60}, 2)
    assert status == "timeout" and "2 s" in result["error"]
    assert time.monotonic() - started < 30
    # a function that keeps its own time limit reports a timeout, not a failure
    assert run_isolated(_own_limit, {}, 60) == ("timeout", {"error": "ran past its own limit of 5 s"})
