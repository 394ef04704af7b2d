"""One bad filing never stops the night: poison pills, hostile index lines, a process killed by a
filing. Each runs through the loopback EDGAR and ``run_ingest``; the good filings of the day load,
the bad one is rejected or recorded, later days are reached, and a re-run changes nothing."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from form4.flows.cli.output import print_ingest_summary
from form4.flows.config import Settings
from form4.flows.ingest_flow import run_ingest
from form4.flows.pipeline import ingest as ingest_module
from form4.flows.pipeline.reprocess import reprocess
from form4.warehouse.db import Warehouse
from form4.warehouse.raw import RawStore
from tests.edgar_server import FaultyEdgar
from tests.edgar_tree import build_day, daily_index_key, read_header, synthetic_day
from tests.hostile import SAMPLE, accession_of, pill
from tests.test_ingest_e2e import MALFORMED, day_submissions, snapshot

ROOT = Path(__file__).resolve().parent.parent
DAY = date(2026, 2, 2)
NEXT = date(2026, 2, 3)
TODAY = date(2026, 2, 10)

# (element, text): values that stopped whole days (Overflow, InvalidOperation, signal 11) or
# were stored silently altered.
PILLS = [
    ("transactionPricePerShare", "1e999999999"),
    ("transactionPricePerShare", "-1e999999999"),
    ("transactionPricePerShare", "1e-999999999"),
    ("transactionShares", "-100"),
    ("transactionShares", "Infinity"),
    ("transactionShares", "NaN"),
    ("transactionShares", "0x10"),
    ("transactionShares", "12abc"),
    ("transactionShares", "1O0"),
    ("transactionDate", "0000-00-00"),
    ("transactionDate", "2026-02-30"),
    ("issuerCik", "12345678901"),
]


def settings_for(server: FaultyEdgar, where: Path, **env: str) -> Settings:
    base = {
        "SEC_USER_AGENT": "form4 tests tests@form4.example",
        "FORM4_RETRY_BASE_S": "0.01",
        "FORM4_RETRY_CAP_S": "0.05",
        "FORM4_TIMEOUT_S": "5",
        "FORM4_MAX_RPS": "200",
        "FORM4_RATE_DIR": "none",
    }
    base.update(env)
    return Settings.from_env(base, db_path=where / "w.duckdb", edgar_url=server.base_url)


def placement(db: Path, accessions: set[str]) -> dict[str, list[str]]:
    """For each accession, the tables among filings, rejects, failed_accessions holding it."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        found: dict[str, list[str]] = {a: [] for a in accessions}
        for table in ("filings", "rejects", "failed_accessions"):
            for (acc,) in con.execute(f"SELECT accession_number FROM {table}").fetchall():
                if acc in found:
                    found[acc].append(table)
        return found
    finally:
        con.close()


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize(("element", "text"), PILLS, ids=[f"{e}={t}" for e, t in PILLS])
def test_a_poison_pill_alone_is_rejected_and_a_rerun_changes_nothing(
    element: str, text: str, tmp_path: Path
) -> None:
    """Guards against one hostile value failing the day (0 filings, 0 rejects) on every run."""
    bad = pill(1, element, text, filed=DAY)
    with FaultyEdgar(build_day(DAY, [bad])) as server:
        settings = settings_for(server, tmp_path)
        first = run_ingest(settings, DAY, today=TODAY)
        assert first.error is None and [d.status for d in first.days] == ["done"]
        assert first.totals.rejected == 1 and first.totals.loaded == 0
        before = snapshot(settings.db_path)
        (reject,) = query(settings.db_path, "SELECT accession_number, stage, reason FROM rejects")
        assert reject[:2] == (accession_of(1), "validate") and text[:20] in str(reject[2])
        second = run_ingest(settings, DAY, today=TODAY)
        assert second.error is None and second.totals.rejected == 1
        assert snapshot(settings.db_path) == before


def test_every_poison_pill_among_good_filings_leaves_the_good_ones_loaded(tmp_path: Path) -> None:
    """Guards against a bad filing costing the rest of its batch or day, and against the pair
    (1E20 owned, 1.123456789 shares) that failed together although each loads alone."""
    good = day_submissions()
    pills = [pill(n, e, t, filed=DAY) for n, (e, t) in enumerate(PILLS, 1)]
    pair = [
        pill(90, "sharesOwnedFollowingTransaction", "100000000000000000000", filed=DAY),
        pill(91, "transactionShares", "1.123456789", filed=DAY),
    ]
    subs = [*good[:3], *pills[:6], *pair, *good[3:], *pills[6:]]
    listed = {read_header(s).accession for s in subs if read_header(s).form_type in ("4", "4/A")}
    good_ones = listed - {accession_of(n) for n in range(1, len(PILLS) + 1)} - {MALFORMED}
    with FaultyEdgar(build_day(DAY, subs)) as server:
        settings = settings_for(server, tmp_path, FORM4_BATCH_SIZE="5")
        first = run_ingest(settings, DAY, today=TODAY)
        assert first.error is None and [d.status for d in first.days] == ["done"]
        where = placement(settings.db_path, listed)
        assert all(len(t) == 1 for t in where.values()), where
        assert {a for a, t in where.items() if t == ["filings"]} == good_ones
        assert first.totals.rejected == len(PILLS) + 1  # the pills and the sample's broken one
        issues = query(settings.db_path, "SELECT accession_number, field FROM data_issues")
        assert issues == [(accession_of(91), "shares")]
        before = snapshot(settings.db_path)
        second = run_ingest(settings, DAY, today=TODAY)
        assert second.error is None
        assert snapshot(settings.db_path) == before


def _index_with_bad_lines(tree: dict[str, bytes]) -> tuple[dict[str, bytes], int]:
    """The day's index with three unreadable lines among the good ones."""
    key = daily_index_key(DAY)
    lines = tree[key].decode("ascii").split("\n")
    first_row = next(i for i, line in enumerate(lines) if line.startswith("4 "))
    bad = [
        "4".ljust(12) + "No Accession Inc".ljust(62) + "1750".ljust(12) + "20260202".ljust(12)
        + "edgar/data/1750/index.html",
        "4".ljust(12) + "Padded Corp" + " " * 60_000 + "1750  20260202  edgar/data/1750/x.txt",
        "4".ljust(12) + "Bad Cik LLC".ljust(62) + "12345678901".ljust(12) + "20260202".ljust(12)
        + "edgar/data/12345678901/0009900001-26-000077.txt",
    ]  # fmt: skip
    lines[first_row + 1 : first_row + 1] = bad
    return {**tree, key: "\n".join(lines).encode("ascii")}, first_row + 1


def test_unreadable_index_lines_are_recorded_and_the_day_and_later_days_still_load(
    tmp_path: Path,
) -> None:
    """Guards against one index line without an accession (or 60k characters long, or with a
    bad CIK) failing its day on every run so that no later day is ever reached."""
    tree, at = _index_with_bad_lines(build_day(DAY, day_submissions()))
    later = synthetic_day(NEXT, [SAMPLE], 3, agent="0009800001")
    with FaultyEdgar({**tree, **later}) as server:
        settings = settings_for(server, tmp_path)
        first = run_ingest(settings, DAY, NEXT, today=TODAY)
        assert first.error is None
        assert [(d.day, d.status) for d in first.days] == [(DAY, "done"), (NEXT, "done")]
        assert [d.index_problems for d in first.days] == [3, 0]
        printed = io.StringIO()
        print_ingest_summary(first, settings, printed)
        (line,) = [x for x in printed.getvalue().splitlines() if x.startswith(f"  {DAY}:")]
        assert line.endswith("3 index lines unreadable (see index_problems)"), line
        assert first.days[0].batch.loaded >= 10 and first.days[1].batch.loaded == 3
        problems = query(
            settings.db_path,
            "SELECT index_path, line_no, problem, line_length FROM index_problems ORDER BY 2",
        )
        assert [p[1] for p in problems] == [at + 1, at + 2, at + 3]  # numbered from 1
        assert {p[0] for p in problems} == {"daily-index/2026/QTR1/form.20260202.idx"}
        assert "accession" in str(problems[0][2]) and "CIK" in str(problems[2][2])
        assert int(str(problems[1][3])) > 60_000
        before = snapshot(settings.db_path)
        again = run_ingest(settings, DAY, NEXT, today=TODAY)
        assert again.error is None and [d.index_problems for d in again.days] == [3, 0]
        assert len(query(settings.db_path, "SELECT * FROM index_problems")) == 3
        assert snapshot(settings.db_path) == before
        # the nightly catch-up goes past the day too
        done = query(settings.db_path, "SELECT max(day) FROM ingest_days WHERE status = 'done'")
        assert done == [(NEXT,)]


MARKER = b"<remarks>form4 test: this filing kills the process that parses it</remarks>"


def kill_on_marker(accession: str, data: bytes) -> None:
    """Fault point: a filing carrying ``MARKER`` kills the process parsing it, as the signal 11
    of a C library did (SIGKILL: no clean-up, no Python handler)."""
    if MARKER in data:
        os.kill(os.getpid(), signal.SIGKILL)


CHILD = """
import sys
from datetime import date
from form4.flows.config import Settings
from form4.flows.ingest_flow import run_ingest
from form4.flows.pipeline import quarantine
from tests.test_poison_pills import kill_on_marker
quarantine.set_fault_point(kill_on_marker)
env = {"SEC_USER_AGENT": "crash test crash@form4.example", "FORM4_BATCH_SIZE": "3",
       "FORM4_MAX_RPS": "200", "FORM4_RATE_DIR": "none"}
settings = Settings.from_env(env, db_path=sys.argv[1], edgar_url=sys.argv[2])
day, today = date.fromisoformat(sys.argv[3]), date.fromisoformat(sys.argv[4])
result = run_ingest(settings, day, today=today)
print("finished", result.error, result.totals.loaded, result.totals.rejected, flush=True)
"""


def _run_child(db: Path, server: FaultyEdgar) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(db), server.base_url, str(DAY), str(TODAY)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_filing_that_kills_the_process_is_rejected_by_the_next_run_without_killing_it(
    tmp_path: Path,
) -> None:
    """Guards against a crash in a C library blocking the day forever: the first run dies, the
    next one finds the filing it died on (parsed alone in a child process), rejects it, loads
    the rest of its batch, and a third run changes nothing."""
    good = synthetic_day(DAY, [SAMPLE], 7, agent="0009700001")
    killer = pill(1, "transactionShares", "100", filed=DAY).replace(
        b"<remarks>", MARKER[: -len(b"</remarks>")], 1
    )
    assert MARKER in killer
    tree = build_day(DAY, [*[v for k, v in sorted(good.items()) if k.endswith(".txt")], killer])
    listed = {read_header(v).accession for k, v in tree.items() if k.endswith(".txt")}
    db = tmp_path / "w.duckdb"
    with FaultyEdgar(tree) as server:
        died = _run_child(db, server)
        assert died.returncode == -signal.SIGKILL, died.stderr[-2000:]
        left = query(db, "SELECT accession_number, attempts FROM in_flight")
        # the killer's whole batch (3, or 2 when it is the last), good filings with it
        assert (accession_of(1), 1) in left and len(left) in (2, 3), left

        survived = _run_child(db, server)
        assert survived.returncode == 0, survived.stderr[-2000:]
        assert survived.stdout.split()[:2] == ["finished", "None"]
        where = placement(db, listed)
        assert where.pop(accession_of(1)) == ["rejects"]
        assert all(t == ["filings"] for t in where.values()), where
        (stage, raw) = query(db, "SELECT stage, raw FROM rejects")[0]
        assert stage == "crash" and MARKER in bytes(raw)  # type: ignore[arg-type]
        assert query(db, "SELECT count(*) FROM in_flight") == [(0,)]
        before = snapshot(db)

        again = _run_child(db, server)
        assert again.returncode == 0, again.stderr[-2000:]
        assert snapshot(db) == before


def test_a_filing_left_in_flight_by_two_dead_runs_is_rejected_without_being_parsed(
    tmp_path: Path,
) -> None:
    """Guards against a filing that kills the process after it was parsed (in DuckDB's write,
    say) killing every run: once two runs died with it in flight it is not parsed again."""
    subs = [
        pill(1, "transactionShares", "100", filed=DAY),
        pill(2, "transactionShares", "7", filed=DAY),
    ]
    with FaultyEdgar(build_day(DAY, subs)) as server:
        settings = settings_for(server, tmp_path)
        with Warehouse(settings.db_path) as wh:
            wh.mark_in_flight([(accession_of(1), DAY), (accession_of(2), DAY)])
            wh.mark_in_flight([(accession_of(1), DAY)])  # a second run died with it too
        result = run_ingest(settings, DAY, today=TODAY)
        assert result.error is None and result.totals.loaded == 1
        assert placement(settings.db_path, {accession_of(1), accession_of(2)}) == {
            accession_of(1): ["rejects"],
            accession_of(2): ["filings"],  # parsed alone in a child process, and loaded
        }
        (stage, reason) = query(settings.db_path, "SELECT stage, reason FROM rejects")[0]
        assert stage == "crash" and "2 runs died" in str(reason)
        assert query(settings.db_path, "SELECT count(*) FROM in_flight") == [(0,)]


def test_a_form_type_contradicting_the_index_stays_rejected_after_a_reprocess(
    tmp_path: Path,
) -> None:
    """Guards against a reprocess loading what the ingest rejected because the served file
    is not the form the index lists (the index's form type is kept with the raw copy)."""
    good, odd = (
        pill(1, "transactionShares", "5", filed=DAY),
        pill(2, "transactionShares", "6", filed=DAY),
    )
    tree = build_day(DAY, [good, odd])
    key = daily_index_key(DAY)
    lines = tree[key].decode("ascii").split("\n")
    tree[key] = "\n".join(
        "4/A" + line[3:] if accession_of(2) in line else line for line in lines
    ).encode("ascii")
    with FaultyEdgar(tree) as server:
        settings = settings_for(server, tmp_path)
        result = run_ingest(settings, DAY, today=TODAY)
        assert result.error is None and result.totals.loaded == 1
        (reject,) = query(settings.db_path, "SELECT accession_number, stage, reason FROM rejects")
        assert reject[:2] == (accession_of(2), "validate") and "the index says 4/A" in str(
            reject[2]
        )
        with Warehouse(settings.db_path) as wh:
            again = reprocess(settings, warehouse=wh, raw=RawStore(settings.raw_root))
        assert again.batch.loaded == 1 and again.batch.rejected == 1
        assert query(settings.db_path, "SELECT accession_number FROM rejects") == [
            (accession_of(2),)
        ]


def test_an_unexpected_parser_error_on_one_filing_is_that_filings_reject(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards against a parser bug met by one filing (any exception, not only ParseError)
    failing its batch and its day."""
    real = ingest_module.parse_raw

    def buggy(data: bytes, *args: object, **kwargs: object) -> object:
        if accession_of(1).encode() in data[:2000]:
            raise RecursionError("maximum recursion depth exceeded")
        return real(data, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest_module, "parse_raw", buggy)
    subs = [pill(n, "transactionShares", str(n), filed=DAY) for n in (1, 2, 3)]
    with FaultyEdgar(build_day(DAY, subs)) as server:
        settings = settings_for(server, tmp_path)
        result = run_ingest(settings, DAY, today=TODAY)
        assert result.error is None and result.totals.loaded == 2
        (reject,) = query(settings.db_path, "SELECT accession_number, stage, reason FROM rejects")
        assert reject[:2] == (accession_of(1), "ownership") and "RecursionError" in str(reject[2])
