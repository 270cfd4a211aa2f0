"""Progress of a long phase: a bar with a total and the time left on a terminal, a line now and then
when the output goes to a file or a pipe (so a log shows that work goes on, and how far it is)."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from tqdm.auto import tqdm

#: Seconds between two progress lines when not on a terminal.
LINE_EVERY = 30.0


class Progress:
    """``total`` units of work (steps, phases, or seconds of a time budget), counted by
    :meth:`advance` or set by :meth:`moveto`; ``enabled=False`` shows nothing."""

    def __init__(
        self,
        desc: str,
        total: float | None,
        unit: str = "step",
        enabled: bool = True,
        initial: float = 0,
        stream: TextIO | None = None,
        every: float = LINE_EVERY,
    ) -> None:
        self.desc, self.total, self.unit = desc, total, unit
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.terminal = enabled and getattr(self.stream, "isatty", lambda: False)()
        self.every = every
        self.n = initial
        self.postfix: dict[str, Any] = {}
        self.started = self.last_line = time.monotonic()
        self.bar = (
            tqdm(total=total, initial=initial, desc=desc, unit=unit, file=self.stream, dynamic_ncols=True)
            if self.terminal
            else None
        )

    def advance(self, n: float = 1, **postfix: Any) -> None:
        self.moveto(self.n + n, **postfix)

    def moveto(self, n: float, **postfix: Any) -> None:
        if not self.enabled:
            return
        self.postfix.update(postfix)
        if self.bar is not None:
            self.bar.update(n - self.bar.n)
            if postfix:
                self.bar.set_postfix(self.postfix, refresh=False)
        self.n = n
        now = time.monotonic()
        if self.bar is None and now - self.last_line >= self.every:
            self.last_line = now
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def line(self) -> str:
        """``training: 40% (120 of 300 s), 2:00 elapsed, about 3:00 left, step=81, loss=0.4``."""
        elapsed = time.monotonic() - self.started
        parts = [f"{self.desc}:"]
        if self.total:
            done = min(self.n / self.total, 1.0)
            parts.append(f"{done:.0%} ({self.n:,.0f} of {self.total:,.0f} {self.unit}),")
            left = elapsed * (1 - done) / done if done > 0 else None
            rate = f", {self.n / elapsed:,.0f} {self.unit}/s" if self.unit == "rows" and elapsed > 0 else ""
            parts.append(
                f"{_clock(elapsed)} elapsed{rate}" + (f", about {_clock(left)} left" if left is not None else "")
            )
        else:
            parts.append(f"{self.n:,.0f} {self.unit}, {_clock(elapsed)} elapsed")
        if self.postfix:
            parts[-1] += ","
            parts.append(", ".join(f"{k}={v}" for k, v in self.postfix.items()))
        return " ".join(parts)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled and time.monotonic() - self.started >= self.every:
            self.stream.write(self.line() + " (done)\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def rss_mb() -> float:
    """Resident memory of this process now, in MB (Linux; 0 elsewhere)."""
    return _status_mb("VmRSS") or 0.0


def _status_mb(field: str) -> float | None:
    """A memory figure of this process's ``/proc/self/status`` in MB; None where there is none."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            lines = status.readlines()
    except OSError:  # not Linux
        return None
    for line in lines:
        if line.startswith(f"{field}:"):
            figure = line.split()[1:2]
            return int(figure[0]) / 1024 if figure and figure[0].isdigit() else None
    return None


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (0 where the system does not say). On Linux,
    the high-water mark of the process's own memory (``VmHWM``): ``ru_maxrss`` also holds that of the
    process it was started from (a 10 GB parent makes every child report 10 GB)."""
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    try:
        import resource
    except ImportError:  # not on a POSIX system
        return 0.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Phase:
    """Logs how long a phase of a long job took, its rows a second and the peak memory so far:
    ``with Phase("denoising", rows=n): ...``."""

    def __init__(self, name: str, rows: int | None = None) -> None:
        self.name, self.rows = name, rows

    def __enter__(self) -> Phase:
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        import logging

        seconds = time.monotonic() - self.started
        speed = f", {self.rows / seconds:,.0f} rows/s" if self.rows and seconds > 0 else ""
        logging.getLogger("dbtwin.phases").info(
            "%s: %.1f s%s, peak RSS %s MB", self.name, seconds, speed, f"{peak_rss_mb():,.0f}"
        )


__all__ = ["LINE_EVERY", "Phase", "Progress", "peak_rss_mb", "rss_mb"]
