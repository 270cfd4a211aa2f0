"""Progress of long phases: a line with a total and the time left when not on a terminal."""

from __future__ import annotations

import io

from dbtwin.progress import Progress


def test_lines_in_a_log_give_the_share_done_and_the_time_left():
    out = io.StringIO()
    bar = Progress("training", 300, unit="s", stream=out, every=0.0)
    bar.moveto(120, step=81, loss="0.4000")
    bar.close()
    first = out.getvalue().splitlines()[0]
    assert first.startswith("training: 40% (120 of 300 s),") and "left" in first and "step=81, loss=0.4000" in first


def test_nothing_is_shown_when_disabled_or_between_lines():
    out = io.StringIO()
    Progress("sampling", 10, stream=out, enabled=False).advance()
    quiet = Progress("sampling", 10, stream=out, every=3600)
    quiet.advance()
    quiet.close()
    assert out.getvalue() == ""
