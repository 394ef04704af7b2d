"""Ingest as plain functions: which days to run, and one day (or a list of filings) end to end.

``ingest_day`` fetches a day's index, skips accessions the warehouse already holds, and runs
the rest in batches through ``process_entries``: fetch concurrently (the client enforces the
rate limit), keep the raw bytes, parse, and load each batch in one transaction. Filings that
cannot be fetched after retries go to ``failed_accessions`` and are retried by the next run;
filings that cannot be parsed go to ``rejects`` with their raw bytes. The Prefect flow in
``flows.ingest_flow`` is a thin wrapper over these functions.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from form4.flows.config import Settings
from form4.flows.edgar.endpoints import fetch_daily_index, fetch_submission
from form4.parsers.errors import BlockedError, FetchError, ParseError
from form4.parsers.index import ownership_entries, parse_index
from form4.parsers.ownership import KNOWN_SCHEMA_VERSIONS, parse_ownership
from form4.parsers.records import IndexEntry, ParsedFiling
from form4.parsers.sgml import parse_submission
from form4.warehouse.db import FailedFetch, RawDocument, Reject, Warehouse, utcnow
from form4.warehouse.raw import RawPack, RawStore, sha256
from form4.warehouse.rows import check_filing

__all__ = [
    "BatchResult",
    "DayResult",
    "business_days",
    "days_to_ingest",
    "eastern_today",
    "ingest_day",
    "ingest_entries",
    "load_new",
    "parse_raw",
    "process_entries",
    "retry_failed",
]

log = logging.getLogger("form4.ingest")
EASTERN = ZoneInfo("America/New_York")
# Raw bytes a batch may hold (documents waiting for the pack, rejects' copies) before it is
# loaded early, as its own transaction: memory stays bounded however large the batch or the
# documents. Beyond this, a run holds at most the FORM4_CONCURRENCY documents in flight.
BATCH_BYTES = 256 * 1024 * 1024


def eastern_today(now: datetime | None = None) -> date:
    """Today's date in New York, where EDGAR's days begin and end."""
    return (now or datetime.now(EASTERN)).astimezone(EASTERN).date()


def business_days(start: date, end: date) -> list[date]:
    """Monday-Friday days from ``start`` to ``end`` inclusive (holidays have no index)."""
    days = []
    day = start
    while day <= end:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def days_to_ingest(warehouse: Warehouse, forms: Sequence[str], today: date) -> list[date]:
    """The nightly catch-up: pending days, then every business day after the last one done
    up to yesterday. A new warehouse starts with the last business day before today."""
    yesterday = today - timedelta(days=1)
    last = warehouse.last_done_day(forms)
    if last is None:
        candidates = business_days(yesterday - timedelta(days=6), yesterday)[-1:]
    else:
        candidates = business_days(last + timedelta(days=1), yesterday)
    pending = [d for d in warehouse.pending_days(forms) if d <= yesterday]
    return sorted(set(pending) | set(candidates))


@dataclass(slots=True)
class BatchResult:
    """Counts of one or more batches; ``add`` merges another result into this one."""

    fetched: int = 0
    loaded: int = 0
    rejected: int = 0
    failed: int = 0
    unknown_schema: int = 0  # loaded, but of a schema version form4 does not know yet
    reject_reasons: list[str] = field(default_factory=list)

    def add(self, other: BatchResult) -> None:
        self.unknown_schema += other.unknown_schema
        self.fetched += other.fetched
        self.loaded += other.loaded
        self.rejected += other.rejected
        self.failed += other.failed
        self.reject_reasons.extend(other.reject_reasons)


@dataclass(slots=True)
class DayResult:
    day: date
    status: str  # done, no_index, pending
    index_entries: int = 0
    already_loaded: int = 0
    batch: BatchResult = field(default_factory=BatchResult)


def parse_raw(data: bytes, settings: Settings, accession_number: str | None = None) -> ParsedFiling:
    """Submission bytes -> a checked ``ParsedFiling``, or ``ParseError``."""
    submission = parse_submission(data, max_bytes=settings.max_submission_bytes)
    header = submission.header
    if accession_number is not None and header.accession_number != accession_number:
        raise ParseError(
            f"the submission says accession {header.accession_number}, "
            f"the index says {accession_number}",
            stage="sgml",
        )
    filing = ParsedFiling(header, parse_ownership(submission.xml, max_bytes=settings.max_xml_bytes))
    check_filing(filing)
    return filing


@dataclass(frozen=True, slots=True)
class _Outcome:
    entry: IndexEntry
    filing: ParsedFiling | None = None
    reject: Reject | None = None
    raw_document: RawDocument | None = None
    failure: FailedFetch | None = None

    @property
    def held_bytes(self) -> int:
        """Raw bytes this outcome keeps in memory until its batch is loaded."""
        size = self.raw_document.size if self.raw_document is not None else 0
        return size + (len(self.reject.raw) if self.reject is not None else 0)


def _fetch_part(
    pool: ThreadPoolExecutor,
    work: Callable[[IndexEntry], _Outcome],
    todo: Iterator[tuple[int, IndexEntry]],
    *,
    workers: int,
    budget: int,
) -> list[_Outcome]:
    """Outcomes of the entries taken from ``todo`` (in ``todo``'s order) until it runs out or
    they hold ``budget`` raw bytes: each worker takes the next entry itself, so no thread
    waits for another to hand out work, and no worker starts one past the budget."""
    lock = threading.Lock()
    done: list[tuple[int, _Outcome]] = []
    held = 0
    stop = False

    def run() -> None:
        nonlocal held, stop
        while True:
            with lock:
                item = None if stop or held >= budget else next(todo, None)
            if item is None:
                return
            try:
                outcome = work(item[1])
            except BaseException:
                with lock:
                    stop = True  # e.g. EDGAR refused the User-Agent: the others stop too
                raise
            with lock:
                done.append((item[0], outcome))
                held += outcome.held_bytes

    for future in [pool.submit(run) for _ in range(workers)]:
        future.result()
    return [outcome for _, outcome in sorted(done, key=lambda d: d[0])]


def _fetch_and_parse(
    entry: IndexEntry, *, settings: Settings, client: httpx.Client, pack: RawPack
) -> _Outcome:
    acc = entry.accession_number
    day = entry.date_filed
    try:
        data = fetch_submission(client, entry, max_bytes=settings.max_submission_bytes)
    except BlockedError:
        raise
    except FetchError as exc:
        failure = FailedFetch(acc, day, entry.cik, entry.filename, entry.form_type, str(exc))
        return _Outcome(entry, failure=failure)
    where = pack.put(acc, data)
    raw_document = RawDocument(
        acc,
        day,
        entry.cik,
        where.path,
        len(data),
        sha256(data),
        utcnow(),
        where.offset,
        where.length,
    )
    try:
        filing = parse_raw(data, settings, acc)
    except ParseError as exc:
        reject = Reject(acc, exc.stage, str(exc).splitlines()[0][:1000], data, utcnow())
        return _Outcome(entry, reject=reject, raw_document=raw_document)
    return _Outcome(entry, filing=filing, raw_document=raw_document)


def open_warehouse(settings: Settings) -> Warehouse:
    """The warehouse of a form4 run, with DuckDB's memory capped by the settings."""
    return Warehouse(settings.db_path, memory_mb=settings.duckdb_memory_mb)


def _chunks(items: Sequence[IndexEntry], size: int) -> Iterable[Sequence[IndexEntry]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def process_entries(
    entries: Sequence[IndexEntry],
    *,
    settings: Settings,
    client: httpx.Client,
    warehouse: Warehouse,
    raw: RawStore,
    on_batch: Callable[[BatchResult], None] | None = None,
) -> BatchResult:
    """Fetch, keep, parse and load ``entries`` in batches of ``settings.batch_size``. The raw
    copies go into one pack, synced before each batch's rows are committed."""
    total = BatchResult()
    with (
        closing(raw.pack()) as pack,
        ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="form4") as pool,
    ):

        def parts() -> Iterator[list[_Outcome]]:
            for batch in _chunks(entries, settings.batch_size):
                todo = iter(enumerate(batch))
                while outcomes := _fetch_part(
                    pool,
                    lambda e: _fetch_and_parse(e, settings=settings, client=client, pack=pack),
                    todo,
                    workers=settings.concurrency,
                    budget=BATCH_BYTES,
                ):
                    yield outcomes

        for outcomes in parts():
            result = BatchResult()
            filings = [o.filing for o in outcomes if o.filing is not None]
            rejects = [o.reject for o in outcomes if o.reject is not None]
            raw_docs = [o.raw_document for o in outcomes if o.raw_document is not None]
            failures = [o.failure for o in outcomes if o.failure is not None]
            pack.sync()  # the rows below point into the pack: its bytes go to disk first
            warehouse.load_batch(filings, rejects=rejects, raw_documents=raw_docs)
            warehouse.record_failures(failures)
            result.fetched = len(raw_docs)
            result.loaded = len(filings)
            result.unknown_schema = sum(
                1 for f in filings if f.document.schema_version not in KNOWN_SCHEMA_VERSIONS
            )
            result.rejected = len(rejects)
            result.failed = len(failures)
            result.reject_reasons = [
                f"{r.accession_number}: {r.stage}: {r.reason}" for r in rejects
            ]
            for reason in result.reject_reasons:
                log.warning("rejected %s", reason)
            if on_batch is not None:
                on_batch(result)
            total.add(result)
    return total


def ingest_day(
    day: date,
    *,
    settings: Settings,
    client: httpx.Client,
    warehouse: Warehouse,
    raw: RawStore,
    today: date,
    on_batch: Callable[[BatchResult], None] | None = None,
) -> DayResult:
    """One EDGAR day end to end; safe to re-run (already-held filings are not fetched again)."""
    data = fetch_daily_index(client, day, max_bytes=settings.max_index_bytes)
    if data is None:
        status = "pending" if day >= today else "no_index"
        warehouse.mark_day(day, settings.forms, status)
        log.info("%s: no index (%s)", day, status)
        return DayResult(day, status)
    try:
        entries = ownership_entries(parse_index(data), settings.forms)
    except ParseError as exc:
        raise FetchError(f"{day}: the daily index could not be read: {exc}") from exc
    return ingest_entries(
        day,
        entries,
        settings=settings,
        client=client,
        warehouse=warehouse,
        raw=raw,
        on_batch=on_batch,
    )


def load_new(
    entries: Sequence[IndexEntry],
    *,
    settings: Settings,
    client: httpx.Client,
    warehouse: Warehouse,
    raw: RawStore,
    on_batch: Callable[[BatchResult], None] | None = None,
) -> tuple[int, BatchResult]:
    """Fetch and load the entries not loaded yet (rejects are fetched again, since a damaged
    copy may have been served); returns how many were already loaded, and the result."""
    known = warehouse.known_accessions(e.accession_number for e in entries)
    rejected = warehouse.rejected_accessions(known)
    todo = [e for e in entries if e.accession_number not in known or e.accession_number in rejected]
    batch = process_entries(
        todo, settings=settings, client=client, warehouse=warehouse, raw=raw, on_batch=on_batch
    )
    return len(entries) - len(todo), batch


def ingest_entries(
    day: date,
    entries: Sequence[IndexEntry],
    *,
    settings: Settings,
    client: httpx.Client,
    warehouse: Warehouse,
    raw: RawStore,
    on_batch: Callable[[BatchResult], None] | None = None,
) -> DayResult:
    """A day's index entries end to end: load what is new, then record the day."""
    log.info("%s: %d filings listed", day, len(entries))
    held, batch = load_new(
        entries,
        settings=settings,
        client=client,
        warehouse=warehouse,
        raw=raw,
        on_batch=on_batch,
    )
    status = "done" if batch.failed == 0 else "pending"
    warehouse.mark_day(day, settings.forms, status, index_entries=len(entries))
    return DayResult(day, status, len(entries), held, batch)


def retry_failed(
    *, settings: Settings, client: httpx.Client, warehouse: Warehouse, raw: RawStore
) -> BatchResult:
    """Fetch again the accessions earlier runs could not fetch."""
    failed = warehouse.failed_fetches(settings.forms)
    entries = [
        IndexEntry(f.form_type, "", f.cik, f.day, f.filename, f.accession_number) for f in failed
    ]
    return process_entries(entries, settings=settings, client=client, warehouse=warehouse, raw=raw)
