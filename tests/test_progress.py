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


def test_rows_show_their_rate():
    out = io.StringIO()
    bar = Progress("writing", 1_000_000, unit="rows", stream=out, every=0.0)
    bar.started -= 10.0  # ten seconds in
    bar.advance(250_000)
    line = out.getvalue().splitlines()[0]
    assert line.startswith("writing: 25% (250,000 of 1,000,000 rows), 0:10 elapsed, 25,000 rows/s, about 0:30 left")


def test_phases_log_seconds_rows_a_second_and_peak_memory(caplog):
    import logging

    from dbtwin.progress import Phase, peak_rss_mb

    with caplog.at_level(logging.INFO, logger="dbtwin.phases"), Phase("denoising", rows=1_000):
        pass
    message = caplog.records[-1].getMessage()
    assert message.startswith("denoising: 0.0 s, ") and "rows/s" in message and message.endswith(" MB")
    assert peak_rss_mb() > 10
