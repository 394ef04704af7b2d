"""Progress output: a redrawn bar on a terminal, a few plain log lines elsewhere, quiet empty
days, and form4's log lines reaching Prefect's run logger inside a flow."""

from __future__ import annotations

import io
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
from prefect import flow, task
from prefect.testing.utilities import prefect_test_harness

from form4.flows.ingest_flow import run_flow
from form4.flows.pipeline.progress import Progress, QuietDays, format_duration
from form4.flows.runlog import to_run_logger

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_on_a_terminal_the_bar_shows_total_rate_and_time_left_on_one_redrawn_line() -> None:
    """Guards against a bare counter with no total or time left, or one line per update
    flooding the terminal."""
    out = Terminal()
    progress = Progress("backfill", out, total=10, auto_refresh=False, width=100)
    for _ in range(10):
        progress.advance(1)
    progress.close()
    text = ANSI.sub("", out.getvalue())
    assert text.count("\n") == 1  # one line, redrawn with carriage returns
    assert text.count("\r") >= 10
    final = text.rstrip("\n").split("\r")[-1]
    assert final.startswith("backfill ") and "10/10" in final
    assert re.search(r"[\d,.]+/s", final) and "left 0:00:00" in final


def test_a_log_line_written_during_the_bar_is_printed_whole_above_it() -> None:
    """Guards against a log line glued onto the bar ("backfill 1000 (36.9/s)2026-...")."""
    out = Terminal()
    handler = logging.StreamHandler(out)
    logger = logging.getLogger("tests.progress.glue")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        progress = Progress("ingest", out, total=10, auto_refresh=False, width=100)
        for i in range(10):
            progress.advance(1)
            if i == 4:
                logger.info("a line from the log")
        progress.close()
        logger.info("after the bar")
    finally:
        logger.removeHandler(handler)
    assert handler.stream is out  # given back once the bar is gone
    text = out.getvalue()
    lines = [ANSI.sub("", line).split("\r")[-1] for line in text.split("\n")]
    assert "a line from the log" in lines  # alone on its line: nothing before or after it
    assert lines.index("a line from the log") < lines.index("after the bar")
    bar_lines = [line for line in lines if line.startswith("ingest ")]
    assert bar_lines and "10/10" in bar_lines[-1]


def test_off_a_terminal_it_logs_about_every_ten_percent(caplog: pytest.LogCaptureFixture) -> None:
    """Guards against control characters in worker logs, or no progress at all there."""
    out = io.StringIO()
    clock = Clock()
    progress = Progress("backfill", out, total=1000, clock=clock)
    with caplog.at_level(logging.INFO, logger="form4.progress"):
        for _ in range(1000):
            clock.now += 0.01
            progress.advance(1)
        progress.close()
    assert out.getvalue() == ""
    lines = [r.getMessage() for r in caplog.records]
    assert 10 <= len(lines) <= 12
    assert lines[4] == "backfill: 500/1,000 filings (50%), 100.0/s, about 5s left"
    assert lines[-1] == "backfill: 1,000 filings in 10s (100.0/s)"


def test_off_a_terminal_a_slow_run_still_logs_every_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Guards against a worker log that stays silent for an hour because ten percent of a
    big, slow backfill takes that long (or its total is not known yet)."""
    clock = Clock()
    progress = Progress("backfill", io.StringIO(), every_s=30, clock=clock)
    with caplog.at_level(logging.INFO, logger="form4.progress"):
        for _ in range(100):
            clock.now += 1.0  # one filing a second: a line every 30 filings
            progress.advance(1)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [f"backfill: {n} filings, 1.0/s" for n in (30, 60, 90)]


def test_a_total_that_grows_as_days_are_read_is_shown() -> None:
    """Guards against a backfill's bar stuck at its first day's total."""
    progress = Progress("backfill", io.StringIO(), interactive=False)
    progress.add_total(3)
    progress.advance(3)
    progress.add_total(5)
    assert (progress.done, progress.total) == (3, 8)


def test_a_stretch_of_empty_days_is_one_line() -> None:
    """Guards against a catch-up over an empty half-year printing a line per day."""
    lines: list[str] = []
    quiet = QuietDays(lines.append)
    day = date(2026, 1, 1)
    for offset in range(125):
        quiet.day(day + timedelta(days=offset), 0)
    quiet.day(date(2026, 6, 1), 12)  # a day with filings ends the stretch
    quiet.day(date(2026, 6, 2), 0)
    quiet.flush()
    assert lines == ["2026-01-01..2026-05-05: 0 filings on 125 days", "2026-06-02: 0 filings"]


def test_durations_read_as_people_write_them() -> None:
    """Guards against an unreadable time left such as 6318.2s."""
    assert [format_duration(s) for s in (5, 75, 3725)] == ["5s", "1m15s", "1h02m"]


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_inside_a_flow_form4_lines_reach_the_prefect_run_logger_from_every_thread() -> None:
    """Guards against a reject's reason, a retry or a progress line that appears on a worker's
    stdout but never in the Prefect API or UI (only Prefect's own loggers are shipped)."""

    @task
    def in_a_task() -> None:
        logging.getLogger("form4.ingest").warning("rejected 0000000000-26-000001: xml: broken")

    @flow
    def a_flow() -> None:
        with to_run_logger():
            logging.getLogger("form4.http").warning("retry 1 in 0.50s")
            in_a_task()
            with ThreadPoolExecutor(1) as pool:  # a fetch thread: no Prefect context there
                pool.submit(logging.getLogger("form4.progress").info, "ingest: 5/10").result()
        logging.getLogger("form4.ingest").warning("after the block: not forwarded")

    captured = {name: _Capture() for name in ("prefect.flow_runs", "prefect.task_runs")}
    for name, handler in captured.items():
        logging.getLogger(name).addHandler(handler)
    try:
        # a temporary Prefect server, stopped when the block ends (not at interpreter exit)
        with prefect_test_harness(server_startup_timeout=120):
            state = run_flow(a_flow, {})
    finally:
        for name, handler in captured.items():
            logging.getLogger(name).removeHandler(handler)
    assert state.is_completed()
    flow_lines = [(r.levelno, r.getMessage()) for r in captured["prefect.flow_runs"].records]
    task_lines = [r.getMessage() for r in captured["prefect.task_runs"].records]
    assert (logging.WARNING, "retry 1 in 0.50s") in flow_lines
    assert (logging.INFO, "ingest: 5/10") in flow_lines
    assert "rejected 0000000000-26-000001: xml: broken" in task_lines
    assert all("after the block" not in m for _, m in flow_lines)
    flow_run_ids = {getattr(r, "flow_run_id", None) for r in captured["prefect.flow_runs"].records}
    assert None not in flow_run_ids  # each line is tied to the run, as the API handler needs
