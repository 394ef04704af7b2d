"""The Prefect flow ``intraday``: one poll of EDGAR's latest-filings feed and the load of what
is new (a thin wrapper over ``flows.pipeline.watch.watch_cycle``).

``prefect.yaml`` deploys ``flows/watch_flow.py:intraday`` as ``intraday``, every 2 minutes
06:00-22:30 America/New_York, Monday to Friday, with a concurrency limit of 1; each run is one
cycle, and the feed state (the accessions already seen) is in the warehouse's
``feed_entries``, not in the process. ``nightly`` (``flows.ingest_flow.ingest``) stays the
reconciler: it reads the day's index, loads what the feed missed, and matches each watched
filing to the index day that lists it. Neighbours: ``flows.ingest_flow``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from prefect import State, flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.states import Failed

from form4.flows.config import Settings, parse_forms
from form4.flows.edgar.client import build_client
from form4.flows.pipeline.watch import CycleResult, watch_cycle
from form4.parsers.errors import Form4Error

__all__ = ["intraday"]


@task(name="poll-feed", cache_policy=NONE)
def poll_feed_task(settings: Settings) -> CycleResult:
    with build_client(settings) as client:
        return watch_cycle(settings=settings, client=client)


@flow(name="form4-intraday", log_prints=False)
def intraday(
    forms: Sequence[str] | None = None,
    db: str | None = None,
    edgar_url: str | None = None,
    user_agent: str | None = None,
) -> CycleResult | State:
    """Poll EDGAR's latest-filings feed once and load every filing not loaded yet."""
    logger = get_run_logger()
    try:
        settings = Settings.from_env(
            os.environ,
            user_agent=user_agent,
            db_path=db,
            edgar_url=edgar_url,
            forms=parse_forms(list(forms)) if forms else None,
        )
        result = poll_feed_task(settings)
    except Form4Error as exc:
        logger.error("%s", exc)
        return Failed(message=str(exc))
    b = result.batch
    logger.info(
        "feed: %d requests, %d new, %d to load: %d loaded, %d rejected, %d failed",
        result.requests,
        result.new,
        result.pending,
        b.loaded,
        b.rejected,
        b.failed,
    )
    return result
