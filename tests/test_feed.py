"""The latest-filings feed: the Atom parser, and the watcher against a feed that grows.

The loopback server (``tests/edgar_server.py``) serves the feed from a list the tests publish
to between polls: one entry per CIK involved, other form types under the same ``type``.
"""

from __future__ import annotations

import sys
import threading
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from form4.flows.cli.mirror import max_requests_in_any_window
from form4.flows.config import Settings
from form4.flows.edgar.client import build_client
from form4.flows.ingest_flow import run_ingest
from form4.flows.pipeline.watch import in_watch_hours, watch_cycle
from form4.parsers.errors import ParseError
from form4.parsers.feed import feed_filings, parse_feed
from tests.conftest import corpus_files
from tests.edgar_server import EASTERN, FaultyEdgar, FeedItem
from tests.edgar_tree import build_day, read_header
from tests.test_ingest_e2e import DAY, MALFORMED, TODAY, day_submissions

FORMS = ("4", "4/A")

SAMPLE = (
    b'<?xml version="1.0" encoding="ISO-8859-1" ?>\n'
    b'<feed xmlns="http://www.w3.org/2005/Atom">\n'
    b"<title>Latest Filings - Mon, 02 Feb 2026 16:07:00 EST</title>\n"
    b"<updated>2026-02-02T16:07:00-05:00</updated>\n"
    b"<entry>\n<title>4 - M\xfcller J\xfcrgen (0002900011) (Reporting)</title>\n"
    b'<link rel="alternate" type="text/html" href="https://www.sec.gov/Archives/edgar/data/'
    b'2900011/000290000126000011/0002900001-26-000011-index.htm"/>\n'
    b'<summary type="html"> &lt;b&gt;Filed:&lt;/b&gt; 2026-02-02 &lt;b&gt;AccNo:&lt;/b&gt; '
    b"0002900001-26-000011 &lt;b&gt;Size:&lt;/b&gt; 5 KB</summary>\n"
    b"<updated>2026-02-02T16:05:12-05:00</updated>\n"
    b'<category scheme="https://www.sec.gov/" label="form type" term="4"/>\n'
    b"<id>urn:tag:sec.gov,2008:accession-number=0002900001-26-000011</id>\n</entry>\n"
    b"<entry>\n<title>4 - Northwind Therapeutics Inc (0002900001) (Issuer)</title>\n"
    b'<link rel="alternate" type="text/html" href="https://www.sec.gov/Archives/edgar/data/'
    b'2900001/000290000126000011/0002900001-26-000011-index.htm"/>\n'
    b'<summary type="html"> &lt;b&gt;Filed:&lt;/b&gt; 2026-02-02 &lt;b&gt;AccNo:&lt;/b&gt; '
    b"0002900001-26-000011 &lt;b&gt;Size:&lt;/b&gt; 5 KB</summary>\n"
    b"<updated>2026-02-02T16:05:12-05:00</updated>\n"
    b'<category scheme="https://www.sec.gov/" label="form type" term="4"/>\n'
    b"<id>urn:tag:sec.gov,2008:accession-number=0002900001-26-000011</id>\n</entry>\n"
    b"<entry>\n<title>424B2 - Big Bank Corp (0000070858) (Filer)</title>\n"
    b'<summary type="html"> &lt;b&gt;Filed:&lt;/b&gt; 2026-02-03 &lt;b&gt;AccNo:&lt;/b&gt; '
    b"0000070858-26-000123 &lt;b&gt;Size:&lt;/b&gt; 90 KB</summary>\n"
    b"<updated>2026-02-02T16:04:00-05:00</updated>\n"
    b'<category scheme="https://www.sec.gov/" label="form type" term="424B2"/>\n'
    b"<id>urn:tag:sec.gov,2008:accession-number=0000070858-26-000123</id>\n</entry>\n"
    b"</feed>\n"
)


def test_the_feed_parser_reads_every_entry_in_iso_8859_1_and_keeps_each_filing_once() -> None:
    """Guards against a filing listed under two CIKs being fetched twice, other form types
    being loaded as Forms 4, and Latin-1 names turning into mojibake."""
    entries = parse_feed(SAMPLE)
    assert [e.accession_number for e in entries] == [
        "0002900001-26-000011",
        "0002900001-26-000011",
        "0000070858-26-000123",
    ]
    first = entries[0]
    assert first.name == "Müller Jürgen"
    assert first.cik == "0002900011" and entries[1].cik == "0002900001"
    assert first.filed == date(2026, 2, 2)
    assert first.updated == datetime.fromisoformat("2026-02-02T16:05:12-05:00")
    assert entries[2].form_type == "424B2" and entries[2].filed == date(2026, 2, 3)
    (only,) = feed_filings(entries, FORMS)
    assert only is first
    assert only.index_entry().filename == "edgar/data/2900011/0002900001-26-000011.txt"


@pytest.mark.parametrize(
    "path", corpus_files("feed", "*.nc"), ids=lambda p: p.name if isinstance(p, Path) else p
)
def test_an_edgar_dissemination_file_is_not_taken_for_an_atom_feed(path: Path) -> None:
    """Guards against a non-Atom answer (here the real EDGAR Feed .nc files of the corpus,
    a proxy's page, an error page) being read as an empty feed: polling would go quiet."""
    with pytest.raises(ParseError, match="not an Atom feed"):
        parse_feed(path.read_bytes())


def test_an_entry_without_an_accession_number_fails_the_page() -> None:
    """Guards against a changed feed format silently dropping filings."""
    broken = SAMPLE.replace(b"accession-number=0000070858-26-000123", b"x").replace(
        b"AccNo:&lt;/b&gt; 0000070858-26-000123", b""
    )
    with pytest.raises(ParseError, match="no accession number"):
        parse_feed(broken)


def test_watch_hours_are_business_days_from_6_to_22_30_in_new_york() -> None:
    """Guards against polling at night or on weekends, or a UTC clock shifting the window."""
    monday = datetime(2026, 2, 2, tzinfo=EASTERN)
    assert in_watch_hours(monday.replace(hour=6))
    assert in_watch_hours(monday.replace(hour=22, minute=30))
    assert not in_watch_hours(monday.replace(hour=22, minute=31))
    assert not in_watch_hours(monday.replace(hour=5, minute=59))
    assert not in_watch_hours(monday.replace(hour=12) + timedelta(days=5))  # Saturday
    assert in_watch_hours(datetime(2026, 2, 2, 11, 0, tzinfo=EASTERN).astimezone(EASTERN))


def _settings(srv: FaultyEdgar, db: Path) -> Settings:
    env = {
        "SEC_USER_AGENT": "form4 tests tests@form4.example",
        "FORM4_RETRY_BASE_S": "0.01",
        "FORM4_TIMEOUT_S": "5",
        "FORM4_RATE_DIR": "none",
    }
    return Settings.from_env(env, db_path=db, edgar_url=srv.base_url)


def _fetches(srv: FaultyEdgar) -> list[str]:
    return [r.path for r in srv.requests if r.path.endswith(".txt")]


def _feed_requests(srv: FaultyEdgar) -> list[str]:
    return [r.path for r in srv.requests if r.path.startswith("/cgi-bin/browse-edgar")]


def _wanted(subs: list[bytes]) -> list[bytes]:
    return [s for s in subs if read_header(s).form_type in FORMS]


def test_the_watcher_loads_each_new_filing_once_as_the_feed_grows(tmp_path: Path) -> None:
    """Guards against a watcher that refetches what it loaded, loads a filing once per CIK
    listing it, loads other form types, misses entries that appear between polls, or costs
    more than one request per form family when nothing is new."""
    subs = day_submissions()
    wanted = _wanted(subs)
    assert len(wanted) >= 4
    with FaultyEdgar(build_day(DAY, subs)) as srv:
        settings = _settings(srv, tmp_path / "w.duckdb")
        half = len(wanted) // 2
        with build_client(settings) as client:
            for sub in wanted[:half]:
                srv.publish(sub)
            srv.publish_items(
                [FeedItem("0000070858-26-000123", "424B2", "0000070858", "Big Bank", "Filer",
                          DAY, datetime.now(EASTERN), 0.0)]
            )  # fmt: skip
            first = watch_cycle(settings=settings, client=client)
            for sub in wanted[half:]:
                srv.publish(sub)
            second = watch_cycle(settings=settings, client=client)
            before_idle = len(srv.requests)
            idle = watch_cycle(settings=settings, client=client)
            idle_requests = srv.requests[before_idle:]
    assert first.batch.loaded + first.batch.rejected == half
    assert second.batch.loaded + second.batch.rejected == len(wanted) - half
    assert idle.requests == 1 and idle.pending == 0
    assert [r.path for r in idle_requests] == [r for r in _feed_requests(srv)[-1:]]
    fetched = _fetches(srv)
    assert len(fetched) == len(set(fetched)) == len(wanted)  # each filing fetched once
    # the feed's requests and the filings' share one limit
    assert max_requests_in_any_window([r.time for r in srv.requests]) <= settings.max_rps
    con = duckdb.connect(str(settings.db_path), read_only=True)
    try:
        held = {
            r[0]
            for r in con.execute(
                "SELECT accession_number FROM filings UNION ALL "
                "SELECT accession_number FROM rejects"
            ).fetchall()
        }
        assert held == {read_header(s).accession for s in wanted}
        latency = con.execute(
            "SELECT count(*), count(loaded_at), max(epoch(loaded_at - seen_at)) "
            "FROM feed_entries WHERE form_type IN ('4', '4/A')"
        ).fetchone()
    finally:
        con.close()
    assert latency is not None and latency[0] == latency[1] == len(wanted)
    assert latency[2] >= 0  # measured, not asserted by time: bench/live.py reports it
    sys.stderr.write(f"feed entry seen -> rows committed: at most {latency[2]:.3f} s\n")


def _table_rows(db: Path) -> dict[str, list[tuple[object, ...]]]:
    con = duckdb.connect(str(db), read_only=True)
    out: dict[str, list[tuple[object, ...]]] = {}
    try:
        for table in ("filings", "reporting_owners", "transactions", "holdings", "rejects"):
            columns = [
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                    "AND column_name NOT IN ('loaded_at', 'seen_at', 'raw') "
                    "ORDER BY ordinal_position",
                    [table],
                ).fetchall()
            ]
            out[table] = sorted(
                con.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall(), key=repr
            )
        out["raw_documents"] = sorted(
            con.execute("SELECT accession_number, filing_date, cik, size FROM raw_documents")
        .fetchall()
        )  # fmt: skip
        out["ingest_days"] = con.execute(
            "SELECT day, forms, status, index_entries, loaded, rejected, failed FROM ingest_days"
        ).fetchall()
    finally:
        con.close()
    return out


def test_watch_then_nightly_gives_the_same_rows_as_a_nightly_alone(tmp_path: Path) -> None:
    """Guards against the nightly run duplicating or refetching watched filings, missing the
    ones the feed never showed, or keeping the feed's date where the index says another."""
    subs = day_submissions()
    wanted = _wanted(subs)
    with FaultyEdgar(build_day(DAY, subs)) as srv:
        alone = _settings(srv, tmp_path / "alone.duckdb")
        run_ingest(alone, DAY, today=TODAY)
        watched = _settings(srv, tmp_path / "watched.duckdb")
        # the feed shows all but the last filing, the first with the previous day's date
        early = read_header(wanted[0]).accession
        for sub in wanted[1:-1]:
            srv.publish(sub)
        srv.publish(wanted[0], filed=DAY - timedelta(days=1))  # the index decides
        with build_client(watched) as client:
            watch_cycle(settings=watched, client=client)
        fetched_by_watch = len(_fetches(srv))
        before = len(srv.requests)
        nightly = run_ingest(watched, DAY, today=TODAY)
        nightly_fetches = [r.path for r in srv.requests[before:] if r.path.endswith(".txt")]
    # fetched again: the filing the feed never showed, and rejects (a damaged copy may have
    # been served), as for any re-run of a day
    shown = {read_header(s).accession for s in wanted[:-1]}
    again = {read_header(wanted[-1]).accession} | (shown & {MALFORMED})
    assert {p.rsplit("/", 1)[-1].removesuffix(".txt") for p in nightly_fetches} == again
    assert len(nightly_fetches) == len(again)
    assert fetched_by_watch > 0
    assert [(d.day, d.status) for d in nightly.days] == [(DAY, "done")]
    assert _table_rows(watched.db_path) == _table_rows(alone.db_path)
    con = duckdb.connect(str(watched.db_path), read_only=True)
    try:
        row = con.execute(
            "SELECT e.feed_filed, e.index_day, d.filing_date FROM feed_entries e "
            "JOIN raw_documents d USING (accession_number) WHERE accession_number = ?",
            [early],
        ).fetchone()
    finally:
        con.close()
    assert row == (DAY - timedelta(1), DAY, DAY)


def test_a_failed_poll_is_logged_and_the_watcher_polls_again(tmp_path: Path) -> None:
    """Guards against one EDGAR outage (after retries) ending a watcher meant to run all day."""
    from form4.flows.pipeline.watch import watch
    from tests.edgar_server import Fault

    subs = _wanted(day_submissions())
    with FaultyEdgar(build_day(DAY, subs)) as srv:
        settings = _settings(srv, tmp_path / "w.duckdb")
        srv.publish(subs[0])
        srv.inject("/cgi-bin/browse-edgar", Fault.MISSING_404, times=1)
        stop = threading.Event()
        cycles: list[int] = []

        def counted(result: object) -> None:
            cycles.append(1)
            stop.set()  # one good cycle after the failed one is enough

        with build_client(settings) as client:
            # every=10 s is the minimum; the clock below makes the wait zero
            ticks = iter(float(t) for t in range(0, 10_000, 20))
            ran = watch(
                settings,
                client,
                every=10,
                always=True,
                stop=stop,
                on_cycle=counted,
                monotonic=lambda: next(ticks),
            )
    assert ran == 1 and cycles == [1]
    assert len(_feed_requests(srv)) == 2  # the failed poll, then the one that loaded
