"""Run a function in a fresh process with a time limit: a crash or a timeout becomes a result."""

from __future__ import annotations

import multiprocessing as mp
import resource
import traceback
from collections.abc import Callable
from typing import Any


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(fn: Callable[..., dict[str, Any]], kwargs: dict[str, Any], conn) -> None:
    try:
        conn.send(("ok", fn(**kwargs)))
    except TimeoutError as exc:  # a limit ``fn`` keeps itself (MOSTLY AI's wall clock) is a timeout too
        conn.send(("timeout", {"error": str(exc)}))
    except BaseException as exc:  # reported to the parent, whatever it is
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        conn.send(("failed", {"error": last[:2000], "traceback": traceback.format_exc()[-4000:]}))
    finally:
        conn.close()


def run_isolated(fn: Callable[..., dict[str, Any]], kwargs: dict[str, Any], timeout: float | None) -> tuple[str, dict]:
    """``("ok", result)``, ``("failed", {"error": ...})`` or ``("timeout", {...})`` (past ``timeout``,
    or ``fn`` raised ``TimeoutError``); ``fn`` must be importable (it runs in a spawned process)."""
    ctx = mp.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(fn, kwargs, send), daemon=True)
    process.start()
    send.close()
    try:
        if receive.poll(timeout):
            status, result = receive.recv()
        else:
            status, result = "timeout", {"error": f"ran past the time limit of {timeout:.0f} s"}
    except EOFError:
        status, result = "failed", {}
    finally:
        if process.is_alive():
            process.kill()
        process.join()
    if status == "failed" and "error" not in result:
        code = process.exitcode
        died = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        result["error"] = f"the worker process died ({died})"
    return status, result
