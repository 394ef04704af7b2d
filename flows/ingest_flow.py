"""The Prefect flow ``ingest``: thin wrappers over ``flows.pipeline.ingest``, one task per day.

``prefect.yaml`` deploys ``flows/ingest_flow.py:ingest`` as ``nightly``; ``form4 ingest`` runs
the same flow in-process (ephemeral Prefect, or the server ``PREFECT_API_URL`` names). Tasks
work on whole days (never one task per filing). Expected failures (EDGAR unreachable or
blocking us, the warehouse locked) end the run in a ``Failed`` state with a one-line message
and leave the day to the next run; nothing half-done is recorded as done.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
from prefect import State, flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.settings import temporary_settings
from prefect.states import Failed

from form4.flows.config import Settings, parse_forms
from form4.flows.edgar.client import build_client
from form4.flows.pipeline.backfill import backfill_cik, backfill_range, plan_range
from form4.flows.pipeline.datasets import (
    DatasetSummary,
    QuarterOutcome,
    backfill_datasets,
    import_dataset_quarter,
)
from form4.flows.pipeline.ingest import (
    BatchResult,
    DayResult,
    business_days,
    days_to_ingest,
    eastern_today,
    ingest_day,
    open_warehouse,
    retry_failed,
)
from form4.flows.pipeline.progress import Progress, ProgressSink, QuietDays, quiet_days
from form4.flows.runlog import to_run_logger
from form4.parsers.dataset_index import Quarter, parse_quarters
from form4.parsers.errors import ConfigError, Form4Error
from form4.warehouse.db import Warehouse
from form4.warehouse.raw import RawStore

__all__ = [
    "BackfillSummary",
    "IngestSummary",
    "backfill",
    "ingest",
    "run_flow",
    "run_ingest",
    "run_ingest_flow",
]


@dataclass(slots=True)
class IngestSummary:
    days: list[DayResult] = field(default_factory=list)
    retried: BatchResult = field(default_factory=BatchResult)
    error: str | None = None

    @property
    def totals(self) -> BatchResult:
        total = BatchResult()
        total.add(self.retried)
        for day in self.days:
            total.add(day.batch)
        return total


DayRunner = Callable[..., DayResult | State]


def run_ingest(
    settings: Settings,
    start: date | None = None,
    end: date | None = None,
    *,
    today: date | None = None,
    run_day: DayRunner = ingest_day,
    run_retry: Callable[..., BatchResult] = retry_failed,
    client: httpx.Client | None = None,
    progress: ProgressSink | None = None,
) -> IngestSummary:
    """Ingest ``start``..``end`` (business days), or catch up when ``start`` is None.

    Stops at the first day that fails with a form4 error and reports it in ``error``. Days
    without filings are logged as one line per stretch of them; ``progress`` counts filings
    as they are fetched, during each day.
    """
    today = today or eastern_today()
    summary = IngestSummary()
    own_client = client is None
    http = client or build_client(settings)
    try:
        with open_warehouse(settings) as warehouse:
            raw = RawStore(settings.raw_root)
            if start is None:
                days = days_to_ingest(warehouse, settings.forms, today)
            else:
                days = business_days(start, end or start)
            summary.retried = run_retry(
                settings=settings, client=http, warehouse=warehouse, raw=raw
            )
            with quiet_days() as quiet:
                for day in days:
                    extra = {"progress": progress} if progress is not None else {}
                    result = run_day(
                        day,
                        settings=settings,
                        client=http,
                        warehouse=warehouse,
                        raw=raw,
                        today=today,
                        **extra,
                    )
                    if isinstance(result, State):  # a Prefect task that ended Failed
                        summary.error = result.message or f"{day}: failed"
                        break
                    quiet.day(day, result.index_entries if result.status != "pending" else 1)
                    summary.days.append(result)
    finally:
        if own_client:
            http.close()
    return summary


@task(name="ingest-day", cache_policy=NONE, task_run_name="ingest-{day}")
def ingest_day_task(
    day: date,
    *,
    settings: Settings,
    client: httpx.Client,
    warehouse: Warehouse,
    raw: RawStore,
    today: date,
    progress: ProgressSink | None = None,
) -> DayResult | State:
    logger = get_run_logger()
    try:
        result = ingest_day(
            day,
            settings=settings,
            client=client,
            warehouse=warehouse,
            raw=raw,
            today=today,
            progress=progress,
        )
    except Form4Error as exc:
        logger.error("%s: %s", day, exc)
        return Failed(message=f"{day}: {exc}")
    if result.index_entries == 0 and result.status != "pending":
        return result  # part of a quiet stretch, summarised by the flow
    b = result.batch
    logger.info(
        "%s: %s; %d listed, %d already held, %d fetched, %d loaded, %d rejected, %d failed",
        day,
        result.status,
        result.index_entries,
        result.already_loaded,
        b.fetched,
        b.loaded,
        b.rejected,
        b.failed,
    )
    return result


@task(name="retry-failed", cache_policy=NONE)
def retry_failed_task(
    *, settings: Settings, client: httpx.Client, warehouse: Warehouse, raw: RawStore
) -> BatchResult:
    return retry_failed(settings=settings, client=client, warehouse=warehouse, raw=raw)


@task(name="publish", cache_policy=NONE)
def publish_task(settings: Settings, days: list[date]) -> None:
    """After a successful load: the Parquet export (when configured) and the highlights."""
    from prefect.artifacts import create_markdown_artifact

    from form4.flows.pipeline.highlights import highlights_markdown
    from form4.warehouse.parquet import export_parquet

    logger = get_run_logger()
    with open_warehouse(settings) as warehouse, warehouse.connection() as con:
        if settings.parquet_dir is not None:
            result = export_parquet(
                con,
                settings.parquet_dir,
                s3_endpoint_url=settings.s3_endpoint_url,
                s3_region=settings.s3_region,
            )
            logger.info(
                "Parquet export to %s: %d partitions written, %d unchanged",
                result.target,
                len(result.written),
                result.unchanged,
            )
        for day in days:
            create_markdown_artifact(
                markdown=highlights_markdown(con, day),
                key=f"form4-highlights-{day:%Y-%m-%d}",
                description=f"form4: insider activity filed on {day}",
            )


@flow(name="form4-ingest", log_prints=False)
def ingest(
    start: date | None = None,
    end: date | None = None,
    forms: Sequence[str] | None = None,
    db: str | None = None,
    edgar_url: str | None = None,
    user_agent: str | None = None,
) -> IngestSummary | State:
    """Ingest EDGAR ownership filings into DuckDB: ``start``..``end``, or catch up to today.

    Settings not given here come from the environment (``SEC_USER_AGENT``, ``FORM4_DB``,
    ``FORM4_EDGAR_URL``, ``FORM4_MAX_RPS``, ...), read once now.
    """
    try:
        settings = Settings.from_env(
            os.environ,
            user_agent=user_agent,
            db_path=db,
            edgar_url=edgar_url,
            forms=parse_forms(list(forms)) if forms else None,
        )
        if start is not None and end is not None and end < start:
            raise ConfigError(f"--to {end} is before --date {start}")
        with to_run_logger(), Progress("ingest", sys.stderr) as progress:
            summary = run_ingest(
                settings,
                start,
                end,
                run_day=ingest_day_task,
                run_retry=retry_failed_task,
                progress=progress,
            )
    except Form4Error as exc:
        get_run_logger().error("%s", exc)
        return Failed(message=str(exc))
    if summary.error is not None:
        return Failed(message=summary.error)
    loaded_days = [d.day for d in summary.days if d.index_entries]
    try:
        with to_run_logger():
            publish_task(settings, loaded_days)
    except Form4Error as exc:
        return Failed(message=f"loaded, but the export or highlights failed: {exc}")
    return summary


def run_flow(flow_fn: Any, env: Mapping[str, str], **parameters: Any) -> State:
    """Run a flow in-process (ephemeral Prefect unless ``PREFECT_API_URL`` is set) and return
    its final state. The ephemeral server's anonymous usage report is switched off unless
    ``PREFECT_SERVER_ANALYTICS_ENABLED`` says otherwise: it would only fail, noisily, on
    machines that may reach nothing but EDGAR."""
    updates: dict[str, Any] = {}
    if "PREFECT_SERVER_ANALYTICS_ENABLED" not in env:
        updates["server.analytics_enabled"] = False
    with temporary_settings(updates=updates):
        state: State = flow_fn(**parameters, return_state=True)
    return state


def run_ingest_flow(env: Mapping[str, str], **parameters: Any) -> State:
    return run_flow(ingest, env, **parameters)


@dataclass(slots=True)
class BackfillSummary:
    days: list[DayResult] = field(default_factory=list)
    cik_listed: int = 0
    cik: BatchResult = field(default_factory=BatchResult)
    datasets: DatasetSummary | None = None

    @property
    def totals(self) -> BatchResult:
        total = BatchResult()
        total.add(self.cik)
        for day in self.days:
            total.add(day.batch)
        return total


@task(name="backfill-quarter", cache_policy=NONE, task_run_name="backfill-{start}-{end}")
def backfill_range_task(
    start: date,
    end: date,
    *,
    settings: Settings,
    client: httpx.Client,
    warehouse: Warehouse,
    raw: RawStore,
    today: date,
    progress: Progress,
    quiet: QuietDays | None = None,
) -> list[DayResult] | State:
    try:
        results = backfill_range(
            start,
            end,
            settings=settings,
            client=client,
            warehouse=warehouse,
            raw=raw,
            today=today,
            progress=progress,
            quiet=quiet,
        )
    except Form4Error as exc:
        get_run_logger().error("%s..%s: %s", start, end, exc)
        return Failed(message=f"{start}..{end}: {exc}")
    return results


@task(name="backfill-cik", cache_policy=NONE, task_run_name="backfill-cik-{cik}")
def backfill_cik_task(
    cik: str,
    *,
    settings: Settings,
    client: httpx.Client,
    warehouse: Warehouse,
    raw: RawStore,
    progress: Progress,
) -> tuple[int, BatchResult] | State:
    try:
        return backfill_cik(
            cik,
            settings=settings,
            client=client,
            warehouse=warehouse,
            raw=raw,
            progress=progress,
        )
    except Form4Error as exc:
        get_run_logger().error("CIK %s: %s", cik, exc)
        return Failed(message=f"CIK {cik}: {exc}")


@task(name="import-dataset", cache_policy=NONE, task_run_name="import-dataset-{quarter}")
def import_dataset_task(
    quarter: Quarter,
    url: str,
    *,
    settings: Settings,
    client: httpx.Client,
    warehouse: Warehouse,
) -> QuarterOutcome:
    """One quarter of the Insider Transactions Data Sets: one request, one transaction."""
    logger = get_run_logger()
    outcome = import_dataset_quarter(
        quarter, url, settings=settings, client=client, warehouse=warehouse
    )
    if outcome.result is not None:
        r = outcome.result
        logger.info(
            "%s: %s; %d submissions, %d loaded, %d held from XML, %d rejected, %d rows",
            quarter,
            outcome.status,
            r.submissions,
            r.loaded,
            r.held_from_xml,
            r.rejected,
            r.row_count,
        )
        for problem in r.problems:
            logger.warning("%s: %s", quarter, problem)
        for reason in r.reject_reasons[:20]:
            logger.warning("%s: rejected %s", quarter, reason)
    else:
        logger.error("%s: %s: %s", quarter, outcome.status, outcome.message)
    return outcome


@flow(name="form4-backfill", log_prints=False)
def backfill(
    start: date | None = None,
    end: date | None = None,
    cik: str | None = None,
    forms: Sequence[str] | None = None,
    db: str | None = None,
    edgar_url: str | None = None,
    data_url: str | None = None,
    user_agent: str | None = None,
    datasets: str | None = None,
) -> BackfillSummary | State:
    """Backfill a range of days (one task per quarter) and/or every filing of one CIK, and/or
    quarters of the SEC's Insider Transactions Data Sets (``datasets``: ``2006q1..2026q3``,
    ``latest`` or ``new``; one task per quarter)."""
    try:
        settings = Settings.from_env(
            os.environ,
            user_agent=user_agent,
            db_path=db,
            edgar_url=edgar_url,
            data_url=data_url,
            forms=parse_forms(list(forms)) if forms else None,
        )
        if start is None and cik is None and datasets is None:
            raise ConfigError("backfill needs --from/--to, --cik or --datasets")
        spec = parse_quarters(datasets) if datasets is not None else None
        summary = BackfillSummary()
        today = eastern_today()
        with (
            to_run_logger(),
            Progress("backfill", sys.stderr) as progress,
            quiet_days() as quiet,
            build_client(settings) as client,
            open_warehouse(settings) as warehouse,
        ):
            raw = RawStore(settings.raw_root)
            if spec is not None:
                summary.datasets = backfill_datasets(
                    spec,
                    settings=settings,
                    client=client,
                    warehouse=warehouse,
                    run_quarter=import_dataset_task,
                )
            if start is not None:
                last = end or start
                chunks = [(days[0], days[-1]) for _, days in plan_range(start, last, today)]
                for first, final in chunks:
                    result = backfill_range_task(
                        first,
                        final,
                        settings=settings,
                        client=client,
                        warehouse=warehouse,
                        raw=raw,
                        today=today,
                        progress=progress,
                        quiet=quiet,
                    )
                    if isinstance(result, State):
                        return Failed(message=result.message or "backfill failed")
                    summary.days.extend(result)
            if cik is not None:
                outcome = backfill_cik_task(
                    cik,
                    settings=settings,
                    client=client,
                    warehouse=warehouse,
                    raw=raw,
                    progress=progress,
                )
                if isinstance(outcome, State):
                    return Failed(message=outcome.message or "backfill failed")
                summary.cik_listed, summary.cik = outcome
    except Form4Error as exc:
        get_run_logger().error("%s", exc)
        return Failed(message=str(exc))
    return summary
