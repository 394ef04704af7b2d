"""Intraday loading from EDGAR's latest-filings feed: one poll-and-load cycle, and the loop.

``watch_cycle`` polls the Atom feed of each form family of ``settings.forms`` (one request
per family when nothing is new; ``flows.edgar.feed``), records the entries it had not seen in
``feed_entries`` (the feed state lives in the warehouse, so a crash or a new process picks up
where the last left off), and loads every recorded filing not loaded yet through the same
``process_entries`` as the nightly run (same client, same rate limit, same batches). Filings
that fail to fetch go to ``failed_accessions`` for the nightly run to retry; the nightly run
then matches each watched filing to the daily index that lists it
(``Warehouse.match_index_day``). The warehouse is opened for each cycle only, so another
writer (the nightly run) can take its turn between cycles. ``watch`` repeats cycles every
``every`` seconds on business days between 06:00 and 22:30 New York time (EDGAR accepts
filings 06:00-22:00 ET), or always. Neighbours: ``flows.pipeline.ingest``, the Prefect flow
``flows.watch_flow`` (one cycle per run), ``form4 watch`` in ``flows.cli.main``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as clock_time

import httpx

from form4.flows.config import Settings
from form4.flows.edgar.feed import feed_families, poll_family
from form4.flows.pipeline.ingest import EASTERN, BatchResult, open_warehouse, process_entries
from form4.parsers.errors import FetchError, LoadError
from form4.warehouse.db import utcnow
from form4.warehouse.raw import RawStore

__all__ = [
    "MIN_EVERY_S",
    "WATCH_CLOSE",
    "WATCH_OPEN",
    "CycleResult",
    "in_watch_hours",
    "watch",
    "watch_cycle",
]

log = logging.getLogger("form4.watch")

MIN_EVERY_S = 10.0
WATCH_OPEN = clock_time(6, 0)
WATCH_CLOSE = clock_time(22, 30)


def in_watch_hours(now: datetime | None = None) -> bool:
    """A business day (Monday-Friday) between 06:00 and 22:30 in New York."""
    local = (now or datetime.now(EASTERN)).astimezone(EASTERN)
    return local.weekday() < 5 and WATCH_OPEN <= local.time() <= WATCH_CLOSE


@dataclass(slots=True)
class CycleResult:
    requests: int = 0  # feed pages read
    new: int = 0  # accessions seen for the first time (all form types of the families)
    pending: int = 0  # filings of settings.forms to load (new ones and any left before)
    batch: BatchResult = field(default_factory=BatchResult)


def watch_cycle(
    *,
    settings: Settings,
    client: httpx.Client,
    on_batch: Callable[[BatchResult], None] | None = None,
) -> CycleResult:
    """Poll the feed once and load what is new; safe to run again at any time."""
    result = CycleResult()
    with open_warehouse(settings) as warehouse:
        for family in feed_families(settings.forms):
            entries, pages = poll_family(client, family, warehouse.feed_seen)
            result.requests += pages
            result.new += warehouse.record_feed(entries, utcnow())
        todo = warehouse.feed_pending(settings.forms)
        result.pending = len(todo)

        def loaded(batch: BatchResult) -> None:
            done = warehouse.known_accessions(e.accession_number for e in todo)
            warehouse.mark_feed_loaded(done, utcnow())
            if on_batch is not None:
                on_batch(batch)

        if todo:
            result.batch = process_entries(
                todo,
                settings=settings,
                client=client,
                warehouse=warehouse,
                raw=RawStore(settings.raw_root),
                on_batch=loaded,
            )
    log.info(
        "feed: %d requests, %d new, %d loaded, %d rejected, %d failed",
        result.requests,
        result.new,
        result.batch.loaded,
        result.batch.rejected,
        result.batch.failed,
    )
    return result


def watch(
    settings: Settings,
    client: httpx.Client,
    *,
    every: float,
    always: bool = False,
    stop: threading.Event | None = None,
    on_cycle: Callable[[CycleResult], None] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(EASTERN),
    monotonic: Callable[[], float] = time.monotonic,
) -> int:
    """Cycles every ``every`` seconds (at least ``MIN_EVERY_S``) until ``stop`` is set or
    Ctrl-C; outside watch hours (unless ``always``) it only waits. A cycle that fails to read
    EDGAR or to get the warehouse is logged and tried again at the next poll. Returns the
    cycles run."""
    every = max(every, MIN_EVERY_S)
    stop = stop or threading.Event()
    cycles = 0
    idle_logged = False
    while not stop.is_set():
        started = monotonic()
        if always or in_watch_hours(now()):
            idle_logged = False
            try:
                result = watch_cycle(settings=settings, client=client)
            except (FetchError, LoadError) as exc:
                # EDGAR unreachable after retries, or the warehouse busy past the wait: the
                # next poll tries again (what was seen but not loaded is in feed_entries)
                log.warning("feed poll failed, trying again in %g s: %s", every, exc)
            else:
                cycles += 1
                if on_cycle is not None:
                    on_cycle(result)
        elif not idle_logged:
            log.info("outside 06:00-22:30 New York time on a business day: waiting")
            idle_logged = True
        stop.wait(max(0.0, every - (monotonic() - started)))
    return cycles
