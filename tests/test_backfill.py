"""Backfills over the loopback EDGAR: a date range (quarterly index where cheaper) and a CIK
(submissions JSON with a second page), each filing fetched once."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from form4.flows.edgar.client import build_client
from form4.flows.edgar.endpoints import daily_index_path, quarterly_index_path
from form4.flows.pipeline.backfill import backfill_cik, backfill_range, plan_range
from form4.warehouse.db import Warehouse
from form4.warehouse.raw import RawStore
from tests.edgar_server import FaultyEdgar
from tests.edgar_tree import build_day, clone_submission, read_header
from tests.test_ingest_e2e import DAY, MALFORMED, TODAY, day_submissions, settings_for, snapshot

DEC1, DEC2 = date(2025, 12, 1), date(2025, 12, 2)


def test_the_plan_reads_finished_quarters_whole_and_the_current_one_day_by_day() -> None:
    """Guards against reading an unfinished quarter's index (days would be marked done early)."""
    plans = plan_range(date(2025, 12, 29), date(2026, 1, 6), today=date(2026, 2, 10))
    assert plans == [
        ((2025, 4), [date(2025, 12, 29), date(2025, 12, 30), date(2025, 12, 31)]),
        (None, [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 5), date(2026, 1, 6)]),
    ]
    # one business day of a finished quarter costs one daily request either way
    assert plan_range(DEC1, DEC1, today=TODAY) == [(None, [DEC1])]


def quarterly_tree() -> tuple[dict[str, bytes], list[str]]:
    """Q4 2025 as one full index (two days of clones), plus the sample day of 2026-02-02."""
    templates = [s for s in day_submissions() if read_header(s).accession != MALFORMED][:4]
    clones = {
        DEC1: [
            clone_submission(t, accession=f"0009999999-25-{n:06d}", filed=DEC1)
            for n, t in enumerate(templates[:2], start=1)
        ],
        DEC2: [
            clone_submission(t, accession=f"0009999999-25-{n:06d}", filed=DEC2)
            for n, t in enumerate(templates[2:], start=3)
        ],
    }
    tree: dict[str, bytes] = {}
    rows: list[bytes] = []
    for day, subs in clones.items():
        day_tree = build_day(day, subs)
        index = day_tree.pop(next(k for k in day_tree if k.endswith(".idx")))
        lines = index.decode().splitlines()
        header, body = lines[:10], lines[10:]
        iso = f"{day:%Y-%m-%d}"
        rows += [line.replace(f"{day:%Y%m%d}", iso + "  ").encode() for line in body]
        tree.update(day_tree)
    tree[quarterly_index_path(2025, 4).lstrip("/")] = (
        ("\n".join(header) + "\n").encode() + b"\n".join(rows) + b"\n"
    )
    tree.update(build_day(DAY, day_submissions()))
    accessions = [read_header(s).accession for subs in clones.values() for s in subs]
    return tree, accessions


def test_a_range_backfill_uses_the_quarterly_index_and_fetches_each_filing_once(
    tmp_path: Path,
) -> None:
    """Guards against a backfill paying one request per day of a finished quarter."""
    tree, q4 = quarterly_tree()
    with FaultyEdgar(tree) as server:
        settings = settings_for(server, tmp_path)
        with build_client(settings) as client, Warehouse(settings.db_path) as wh:
            results = backfill_range(
                DEC1,
                DAY,
                settings=settings,
                client=client,
                warehouse=wh,
                raw=RawStore(settings.raw_root),
                today=TODAY,
            )
            days = dict(wh.con.execute("SELECT day, status FROM ingest_days").fetchall())
        log = [r.path for r in server.requests]
    index_requests = [p for p in log if p.endswith(".idx")]
    assert index_requests.count(quarterly_index_path(2025, 4)) == 1
    assert not any("/2025/QTR4/form.2025" in p for p in index_requests)  # no daily Q4 reads
    q1_days = [r.day for r in results if r.day.year == 2026]
    assert len(index_requests) == 1 + len(q1_days)
    assert daily_index_path(DAY) in index_requests
    txt = [p for p in log if p.endswith(".txt")]
    assert len(txt) == len(set(txt))  # each filing once
    loaded = {r[0] for r in snapshot(settings.db_path)["filings"]}
    assert set(q4) <= loaded
    assert days[DEC1] == "done" and days[DEC2] == "done" and days[DAY] == "done"
    assert days[date(2025, 12, 3)] == "done"  # in the quarterly index, with no filings


def submissions_json(cik: str, recent: list[tuple[str, str, str]], pages: list[str]) -> bytes:
    accessions, forms, dates = (list(c) for c in zip(*recent, strict=True))
    return json.dumps(
        {
            "cik": cik,
            "name": "Contoso Semiconductor Corp",
            "filings": {
                "recent": {
                    "accessionNumber": accessions,
                    "form": forms,
                    "filingDate": dates,
                    "primaryDocument": ["xslF345X05/doc.xml"] * len(forms),
                },
                "files": [{"name": p, "filingCount": 1} for p in pages],
            },
        }
    ).encode()


def test_a_cik_backfill_follows_the_submissions_pages_and_fetches_each_filing_once(
    tmp_path: Path,
) -> None:
    """Guards against the paginated 'files' being ignored, or non-ownership forms fetched."""
    cik = "0002900002"
    tree = build_day(DAY, day_submissions())
    contoso = sorted(
        read_header(s).accession
        for s in day_submissions()
        if read_header(s).accession.startswith(cik)
    )
    later = clone_submission(
        next(s for s in day_submissions() if read_header(s).accession == contoso[0]),
        accession="0002900002-26-000099",
        filed=date(2026, 2, 3),
    )
    tree.update(build_day(date(2026, 2, 3), [later]))
    recent = [(a, "4", "2026-02-02") for a in contoso] + [
        ("0002900002-26-000050", "10-K", "2026-02-01")
    ]
    page = "CIK0002900002-submissions-001.json"
    tree[f"submissions/CIK{cik}.json"] = submissions_json(cik, recent, [page])
    tree[f"submissions/{page}"] = json.dumps(
        {"accessionNumber": ["0002900002-26-000099"], "form": ["4"], "filingDate": ["2026-02-03"]}
    ).encode()
    with FaultyEdgar(tree) as server:
        settings = settings_for(server, tmp_path)
        settings = type(settings).from_env(
            {"SEC_USER_AGENT": settings.user_agent, "FORM4_RETRY_BASE_S": "0.01"},
            db_path=settings.db_path,
            edgar_url=server.base_url,
            data_url=server.base_url,
        )
        with build_client(settings) as client, Warehouse(settings.db_path) as wh:
            listed, result = backfill_cik(
                cik, settings=settings, client=client, warehouse=wh, raw=RawStore(settings.raw_root)
            )
            again = backfill_cik(
                cik, settings=settings, client=client, warehouse=wh, raw=RawStore(settings.raw_root)
            )
        log = [r.path for r in server.requests]
    assert listed == len(contoso) + 1
    assert result.loaded + result.rejected == listed and result.failed == 0
    txt = [p for p in log if p.endswith(".txt")]
    assert not any("0002900002-26-000050" in p for p in txt)  # the 10-K is not fetched
    assert sorted(p.rsplit("/", 1)[-1] for p in txt) == sorted(
        [f"{a}.txt" for a in contoso] + ["0002900002-26-000099.txt", f"{MALFORMED}.txt"]
    )  # each once, plus the reject fetched again by the second pass
    assert log.count(f"/submissions/{page}") == 2
    assert again[1].loaded == 0 and again[1].fetched == 1
