"""Progress output: a redrawn bar on a terminal, a few log lines elsewhere."""

from __future__ import annotations

import io
import logging

import pytest

from form4.flows.pipeline.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_bar_is_redrawn_in_place() -> None:
    """Guards against a backfill flooding a terminal with one line per batch."""
    out = Terminal()
    progress = Progress("backfill", out, total=10)
    for _ in range(10):
        progress.advance(1)
    progress.close()
    text = out.getvalue()
    assert text.count("\n") == 1 and text.count("\r") == 10
    assert "[" + "#" * 30 + "] 10/10" in text


def test_off_a_terminal_it_logs_about_every_ten_percent(caplog: pytest.LogCaptureFixture) -> None:
    """Guards against control characters in worker logs, or no progress at all there."""
    out = io.StringIO()
    progress = Progress("backfill", out, total=1000)
    with caplog.at_level(logging.INFO, logger="form4.progress"):
        for _ in range(1000):
            progress.advance(1)
    assert out.getvalue() == ""
    lines = [r.getMessage() for r in caplog.records]
    assert 10 <= len(lines) <= 12
    assert lines[-1].startswith("backfill: 1000/1000")
