"""End to end over real HTTP: a day of filings from a loopback EDGAR into DuckDB, twice.

The server (``tests/edgar_server.py``) runs on 127.0.0.1 and serves a day built from the real
corpus submissions and the project's sample day; these tests drive ``flows.ingest_flow.run_ingest``
(the flow's body, without Prefect) so faults and timing can be checked precisely.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from form4.flows.cli.demo import SAMPLE_DATA
from form4.flows.cli.mirror import max_requests_in_any_window
from form4.flows.config import Settings
from form4.flows.edgar.endpoints import daily_index_path
from form4.flows.ingest_flow import run_ingest
from tests.conftest import corpus_dir
from tests.edgar_server import Fault, FaultyEdgar
from tests.edgar_tree import build_day, read_header

DAY = date(2026, 2, 2)
TODAY = date(2026, 2, 10)
MALFORMED = "0002900002-26-000009"  # the sample filing whose XML is broken on purpose
TABLES = ("filings", "reporting_owners", "transactions", "holdings", "footnotes", "rejects")


def day_submissions() -> list[bytes]:
    """The corpus submission files plus every sample filing of 2026-02-02."""
    corpus = corpus_dir()
    subs = [p.read_bytes() for p in sorted((corpus / "txt").glob("*.txt"))]
    for path in sorted(SAMPLE_DATA.rglob("*.txt")):
        data = path.read_bytes()
        if read_header(data).filed == DAY:
            subs.append(data)
    return subs


def ownership_accessions(subs: list[bytes], forms: tuple[str, ...]) -> set[str]:
    return {read_header(s).accession for s in subs if read_header(s).form_type in forms}


@pytest.fixture
def tree() -> dict[str, bytes]:
    return build_day(DAY, day_submissions())


@pytest.fixture
def server(tree: dict[str, bytes]) -> Iterator[FaultyEdgar]:
    with FaultyEdgar(tree, block_seconds=600) as srv:
        yield srv


def settings_for(srv: FaultyEdgar, tmp_path: Path, **env: str) -> Settings:
    base = {
        "SEC_USER_AGENT": "form4 tests tests@form4.example",
        "FORM4_RETRY_BASE_S": "0.01",
        "FORM4_RETRY_CAP_S": "0.05",
        "FORM4_TIMEOUT_S": "5",
    }
    base.update(env)
    return Settings.from_env(base, db_path=tmp_path / "w.duckdb", edgar_url=srv.base_url)


def snapshot(db: Path) -> dict[str, list[tuple[object, ...]]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for table in TABLES:
            cols = [
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                    "AND column_name NOT IN ('loaded_at', 'seen_at') ORDER BY ordinal_position",
                    [table],
                ).fetchall()
            ]
            select = ", ".join(f'"{c}"' for c in cols)
            out[table] = con.execute(f"SELECT {select} FROM {table} ORDER BY ALL").fetchall()
        return out
    finally:
        con.close()


def test_ingesting_a_day_twice_gives_the_same_rows_and_fetches_each_filing_once(
    server: FaultyEdgar, tmp_path: Path
) -> None:
    """Guards against duplicated rows on re-runs, refetching held filings, and rate overruns."""
    settings = settings_for(server, tmp_path)
    expected = ownership_accessions(day_submissions(), settings.forms)
    assert len(expected) >= 10

    first = run_ingest(settings, DAY, today=TODAY)
    assert first.error is None
    assert [d.status for d in first.days] == ["done"]
    log = server.requests
    index_requests = [r for r in log if r.path == daily_index_path(DAY)]
    filing_requests = [r for r in log if r.path.endswith(".txt")]
    assert len(index_requests) == 1
    assert len(filing_requests) == len(expected)  # one request per filing, deduplicated
    assert {r.path.rsplit("/", 1)[-1].removesuffix(".txt") for r in filing_requests} == expected
    assert max_requests_in_any_window([r.time for r in log]) <= settings.max_rps
    assert all(r.user_agent == settings.user_agent for r in log)

    rows = snapshot(settings.db_path)
    loaded = {r[0] for r in rows["filings"]}
    assert loaded == expected - {MALFORMED}
    assert [r[0] for r in rows["rejects"]] == [MALFORMED]
    assert len(rows["transactions"]) > 20

    second = run_ingest(settings, DAY, today=TODAY)
    assert second.days[0].already_loaded == len(expected) - 1
    assert second.days[0].batch.fetched == 1  # the reject is fetched again, nothing else
    again = [r.path for r in server.requests[len(log) :]]
    assert again == [daily_index_path(DAY)] + [p for p in again if p.endswith(f"/{MALFORMED}.txt")]
    assert len(again) == 2
    assert snapshot(settings.db_path) == rows


def test_transport_faults_are_retried_and_leave_no_trace_in_the_data(
    server: FaultyEdgar, tmp_path: Path
) -> None:
    """Guards against a 5xx, reset, short body or redirect turning into a reject or a gap."""
    settings = settings_for(server, tmp_path, FORM4_MAX_RETRIES="4")
    clean = settings_for(server, tmp_path / "clean")
    subs = day_submissions()
    accessions = sorted(ownership_accessions(subs, settings.forms) - {MALFORMED})
    faults = [
        Fault.STATUS_503,
        Fault.STATUS_500,
        Fault.RESET,
        Fault.SHORT_BODY,
        Fault.STATUS_502,
        Fault.REDIRECT_RELATIVE,
    ]
    for accession, fault in zip(accessions, faults, strict=False):
        server.inject(f"Archives/edgar/data/*/{accession}.txt", fault, times=1)
    server.inject(daily_index_path(DAY), Fault.STATUS_504, times=1)

    result = run_ingest(settings, DAY, today=TODAY)
    assert result.error is None
    assert result.totals.failed == 0
    assert result.totals.rejected == 1  # the sample filing that is malformed on purpose
    faulted = [r for r in server.fault_log if r.fault is not None]
    assert len(faulted) == len(faults) + 1

    server.clear_faults()
    run_ingest(clean, DAY, today=TODAY)
    assert snapshot(settings.db_path) == snapshot(clean.db_path)


def test_a_rate_block_pauses_every_request_for_the_configured_time(
    tree: dict[str, bytes], tmp_path: Path
) -> None:
    """Guards against requests sent during EDGAR's block (which would renew it)."""
    pause = 1.5
    with FaultyEdgar(tree, block_seconds=0.5, block_status=429) as srv:
        settings = settings_for(srv, tmp_path, FORM4_BLOCK_PAUSE_S=str(pause))
        srv.inject("Archives/edgar/data/*.txt", Fault.BLOCK, times=1)
        result = run_ingest(settings, DAY, today=TODAY)
        log = srv.requests
    assert result.error is None and result.totals.failed == 0
    blocked = [r for r in log if r.status == 429]
    assert blocked, "the block was never served"
    first_block = blocked[0].time
    later = [r.time for r in log if r.time > first_block]
    assert later, "nothing was requested after the block"
    # in-flight requests may land just after the block; none may start inside the pause after
    in_flight = settings.concurrency
    assert all(t - first_block >= pause * 0.95 for t in later[in_flight:])
    assert max_requests_in_any_window([r.time for r in log]) <= settings.max_rps


def test_a_missing_index_is_no_filings_for_a_past_day_and_pending_for_today(
    server: FaultyEdgar, tmp_path: Path
) -> None:
    """Guards against a holiday failing the run, or today's unpublished index marked done."""
    settings = settings_for(server, tmp_path)
    past = run_ingest(settings, date(2026, 2, 4), today=TODAY)  # no index served for that day
    assert [(d.day, d.status) for d in past.days] == [(date(2026, 2, 4), "no_index")]
    server.inject(daily_index_path(TODAY), Fault.NO_SUCH_KEY, times=1)
    now = run_ingest(settings, TODAY, today=TODAY)
    assert [(d.day, d.status) for d in now.days] == [(TODAY, "pending")]
    con = duckdb.connect(str(settings.db_path), read_only=True)
    try:
        rows = con.execute("SELECT day, status FROM ingest_days ORDER BY day").fetchall()
    finally:
        con.close()
    assert rows == [(date(2026, 2, 4), "no_index"), (TODAY, "pending")]


def test_catch_up_runs_pending_days_and_the_business_days_since_the_last_done_up_to_today(
    server: FaultyEdgar, tmp_path: Path
) -> None:
    """Guards against the nightly run skipping missed days, re-running finished ones, or
    leaving today (whose index is out by 23:30 ET) to the next night; an index not out yet
    leaves today pending, to be run again."""
    settings = settings_for(server, tmp_path)
    run_ingest(settings, DAY, today=TODAY)
    run_ingest(settings, date(2026, 2, 5), today=TODAY)  # no index that day: done, no filings
    today = date(2026, 2, 10)
    summary = run_ingest(settings, None, today=today)
    assert [(d.day, d.status) for d in summary.days] == [
        (date(2026, 2, 6), "no_index"),
        (date(2026, 2, 9), "no_index"),
        (today, "pending"),
    ]
    again = run_ingest(settings, None, today=today)
    assert [(d.day, d.status) for d in again.days] == [(today, "pending")]


def test_an_unreachable_edgar_fails_the_run_with_a_fetch_error(tmp_path: Path) -> None:
    """Guards against an unreachable base URL being recorded as a day with no filings."""
    with FaultyEdgar({}) as srv:
        url = srv.base_url
    settings = Settings.from_env(
        {"SEC_USER_AGENT": "t t@t.example", "FORM4_MAX_RETRIES": "1", "FORM4_RETRY_BASE_S": "0"},
        db_path=tmp_path / "w.duckdb",
        edgar_url=url,
    )
    from form4.parsers.errors import FetchError

    with pytest.raises(FetchError, match="ConnectError"):
        run_ingest(settings, DAY, today=TODAY)
    con = duckdb.connect(str(settings.db_path), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM ingest_days").fetchone() == (0,)
    finally:
        con.close()


def test_an_unknown_schema_version_is_loaded_and_counted_not_rejected(tmp_path: Path) -> None:
    """Guards against a new SEC schema version silently rejecting a whole day of filings."""
    subs = day_submissions()
    new = b"<schemaVersion>X0999</schemaVersion>"
    assert b"<schemaVersion>X0306</schemaVersion>" in subs[0]
    subs[0] = subs[0].replace(b"<schemaVersion>X0306</schemaVersion>", new)
    accession = read_header(subs[0]).accession
    with FaultyEdgar(build_day(DAY, subs)) as server:
        result = run_ingest(settings_for(server, tmp_path), DAY, today=TODAY)
    assert result.totals.unknown_schema == 1
    assert result.totals.rejected == 1  # only the malformed sample
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        row = con.execute(
            "SELECT schema_version FROM filings WHERE accession_number = ?", [accession]
        ).fetchone()
    finally:
        con.close()
    assert row == ("X0999",)


def test_catching_up_an_empty_stretch_logs_one_line_not_one_per_day(
    server: FaultyEdgar, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Guards against a catch-up over weeks without an index printing a line per day (the
    212 "no index" lines of an empty half-year), while the day with filings still reports."""
    import logging

    settings = settings_for(server, tmp_path)
    with caplog.at_level(logging.INFO, logger="form4"):
        summary = run_ingest(settings, date(2026, 1, 5), date(2026, 2, 6), today=TODAY)
    assert len(summary.days) == 25 and summary.totals.loaded > 0
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert "2026-01-05..2026-01-30: 0 filings on 20 days" in lines
    assert "2026-02-03..2026-02-06: 0 filings on 4 days" in lines
    assert not [line for line in lines if "no index" in line]
    assert f"{DAY}: {summary.days[20].index_entries} filings listed" in lines
