"""Backfills: a range of days over EDGAR's indexes, or every ownership filing of one CIK.

``backfill_range`` reads a quarter's ``full-index/{YYYY}/QTR{q}/form.idx`` once instead of one
daily index per day when the quarter is over and the range covers more than one of its
business days (fewer requests); otherwise it reads the daily indexes like ``form4 ingest``.
Each day is then loaded and recorded exactly as the nightly run records it, so a backfilled
day is never fetched again. ``backfill_cik`` reads ``data.sec.gov/submissions/CIK##########.json``
and every page it names under ``files``, and fetches each ownership filing once. Both report
progress through a callback (a bar on a terminal, log lines elsewhere: ``flows.pipeline.progress``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

import httpx

from form4.flows.config import Settings
from form4.flows.edgar.endpoints import (
    fetch_json,
    fetch_quarterly_index,
    quarterly_index_path,
    submissions_json_url,
)
from form4.flows.pipeline.ingest import (
    BatchResult,
    DayResult,
    business_days,
    ingest_day,
    ingest_entries,
    load_new,
    record_index_problems,
)
from form4.flows.pipeline.progress import ProgressSink, QuietDays
from form4.parsers.errors import FetchError, ParseError
from form4.parsers.identifiers import is_cik
from form4.parsers.index import ownership_entries, read_index
from form4.parsers.records import IndexEntry
from form4.parsers.submissions import read_submissions_json
from form4.warehouse.db import Warehouse
from form4.warehouse.raw import RawStore

__all__ = ["QuarterPlan", "backfill_cik", "backfill_range", "plan_range", "quarter_of"]

log = logging.getLogger("form4.backfill")
OnBatch = Callable[[BatchResult], None]


def quarter_of(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def _next_quarter_start(year: int, quarter: int) -> date:
    return date(year + 1, 1, 1) if quarter == 4 else date(year, quarter * 3 + 1, 1)


QuarterPlan = tuple[tuple[int, int] | None, list[date]]


def plan_range(start: date, end: date, today: date) -> list[QuarterPlan]:
    """Groups of days: ``((year, q), days)`` to read from a finished quarter's full index,
    ``(None, days)`` to read day by day."""
    plans: list[QuarterPlan] = []
    by_quarter: dict[tuple[int, int], list[date]] = {}
    for day in business_days(start, end):
        by_quarter.setdefault(quarter_of(day), []).append(day)
    for key, days in by_quarter.items():
        finished = _next_quarter_start(*key) <= today
        plans.append((key if finished and len(days) > 1 else None, days))
    return plans


def backfill_range(
    start: date,
    end: date,
    *,
    settings: Settings,
    client: httpx.Client,
    warehouse: Warehouse,
    raw: RawStore,
    today: date,
    on_batch: OnBatch | None = None,
    progress: ProgressSink | None = None,
    quiet: QuietDays | None = None,
) -> list[DayResult]:
    """Every business day of ``start``..``end``; days without filings are noted in ``quiet``
    (one line per stretch of them) instead of a line each."""
    results: list[DayResult] = []
    for quarter, days in plan_range(start, end, today):
        data = (
            fetch_quarterly_index(client, *quarter, max_bytes=settings.max_index_bytes)
            if quarter is not None
            else None
        )
        if data is None:  # day by day (or the quarterly index is missing)
            for day in days:
                results.append(
                    ingest_day(
                        day,
                        settings=settings,
                        client=client,
                        warehouse=warehouse,
                        raw=raw,
                        today=today,
                        on_batch=on_batch,
                        progress=progress,
                    )
                )
                if quiet is not None:
                    quiet.day(day, results[-1].index_entries)
            continue
        try:
            rows, problems = read_index(data)
        except ParseError as exc:
            raise FetchError(f"{quarter}: the quarterly index could not be read: {exc}") from exc
        assert quarter is not None  # data came from the quarterly index
        record_index_problems(warehouse, quarterly_index_path(*quarter), problems)
        entries = ownership_entries(rows, settings.forms)
        by_day: dict[date, list[IndexEntry]] = {}
        for entry in entries:
            by_day.setdefault(entry.date_filed, []).append(entry)
        for day in days:
            results.append(
                ingest_entries(
                    day,
                    by_day.get(day, []),
                    settings=settings,
                    client=client,
                    warehouse=warehouse,
                    raw=raw,
                    on_batch=on_batch,
                    progress=progress,
                )
            )
            if quiet is not None:
                quiet.day(day, results[-1].index_entries)
    return results


def cik_entries(cik: str, *, settings: Settings, client: httpx.Client) -> list[IndexEntry]:
    """Every ownership filing of ``settings.forms`` listed for ``cik``, each accession once.

    Only ``submissions/CIK##########.json`` and the pages it names in EDGAR's own page-name
    form are requested; a page named otherwise (a path, another host) and a row whose
    accession number is not one are skipped with a warning, never fetched."""
    padded = cik.strip().zfill(10)
    if not is_cik(padded):
        raise FetchError(f"invalid CIK {cik!r} (up to 10 digits)")
    base = settings.data_url
    pending = [submissions_json_url(base, f"CIK{padded}.json")]
    entries: dict[str, IndexEntry] = {}
    first = True
    while pending:
        url = pending.pop(0)
        data = fetch_json(client, url, max_bytes=settings.max_index_bytes)
        if data is None:
            if first:
                raise FetchError(f"{url}: no submissions file for CIK {padded}")
            log.warning("%s: missing page, skipped", url)
            continue
        try:
            found, pages, problems = read_submissions_json(data, cik=padded, forms=settings.forms)
        except ParseError as exc:
            raise FetchError(f"{url}: {exc}") from exc
        for problem in problems:
            log.warning("%s row %d skipped: %s", url, problem.line_no, problem.problem)
        if first:
            for name in pages:
                try:
                    pending.append(submissions_json_url(base, name))
                except FetchError as exc:
                    log.warning("%s: %s; skipped", url, exc)
            first = False
        for entry in found:
            entries.setdefault(entry.accession_number, entry)
    return sorted(entries.values(), key=lambda e: (e.date_filed, e.accession_number))


def backfill_cik(
    cik: str,
    *,
    settings: Settings,
    client: httpx.Client,
    warehouse: Warehouse,
    raw: RawStore,
    on_batch: OnBatch | None = None,
    progress: ProgressSink | None = None,
) -> tuple[int, BatchResult]:
    """Load every ownership filing of one issuer or insider; returns (listed, result)."""
    entries = cik_entries(cik, settings=settings, client=client)
    _, result = load_new(
        entries,
        settings=settings,
        client=client,
        warehouse=warehouse,
        raw=raw,
        on_batch=on_batch,
        progress=progress,
    )
    return len(entries), result
