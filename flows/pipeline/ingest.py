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
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from itertools import chain
from zoneinfo import ZoneInfo

import httpx

from form4.flows.config import Settings
from form4.flows.edgar.endpoints import daily_index_path, fetch_daily_index, fetch_submission
from form4.flows.pipeline import quarantine
from form4.flows.pipeline.progress import ProgressSink
from form4.parsers.errors import BlockedError, FetchError, ParseError
from form4.parsers.index import ownership_entries, read_index
from form4.parsers.ownership import parse_ownership
from form4.parsers.records import DataIssue, IndexEntry, IndexProblem, ParsedFiling
from form4.parsers.sgml import parse_submission
from form4.warehouse.batch import PreparedBatch, flagged_counts, merge_batches, prepare_batch
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
    "record_index_problems",
    "retry_failed",
    "unexpected",
]

log = logging.getLogger("form4.ingest")
EASTERN = ZoneInfo("America/New_York")


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
    up to today (the nightly runs after today's index is out, around 22:15 ET; if it is not
    there yet, today is recorded ``pending`` and run again next time). A new warehouse starts
    with the last business day before today, and today."""
    yesterday = today - timedelta(days=1)
    last = warehouse.last_done_day(forms)
    if last is None:
        candidates = business_days(yesterday - timedelta(days=6), yesterday)[-1:]
        candidates += business_days(today, today)
    else:
        candidates = business_days(last + timedelta(days=1), today)
    pending = [d for d in warehouse.pending_days(forms) if d <= today]
    return sorted(set(pending) | set(candidates))


@dataclass(slots=True)
class BatchResult:
    """Counts of one or more batches; ``add`` merges another result into this one."""

    fetched: int = 0
    loaded: int = 0
    rejected: int = 0
    failed: int = 0
    unknown_schema: int = 0  # loaded, but of a schema version form4 does not know yet
    price_range_unusable: int = 0  # loaded rows whose footnoted price range was not published
    reject_reasons: list[str] = field(default_factory=list)

    def add(self, other: BatchResult) -> None:
        self.unknown_schema += other.unknown_schema
        self.price_range_unusable += other.price_range_unusable
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
    index_problems: int = 0  # lines of the index skipped as unreadable (table index_problems)


def parse_raw(
    data: bytes,
    settings: Settings,
    accession_number: str | None = None,
    form_type: str | None = None,
) -> ParsedFiling:
    """Submission bytes -> a checked ``ParsedFiling``, or ``ParseError``. ``accession_number``
    and ``form_type`` are the index's, when known: a submission that contradicts them is
    rejected. So is one without a filing date."""
    submission = parse_submission(data, max_bytes=settings.max_submission_bytes)
    header = submission.header
    if accession_number is not None and header.accession_number != accession_number:
        raise ParseError(
            f"the submission says accession {header.accession_number}, "
            f"the index says {accession_number}",
            stage="sgml",
        )
    if form_type is not None and header.form_type != form_type.strip().upper():
        raise ParseError(
            f"the submission says form {header.form_type}, the index says {form_type}",
            stage="validate",
        )
    if header.filing_date is None:
        raise ParseError("no filing date (FILED AS OF DATE) in the header", stage="sgml")
    document = parse_ownership(submission.xml, max_bytes=settings.max_xml_bytes)
    if document.document_type != header.form_type:
        issue = DataIssue(
            "filings",
            None,
            None,
            "document_type",
            document.document_type,
            f"documentType differs from the submission type {header.form_type}: kept as filed",
        )
        document = replace(document, issues=(*document.issues, issue))
    filing = ParsedFiling(header, document)
    check_filing(filing)
    return filing


@dataclass(frozen=True, slots=True)
class _Fetched:
    entry: IndexEntry
    data: bytes | None = None
    raw_document: RawDocument | None = None
    failure: FailedFetch | None = None


@dataclass(frozen=True, slots=True)
class _Outcome:
    fetched: _Fetched
    filing: ParsedFiling | None = None
    reject: Reject | None = None


def _fetch(entry: IndexEntry, *, client: httpx.Client, pack: RawPack, max_bytes: int) -> _Fetched:
    acc = entry.accession_number
    day = entry.date_filed
    try:
        data = fetch_submission(client, entry, max_bytes=max_bytes)
    except BlockedError:
        raise
    except FetchError as exc:
        failure = FailedFetch(acc, day, entry.cik, entry.filename, entry.form_type, str(exc))
        return _Fetched(entry, failure=failure)
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
        entry.form_type or None,
    )
    return _Fetched(entry, data, raw_document)


def _reject(accession: str, exc: ParseError, data: bytes) -> Reject:
    return Reject(accession, exc.stage, str(exc).splitlines()[0][:1000], data, utcnow())


def _parse(fetched: _Fetched, settings: Settings) -> _Outcome:
    entry, data = fetched.entry, fetched.data
    assert data is not None
    acc = entry.accession_number
    if quarantine.fault_point is not None:
        quarantine.fault_point(acc, data)
    try:  # the index's form type (a retried failure has its own; a CIK backfill's is JSON's)
        filing = parse_raw(data, settings, acc, entry.form_type or None)
    except ParseError as exc:
        return _Outcome(fetched, reject=_reject(acc, exc, data))
    except Exception as exc:  # a parser bug met by one filing is that filing's reject
        log.warning("%s: unexpected error while parsing", acc, exc_info=True)
        return _Outcome(fetched, reject=_reject(acc, unexpected(exc), data))
    return _Outcome(fetched, filing=filing)


def unexpected(exc: Exception) -> ParseError:
    """An error no parser rule raised on purpose, as the reject it makes (stage ownership)."""
    return ParseError(f"unexpected {type(exc).__name__} while parsing: {exc}", stage="ownership")


def open_warehouse(settings: Settings) -> Warehouse:
    """The warehouse of a form4 writer, with DuckDB's memory capped by the settings: it holds
    the single-writer lock for the run but the DuckDB file only while it writes or looks up
    state, so other processes can read between batches."""
    return Warehouse(
        settings.db_path,
        memory_mb=settings.duckdb_memory_mb,
        storage_version=settings.duckdb_storage,
        hold=False,
        lock_wait_s=settings.wait_s(writer=True),
    )


# A batch also ends once its submissions hold this many bytes, so memory does not grow with
# FORM4_BATCH_SIZE when a day holds large submissions (each may reach FORM4_MAX_SUBMISSION_BYTES).
BATCH_BYTES = 64 << 20


def _fetched_batches(
    entries: Sequence[IndexEntry],
    size: int,
    pool: ThreadPoolExecutor,
    fetch: Callable[[IndexEntry], _Fetched],
    window: int,
) -> Iterator[list[_Fetched]]:
    """The entries fetched, in order, in batches of ``size`` or ``BATCH_BYTES``, whichever
    comes first. At most ``window`` fetches run ahead of the batch being handed out, so they
    go on while the caller parses and loads it."""
    todo = iter(entries)
    ahead: deque[Future[_Fetched]] = deque()
    batch: list[_Fetched] = []
    held = 0

    def fill() -> None:
        while len(ahead) < window and (entry := next(todo, None)) is not None:
            ahead.append(pool.submit(fetch, entry))

    try:
        fill()
        while ahead:
            fetched = ahead.popleft().result()
            batch.append(fetched)
            held += len(fetched.data) if fetched.data is not None else 0
            fill()
            if len(batch) >= size or held >= BATCH_BYTES:
                yield batch
                batch, held = [], 0
        if batch:
            yield batch
    finally:
        for future in ahead:  # a block or an error: nothing more is fetched
            future.cancel()


# A filing left in flight by this many runs (the last one parsing it alone) is rejected
# without being parsed again.
MAX_ATTEMPTS = 2


def _prepare(outcomes: Sequence[_Outcome], raw_docs: Sequence[RawDocument]) -> _Prepared:
    """The batch's Arrow tables. Should the conversion of the whole batch fail, each filing
    is converted alone and the ones that fail are rejected (stage ``load``): one filing's
    value must not cost the batch."""
    filings = [o.filing for o in outcomes if o.filing is not None]
    rejects = [o.reject for o in outcomes if o.reject is not None]
    try:
        batch = prepare_batch(filings, rejects=rejects, raw_documents=raw_docs)
        return _Prepared(batch, filings, rejects)
    except Exception:
        log.warning("a batch could not be converted as a whole: converting its filings alone")
    kept: list[ParsedFiling] = []
    for outcome in outcomes:
        if outcome.filing is None:
            continue
        try:
            prepare_batch([outcome.filing])
        except Exception as exc:
            assert outcome.fetched.data is not None
            why = ParseError(f"could not be converted: {type(exc).__name__}: {exc}", stage="load")
            rejects.append(
                _reject(outcome.filing.header.accession_number, why, outcome.fetched.data)
            )
        else:
            kept.append(outcome.filing)
    return _Prepared(prepare_batch(kept, rejects=rejects, raw_documents=raw_docs), kept, rejects)


@dataclass(frozen=True, slots=True)
class _Prepared:
    batch: PreparedBatch
    filings: list[ParsedFiling]
    rejects: list[Reject]


def _parse_suspects(
    fetched: Sequence[_Fetched], attempts: dict[str, int], settings: Settings
) -> tuple[list[PreparedBatch], list[str], int]:
    """Filings a dead run left in flight: rejected unparsed after ``MAX_ATTEMPTS`` runs,
    else parsed one at a time in a child process (``flows.pipeline.quarantine``). Returns
    their Arrow tables, the reject reasons and how many loaded."""
    batches: list[PreparedBatch] = []
    reasons: list[str] = []
    alone: list[quarantine.Suspect] = []
    for f in fetched:
        acc = f.entry.accession_number
        assert f.data is not None
        if attempts.get(acc, 0) >= MAX_ATTEMPTS:
            why = (
                f"{attempts[acc]} runs died while this filing was being parsed or loaded; "
                "it is not parsed again"
            )
            batches.append(prepare_batch([], rejects=[quarantine.crash_reject(acc, f.data, why)]))
            reasons.append(f"{acc}: crash: {why}")
        else:
            alone.append(quarantine.Suspect(acc, f.entry.form_type, f.data))
    loaded = 0
    for suspect, parsed in zip(alone, quarantine.parse_alone(alone, settings), strict=True):
        batches.append(parsed.batch)
        if parsed.reject_reason is None:
            loaded += 1
        else:
            reasons.append(f"{suspect.accession_number}: {parsed.reject_reason}")
    return batches, reasons, loaded


@contextmanager
def _cancelled_on_interrupt(pool: ThreadPoolExecutor) -> Iterator[None]:
    """On Ctrl-C (or any error) the batch's queued fetches are dropped, not run: the pool's own
    exit would otherwise fetch the rest of the batch first (25 s for 250 at 10 requests/s).
    The batch being fetched is not committed; committed batches stay whole."""
    try:
        yield
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise


def process_entries(
    entries: Sequence[IndexEntry],
    *,
    settings: Settings,
    client: httpx.Client,
    warehouse: Warehouse,
    raw: RawStore,
    on_batch: Callable[[BatchResult], None] | None = None,
    progress: ProgressSink | None = None,
) -> BatchResult:
    """Fetch, keep, parse and load ``entries`` in batches of ``settings.batch_size``. The raw
    copies go into one pack, synced before each batch's rows are committed. ``progress``
    learns the number of entries first, then each one as its fetch ends.

    Each batch's accessions are recorded in ``in_flight`` before they are parsed, and the
    batch's load removes them. Entries a dead run left there are parsed last, one at a time
    in a child process, so a filing that kills the process is rejected (stage ``crash``)
    instead of killing this run too (``flows.pipeline.quarantine``)."""
    total = BatchResult()
    if not entries:
        return total
    if progress is not None:
        progress.add_total(len(entries))
    attempts = warehouse.in_flight(e.accession_number for e in entries)
    ordinary = [e for e in entries if e.accession_number not in attempts]
    suspects = [e for e in entries if e.accession_number in attempts]
    if suspects:
        log.warning(
            "%d filings were being parsed or loaded when an earlier run died: each is parsed "
            "alone in a child process",
            len(suspects),
        )
    with (
        closing(raw.pack()) as pack,
        ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="form4") as pool,
        _cancelled_on_interrupt(pool),
    ):

        def fetch(entry: IndexEntry) -> _Fetched:
            fetched = _fetch(
                entry, client=client, pack=pack, max_bytes=settings.max_submission_bytes
            )
            if progress is not None:
                progress.advance(1)
            return fetched

        size, window = settings.batch_size, settings.concurrency
        batches = chain(
            ((b, False) for b in _fetched_batches(ordinary, size, pool, fetch, window)),
            ((b, True) for b in _fetched_batches(suspects, size, pool, fetch, window)),
        )
        for fetched, suspect in batches:
            got = [f for f in fetched if f.raw_document is not None]
            raw_docs = [f.raw_document for f in got if f.raw_document is not None]
            failures = [f.failure for f in fetched if f.failure is not None]
            pack.sync()  # the rows below point into the pack: its bytes go to disk first
            # An ordinary batch's in-flight mark, parse and load share one open of the file
            # (its parse takes tens of milliseconds, and readers wait no longer than that); the
            # mark is committed before the parse all the same. Suspects are parsed in child
            # processes, which may take long: the file is not held for them.
            with ExitStack() as held:
                if not suspect:
                    held.enter_context(warehouse.connection())
                warehouse.mark_in_flight(
                    [(f.entry.accession_number, f.entry.date_filed) for f in got]
                )
                prepared, result = _parse_batch(got, raw_docs, suspect, attempts, settings)
                with warehouse.connection():  # the file is held only for these writes
                    warehouse.load_prepared(prepared)
                    warehouse.record_failures(failures)
            result.fetched = len(raw_docs)
            result.rejected = len(result.reject_reasons)
            result.failed = len(failures)
            for reason in result.reject_reasons:
                log.warning("rejected %s", reason)
            if on_batch is not None:
                on_batch(result)
            total.add(result)
    return total


def _parse_batch(
    got: Sequence[_Fetched],
    raw_docs: Sequence[RawDocument],
    suspect: bool,
    attempts: dict[str, int],
    settings: Settings,
) -> tuple[PreparedBatch, BatchResult]:
    """A fetched batch parsed into its prepared tables, with its counts: ordinary batches in
    this process, suspects (left in flight by a dead run) each in a child process."""
    result = BatchResult()
    if suspect:
        parts, reasons, loaded = _parse_suspects(got, attempts, settings)
        parts.append(prepare_batch([], raw_documents=raw_docs))
        result.loaded = loaded
        result.reject_reasons = reasons
        return merge_batches(parts), result
    outcomes = [_parse(f, settings) for f in got]  # while the next fetches run
    made = _prepare(outcomes, raw_docs)
    result.loaded = len(made.filings)
    result.price_range_unusable, result.unknown_schema = flagged_counts(made.batch)
    result.reject_reasons = [f"{r.accession_number}: {r.stage}: {r.reason}" for r in made.rejects]
    return made.batch, result


def ingest_day(
    day: date,
    *,
    settings: Settings,
    client: httpx.Client,
    warehouse: Warehouse,
    raw: RawStore,
    today: date,
    on_batch: Callable[[BatchResult], None] | None = None,
    progress: ProgressSink | None = None,
) -> DayResult:
    """One EDGAR day end to end; safe to re-run (already-held filings are not fetched again)."""
    if progress is not None:
        progress.describe(f"{day}")
    data = fetch_daily_index(client, day, max_bytes=settings.max_index_bytes)
    if data is None:
        status = "pending" if day >= today else "no_index"
        warehouse.mark_day(day, settings.forms, status)
        # a past day without an index is one of a quiet stretch (flows.pipeline.progress)
        log.log(
            logging.INFO if status == "pending" else logging.DEBUG, "%s: no index (%s)", day, status
        )
        return DayResult(day, status)
    try:
        rows, problems = read_index(data)
    except ParseError as exc:
        raise FetchError(f"{day}: the daily index could not be read: {exc}") from exc
    record_index_problems(warehouse, daily_index_path(day), problems)
    result = ingest_entries(
        day,
        ownership_entries(rows, settings.forms),
        settings=settings,
        client=client,
        warehouse=warehouse,
        raw=raw,
        on_batch=on_batch,
        progress=progress,
    )
    result.index_problems = len(problems)
    return result


def record_index_problems(
    warehouse: Warehouse, index_path: str, problems: Sequence[IndexProblem]
) -> None:
    """Keep an index file's unreadable lines in ``index_problems`` (skipped, the rest of the
    file loads) and log them."""
    path = index_path.lstrip("/").removeprefix("Archives/edgar/")
    warehouse.record_index_problems(path, problems)
    for problem in problems:
        log.warning("%s line %d skipped: %s", path, problem.line_no, problem.problem)


def load_new(
    entries: Sequence[IndexEntry],
    *,
    settings: Settings,
    client: httpx.Client,
    warehouse: Warehouse,
    raw: RawStore,
    on_batch: Callable[[BatchResult], None] | None = None,
    progress: ProgressSink | None = None,
) -> tuple[int, BatchResult]:
    """Fetch and load the entries not loaded yet (rejects are fetched again, since a damaged
    copy may have been served); returns how many were already loaded, and the result."""
    with warehouse.connection():  # the look-ups share one open of the file
        known = warehouse.known_accessions(e.accession_number for e in entries)
        rejected = warehouse.rejected_accessions(known)
    todo = [e for e in entries if e.accession_number not in known or e.accession_number in rejected]
    batch = process_entries(
        todo,
        settings=settings,
        client=client,
        warehouse=warehouse,
        raw=raw,
        on_batch=on_batch,
        progress=progress,
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
    progress: ProgressSink | None = None,
) -> DayResult:
    """A day's index entries end to end: load what is new, then record the day."""
    log.log(logging.INFO if entries else logging.DEBUG, "%s: %d filings listed", day, len(entries))
    held, batch = load_new(
        entries,
        settings=settings,
        client=client,
        warehouse=warehouse,
        raw=raw,
        on_batch=on_batch,
        progress=progress,
    )
    status = "done" if batch.failed == 0 else "pending"
    with warehouse.connection():  # both records in one open of the file
        warehouse.match_index_day(day, entries)  # feed filings loaded earlier take this day
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
