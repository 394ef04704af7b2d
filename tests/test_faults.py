"""EDGAR misbehaving in every known way: the run recovers, loses nothing and stays polite.

A loopback server injects each fault kind of ``tests/edgar_server.py`` into a real day; the
day is ingested, re-run once, and must then hold every filing exactly once with no reject a
transport fault caused. The server's log proves the rate limit and the block pause held.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx
import pytest

from form4.flows.cli.mirror import max_requests_in_any_window
from form4.flows.config import Settings
from form4.flows.edgar.client import build_client
from form4.flows.edgar.endpoints import daily_index_path
from form4.flows.ingest_flow import run_ingest
from form4.parsers.errors import BlockedError
from tests.edgar_server import Fault, FaultRecord, FaultyEdgar
from tests.edgar_tree import build_day
from tests.test_ingest_e2e import (
    DAY,
    MALFORMED,
    TODAY,
    day_submissions,
    ownership_accessions,
    settings_for,
    snapshot,
)

TRANSPORT_FAULTS = [
    Fault.RATE_429,
    Fault.RATE_403,
    Fault.BLOCK,
    Fault.STATUS_500,
    Fault.STATUS_502,
    Fault.STATUS_503,
    Fault.STATUS_504,
    Fault.RESET,
    Fault.SHORT_BODY,
    Fault.STALL,
    Fault.BLOCK_PAGE_200,
    Fault.UNCLOSED_DOCUMENT,
    Fault.MALFORMED_XML,
    Fault.REDIRECT_RELATIVE,
    Fault.REDIRECT_ABSOLUTE,
]
PAUSE_S = 0.8


def blocked(record: FaultRecord) -> bool:
    return record.fault in (Fault.RATE_429, Fault.RATE_403, Fault.BLOCK, Fault.BLOCK_PAGE_200)


def test_every_fault_kind_is_survived_and_a_rerun_leaves_each_filing_exactly_once(
    tmp_path: Path,
) -> None:
    """Guards against lost filings, duplicates or fault-made rejects after a bad night."""
    subs = day_submissions()
    good = sorted(ownership_accessions(subs, ("4", "4/A")) - {MALFORMED})
    tree = build_day(DAY, subs)
    with FaultyEdgar(tree, block_seconds=0.3, stall_seconds=10) as server:
        settings = settings_for(
            server,
            tmp_path,
            FORM4_BLOCK_PAUSE_S=str(PAUSE_S),
            FORM4_TIMEOUT_S="0.5",
            FORM4_MAX_RETRIES="4",
            FORM4_BATCH_SIZE="4",
        )
        for i, fault in enumerate(TRANSPORT_FAULTS):
            server.inject(f"Archives/edgar/data/*/{good[i % len(good)]}.txt", fault, times=1)
        server.inject(daily_index_path(DAY), Fault.STATUS_503, times=1)
        server.inject(daily_index_path(DAY), Fault.BLOCK_PAGE_200, times=1)
        server.inject(daily_index_path(date(2026, 2, 3)), Fault.MISSING_403, times=1)

        first = run_ingest(settings, DAY, date(2026, 2, 3), today=TODAY)
        assert first.error is None
        assert [(d.day, d.status) for d in first.days] == [
            (DAY, "done"),
            (date(2026, 2, 3), "no_index"),
        ]
        first_run = len(server.requests)
        second = run_ingest(settings, DAY, today=TODAY)  # the one re-run
        assert second.error is None
        log = server.requests
    faults_seen = {r.fault for r in log if isinstance(r, FaultRecord) and r.fault is not None}
    assert set(TRANSPORT_FAULTS) <= faults_seen

    rows = snapshot(settings.db_path)
    loaded = [r[0] for r in rows["filings"]]
    assert sorted(loaded) == good  # every filing exactly once
    assert [r[0] for r in rows["rejects"]] == [MALFORMED]  # only the truly malformed one
    for table in ("transactions", "holdings", "footnotes"):
        assert len(rows[table]) == len({repr(r) for r in rows[table]}), table

    # polite: never over the limit (each run has its own limiter), nothing sent while paused
    for run in (log[:first_run], log[first_run:]):
        assert max_requests_in_any_window([r.time for r in run]) <= settings.max_rps
    blocks = [r.time for r in log if isinstance(r, FaultRecord) and blocked(r)]
    assert blocks
    for t in blocks:
        during = [r for r in log if t + 0.05 < r.time < t + PAUSE_S - 0.05 and not blocked(r)]
        assert during == [], f"requests during the pause after t={t:.3f}"


@pytest.mark.parametrize("concurrency", [1, 8, 32])
def test_the_rate_limit_holds_at_any_concurrency(concurrency: int, tmp_path: Path) -> None:
    """Guards against a per-worker limiter that multiplies the rate by the worker count."""
    with FaultyEdgar(build_day(DAY, day_submissions())) as server:
        settings = settings_for(
            server, tmp_path, FORM4_MAX_RPS="5", FORM4_CONCURRENCY=str(concurrency)
        )
        result = run_ingest(settings, DAY, today=TODAY)
        log = server.requests
    assert result.error is None and result.totals.failed == 0
    assert len(log) >= 10
    assert max_requests_in_any_window([r.time for r in log]) <= 5


def test_an_undeclared_user_agent_stops_the_run_instead_of_retrying(tmp_path: Path) -> None:
    """Guards against hammering EDGAR with a User-Agent it has already refused."""
    with FaultyEdgar(build_day(DAY, day_submissions())) as server:
        server.inject("*", Fault.UNDECLARED_TOOL, times=None)
        settings = settings_for(server, tmp_path)
        with pytest.raises(BlockedError, match="User-Agent"):
            run_ingest(settings, DAY, today=TODAY)
        assert len(server.requests) == 1


def test_the_server_refuses_a_user_agent_without_email_and_form4_never_sends_one(
    tmp_path: Path,
) -> None:
    """Guards against a client built without the declared User-Agent header."""
    with FaultyEdgar(build_day(DAY, day_submissions()), require_declared_user_agent=True) as srv:
        anonymous = httpx.get(srv.base_url + daily_index_path(DAY))
        assert anonymous.status_code == 403
        settings = Settings.from_env(
            {"SEC_USER_AGENT": "Acme Research ops@acme.example"},
            db_path=tmp_path / "w.duckdb",
            edgar_url=srv.base_url,
        )
        with build_client(settings) as client:
            assert client.get(daily_index_path(DAY)).status_code == 200
