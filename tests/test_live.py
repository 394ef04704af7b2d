"""A live warehouse: readers during an ingest, a held read-only connection, two writers, and a
group-wide Ctrl-C of the real command line.

The EDGAR side is the loopback server of ``tests/edgar_server.py`` throttled by form4's own
rate limit (``FORM4_MAX_RPS=10``, as against EDGAR), so an ingest holds the warehouse the way
it would for real: many short commits separated by seconds of fetching.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import pytest

from form4.flows.cli.demo import SAMPLE_DATA
from form4.flows.config import Settings
from form4.flows.ingest_flow import run_ingest
from form4.parsers.errors import LoadError
from form4.warehouse.db import Warehouse
from form4.warehouse.lock import WriterLock
from tests.conftest import corpus_dir
from tests.edgar_server import FaultyEdgar
from tests.edgar_tree import synthetic_day

ROOT = Path(__file__).resolve().parent.parent
DAY = date(2026, 2, 2)
TODAY = date(2026, 2, 10)
FORM4 = [sys.executable, "-m", "form4.flows.cli"]


def templates() -> list[bytes]:
    """Forms 4 of the corpus and of the samples (the malformed sample left out)."""
    paths = sorted((corpus_dir() / "txt").glob("*.txt")) + sorted(SAMPLE_DATA.rglob("*.txt"))
    subs = [p.read_bytes() for p in paths if "0002900002-26-000009" not in p.name]
    return [s for s in subs if re.search(rb"CONFORMED SUBMISSION TYPE:\s*4(/A)?\s", s)]


def settings_for(srv: FaultyEdgar, db: Path, **env: str) -> Settings:
    base = {
        "SEC_USER_AGENT": "form4 tests tests@form4.example",
        "FORM4_RETRY_BASE_S": "0.01",
        "FORM4_TIMEOUT_S": "5",
        "FORM4_RATE_DIR": "none",
        **env,
    }
    return Settings.from_env(base, db_path=db, edgar_url=srv.base_url)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_a_reader_querying_every_100_ms_during_a_300_filing_ingest_never_fails(
    tmp_path: Path,
) -> None:
    """Guards against readers being locked out for the length of an ingest (a query exiting
    on DuckDB's lock), and against readers making the ingest fail."""
    db = tmp_path / "w.duckdb"
    Warehouse(db).close()
    stop = tmp_path / "stop"
    with FaultyEdgar(synthetic_day(DAY, templates(), 300)) as srv:
        reader = subprocess.Popen(
            [sys.executable, "-m", "tests.reader_loop", str(db), str(stop), "--wait", "30"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert reader.stdout is not None and reader.stdout.readline().strip() == "ready"
            summary = run_ingest(
                settings_for(srv, db, FORM4_MAX_RPS="10", FORM4_BATCH_SIZE="50"),
                DAY,
                today=TODAY,
            )
        finally:
            stop.touch()
            out, _ = reader.communicate(timeout=60)
    result = json.loads(out.strip().splitlines()[-1])
    assert summary.totals.loaded == 300
    assert result["failures"] == []
    assert result["queries"] >= 100  # it queried all through the ingest (30 s at 10/s)
    assert result["max_wait_s"] < 30
    sys.stderr.write(f"longest wait of a reader: {result['max_wait_s']:.3f} s\n")


def test_a_read_only_connection_held_for_5_s_delays_the_ingest_but_does_not_fail_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Guards against a notebook left open making the nightly run exit on DuckDB's lock, and
    against the wait being silent."""
    db = tmp_path / "w.duckdb"
    Warehouse(db).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,time; c=duckdb.connect({str(db)!r}, read_only=True); "
            "print('ready', flush=True); time.sleep(5); c.close()",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with FaultyEdgar(synthetic_day(DAY, templates(), 20)) as srv:
            with caplog.at_level(logging.WARNING, logger="form4.lock"):
                summary = run_ingest(settings_for(srv, db), DAY, today=TODAY)
            assert holder.poll() is not None  # the ingest could not commit before it let go
    finally:
        holder.wait(timeout=30)
        assert holder.stdout is not None
        holder.stdout.close()
    assert summary.totals.loaded == 20
    notices = [r.getMessage() for r in caplog.records if "waiting up to 600 s" in r.getMessage()]
    assert notices and f"PID {holder.pid}" in notices[0]


def test_a_second_form4_writer_waits_for_the_first_then_fails_naming_it(tmp_path: Path) -> None:
    """Guards against two form4 writers interleaving their batches and day records now that
    neither holds the DuckDB file between commits."""
    db = tmp_path / "w.duckdb"
    Warehouse(db).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from form4.warehouse.lock import WriterLock; "
            f"lock = WriterLock(Path({str(db)!r}), wait_s=0); lock.acquire(); "
            "print('ready', flush=True); sys.stdin.read()",
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(LoadError, match=rf"another form4 process \(PID {holder.pid}\b"):
            Warehouse(db, hold=False, lock_wait_s=0.2)
        con = duckdb.connect(str(db), read_only=True)  # readers are not kept out
        con.close()
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
        assert holder.stdout is not None
        holder.stdout.close()
    with WriterLock(db, wait_s=0):  # released with the process
        pass


def _cli_env(tmp_path: Path) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        PYTHONPATH=str(ROOT),
        PREFECT_HOME=str(tmp_path / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        SEC_USER_AGENT="form4 tests tests@form4.example",
        FORM4_MAX_RPS="10",
        FORM4_BATCH_SIZE="20",
        FORM4_RATE_DIR=str(tmp_path / "rate"),
    )
    return env


def _interrupt_group_when(
    proc: subprocess.Popen[str], ready: Callable[[], bool], what: str
) -> float:
    """SIGINT to the command's whole process group once ``ready``; seconds until it exited."""
    try:
        wait_until(lambda: ready() or proc.poll() is not None, 180, what)
        assert proc.poll() is None, "the command ended before it could be interrupted"
        os.killpg(proc.pid, signal.SIGINT)
        sent = time.monotonic()
        proc.wait(timeout=30)
        return time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


def _whole_batches(db: Path, size: int) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        loaded = con.execute("SELECT count(*) FROM filings").fetchone()
        orphans = con.execute(
            "SELECT count(*) FROM filings WHERE accession_number NOT IN "
            "(SELECT accession_number FROM raw_documents)"
        ).fetchone()
    finally:
        con.close()
    assert orphans == (0,)
    assert loaded is not None and loaded[0] % size == 0, loaded  # whole batches only
    return int(loaded[0])


def test_a_group_wide_ctrl_c_stops_form4_ingest_within_5_s_keeping_whole_batches(
    tmp_path: Path,
) -> None:
    """Guards against the ingest hanging for a minute after Ctrl-C on a terminal (which
    signals Prefect's temporary server too), and against a half-written batch."""
    db = tmp_path / "w.duckdb"
    with FaultyEdgar(synthetic_day(DAY, templates(), 300)) as srv:
        proc = subprocess.Popen(
            [*FORM4, "ingest", "--date", DAY.isoformat(), "--db", str(db)]
            + ["--edgar-url", srv.base_url],
            env=_cli_env(tmp_path),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        fetched = lambda: sum(r.path.endswith(".txt") for r in srv.requests)  # noqa: E731
        took = _interrupt_group_when(proc, lambda: fetched() >= 50, "50 filings fetched")
    assert took <= 5.0, f"exited {took:.1f} s after Ctrl-C"
    assert proc.returncode != 0
    assert _whole_batches(db, 20) >= 20


def test_a_group_wide_ctrl_c_stops_form4_watch_within_5_s_keeping_whole_batches(
    tmp_path: Path,
) -> None:
    """Guards against the watcher ignoring Ctrl-C mid-poll or leaving half a batch behind."""
    db = tmp_path / "w.duckdb"
    tree = synthetic_day(DAY, templates(), 120)
    with FaultyEdgar(tree) as srv:
        filings = {k.rsplit("/", 1)[-1]: v for k, v in sorted(tree.items()) if k.endswith(".txt")}
        for submission in filings.values():
            srv.publish(submission)
        proc = subprocess.Popen(
            [*FORM4, "watch", "--always", "--every", "10", "--db", str(db)]
            + ["--edgar-url", srv.base_url],
            env=_cli_env(tmp_path),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        fetched = lambda: sum(r.path.endswith(".txt") for r in srv.requests)  # noqa: E731
        took = _interrupt_group_when(proc, lambda: fetched() >= 50, "50 filings fetched")
    assert took <= 5.0, f"exited {took:.1f} s after Ctrl-C"
    assert proc.returncode == 130
    assert _whole_batches(db, 20) >= 20


def test_the_intraday_flow_runs_one_poll_and_load_cycle_under_prefect(tmp_path: Path) -> None:
    """Guards against the intraday deployment's flow failing under Prefect (settings, task
    wiring) while the plain functions pass, or keeping its feed state in the process."""
    db = tmp_path / "w.duckdb"
    tree = synthetic_day(DAY, templates(), 6)
    code = (
        "import json, os, sys\n"
        "from form4.flows.ingest_flow import run_flow\n"
        "from form4.flows.watch_flow import intraday\n"
        "state = run_flow(intraday, os.environ, db=sys.argv[1], edgar_url=sys.argv[2])\n"
        "r = state.result()\n"
        "print(json.dumps([state.is_completed(), r.new, r.batch.loaded]))\n"
    )
    with FaultyEdgar(tree) as srv:
        filings = {k.rsplit("/", 1)[-1]: v for k, v in sorted(tree.items()) if k.endswith(".txt")}
        for submission in filings.values():
            srv.publish(submission)
        runs = [
            subprocess.run(
                [sys.executable, "-c", code, str(db), srv.base_url],
                env=_cli_env(tmp_path),
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            for _ in range(2)
        ]
    outcomes = [json.loads(r.stdout.strip().splitlines()[-1]) for r in runs]
    assert outcomes == [[True, 6, 6], [True, 0, 0]], [r.stderr[-2000:] for r in runs]
