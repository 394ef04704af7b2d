"""History from the SEC's quarterly data sets: which quarters, fetch, import, verify, reprocess.

``plan_quarters`` turns what the user asked for (``parsers.dataset_index.QuarterSpec``) and the
index page's links into quarters to import and quarters still *pending* (asked for, not yet
published: not an error). ``import_dataset_quarter`` fetches one quarter's ZIP into the raw
store (``<raw>/datasets/2024q3_form345.zip``, one request), checks it and imports it
(``warehouse.datasets.import_quarter``); a quarter that cannot be fetched or read is recorded
``failed`` in ``dataset_quarters`` and the next quarter goes on. A quarter already imported
(``done``/``partial``) with its ZIP kept is not fetched again; ``reprocess_datasets`` rebuilds
its rows from the kept ZIP (no network). ``verify_dataset_quarter`` compares a quarter with
the XML rows (``warehouse.dataset_audit``), fetching the ZIP only when it is not kept.
Neighbours: ``flows.edgar.datasets`` (HTTP), ``flows.ingest_flow`` (the Prefect tasks).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from form4.flows.config import Settings
from form4.flows.edgar.datasets import download_zip
from form4.parsers.dataset_index import Quarter, QuarterSpec
from form4.parsers.errors import Form4Error, LoadError, ParseError
from form4.warehouse.dataset_audit import AuditResult, verify_quarter
from form4.warehouse.datasets import ImportResult, check_zip, import_quarter, record_quarter
from form4.warehouse.db import Warehouse

__all__ = [
    "DatasetSummary",
    "backfill_datasets",
    "QuarterOutcome",
    "import_dataset_quarter",
    "plan_quarters",
    "reprocess_datasets",
    "verify_dataset_quarter",
    "zip_path",
]

log = logging.getLogger("form4.datasets")

HELD = ("done", "partial")


@dataclass(slots=True)
class QuarterOutcome:
    quarter: Quarter
    status: str  # done, partial, failed, pending, held (already imported: not fetched)
    result: ImportResult | None = None
    message: str | None = None
    requests: int = 0


@dataclass(slots=True)
class DatasetSummary:
    quarters: list[QuarterOutcome] = field(default_factory=list)
    requests: int = 0  # the index page's and the ZIPs'

    def count(self, status: str) -> int:
        return sum(1 for q in self.quarters if q.status == status)

    @property
    def failed(self) -> list[QuarterOutcome]:
        return [q for q in self.quarters if q.status == "failed"]


def zip_path(settings: Settings, quarter: Quarter) -> Path:
    return settings.datasets_root / f"{quarter.label}_form345.zip"


def _held(warehouse: Warehouse) -> dict[str, str | None]:
    with warehouse.connection() as con:
        rows = con.execute(
            "SELECT quarter, zip_path FROM dataset_quarters WHERE list_contains(?, status)",
            [list(HELD)],
        ).fetchall()
    return {r[0]: r[1] for r in rows}


def plan_quarters(
    spec: QuarterSpec, links: dict[Quarter, str], warehouse: Warehouse
) -> tuple[list[tuple[Quarter, str]], list[Quarter], list[Quarter]]:
    """``(to_import, pending, held)``: quarters to fetch and import with their URLs, quarters
    asked for that the index page does not link yet, and quarters already imported."""
    held = _held(warehouse)
    if spec.keyword == "latest":
        wanted = [max(links)] if links else []
    elif spec.keyword in ("new", "all"):
        wanted = sorted(links)
    else:
        wanted = spec.quarters()
    to_import: list[tuple[Quarter, str]] = []
    pending: list[Quarter] = []
    already: list[Quarter] = []
    for quarter in wanted:
        url = links.get(quarter)
        if url is None:
            pending.append(quarter)
        elif quarter.label in held and Path(held[quarter.label] or "").is_file():
            already.append(quarter)
        else:
            to_import.append((quarter, url))
    return to_import, pending, already


def _record(warehouse: Warehouse, quarter: Quarter, status: str, message: str) -> None:
    with warehouse.connection() as base:
        con = base.cursor()
        try:
            record_quarter(con, quarter, status=status, problems=[message])
        finally:
            con.close()


def import_dataset_quarter(
    quarter: Quarter,
    url: str,
    *,
    settings: Settings,
    client: httpx.Client,
    warehouse: Warehouse,
) -> QuarterOutcome:
    """Fetch, check and import one quarter; a form4 error is recorded, not raised."""
    target = zip_path(settings, quarter)
    try:
        download = download_zip(
            client,
            url,
            target,
            max_bytes=settings.max_dataset_bytes,
            deadline_s=settings.deadline_s,
        )
    except Form4Error as exc:
        _record(warehouse, quarter, "failed", str(exc))
        return QuarterOutcome(quarter, "failed", message=str(exc), requests=1)
    outcome = _import(warehouse, quarter, target, url=url, size=download.size, sha=download.sha256)
    outcome.requests = download.requests
    return outcome


def _import(
    warehouse: Warehouse,
    quarter: Quarter,
    path: Path,
    *,
    url: str | None = None,
    size: int | None = None,
    sha: str | None = None,
) -> QuarterOutcome:
    try:
        if sha is not None:  # just downloaded: every member's CRC, before anything is trusted
            damaged = [p for p in check_zip(path) if "damaged" in p]
            if damaged:
                raise ParseError(f"{path.name}: {'; '.join(damaged)}", stage="dataset")
        result = import_quarter(warehouse, path, quarter, url=url, size=size, sha256=sha)
    except (ParseError, LoadError) as exc:
        if isinstance(exc, ParseError):
            path.unlink(missing_ok=True)  # damaged: fetched again next run
        _record(warehouse, quarter, "failed", str(exc))
        log.error("%s: %s", quarter, exc)
        return QuarterOutcome(quarter, "failed", message=str(exc))
    status = "partial" if result.problems else "done"
    return QuarterOutcome(quarter, status, result=result)


def reprocess_datasets(
    spec: QuarterSpec | None,
    *,
    warehouse: Warehouse,
    on_quarter: Callable[[QuarterOutcome], None] | None = None,
) -> list[QuarterOutcome]:
    """Import again, from the kept ZIPs, every quarter imported before (or those of ``spec``)."""
    with warehouse.connection() as con:
        rows = con.execute(
            "SELECT quarter, zip_path, url FROM dataset_quarters WHERE zip_path IS NOT NULL "
            "ORDER BY quarter"
        ).fetchall()
    wanted = {q.label for q in spec.quarters()} if spec is not None and spec.first else None
    out = []
    for label, path, url in rows:
        if wanted is not None and label not in wanted:
            continue
        quarter = Quarter.parse(label)
        if not Path(path).is_file():
            outcome = QuarterOutcome(quarter, "failed", message=f"the kept ZIP {path} is gone")
        else:
            outcome = _import(warehouse, quarter, Path(path), url=url)
        out.append(outcome)
        if on_quarter is not None:
            on_quarter(outcome)
    return out


def verify_dataset_quarter(
    quarter: Quarter,
    *,
    settings: Settings,
    warehouse: Warehouse,
    client_factory: Callable[[], httpx.Client],
    links: Callable[[httpx.Client], dict[Quarter, str]],
) -> AuditResult | QuarterOutcome:
    """Compare one quarter with the XML rows: from its kept ZIP, else fetched (and kept)."""
    target = zip_path(settings, quarter)
    if not target.is_file():
        with client_factory() as client:
            url = links(client).get(quarter)
            if url is None:
                return QuarterOutcome(quarter, "pending", message="not published yet")
            try:
                download_zip(
                    client,
                    url,
                    target,
                    max_bytes=settings.max_dataset_bytes,
                    deadline_s=settings.deadline_s,
                )
            except Form4Error as exc:
                return QuarterOutcome(quarter, "failed", message=str(exc))
    try:
        return verify_quarter(warehouse, target, quarter)
    except (ParseError, LoadError) as exc:
        return QuarterOutcome(quarter, "failed", message=str(exc))


QuarterRunner = Callable[..., "QuarterOutcome | object"]


def backfill_datasets(
    spec: QuarterSpec,
    *,
    settings: Settings,
    client: httpx.Client,
    warehouse: Warehouse,
    run_quarter: QuarterRunner = import_dataset_quarter,
) -> DatasetSummary:
    """Read the index page (one request), then fetch and import each quarter wanted (one
    request each); quarters not published are recorded ``pending``. ``run_quarter`` is
    ``import_dataset_quarter`` or its Prefect task."""
    from form4.flows.edgar.datasets import fetch_dataset_links

    summary = DatasetSummary()
    links = fetch_dataset_links(client)
    summary.requests += 1
    to_import, pending, held = plan_quarters(spec, links, warehouse)
    for quarter in held:
        summary.quarters.append(QuarterOutcome(quarter, "held", message="imported before"))
    for quarter in pending:
        _record(warehouse, quarter, "pending", "not on the data sets' index page yet")
        summary.quarters.append(QuarterOutcome(quarter, "pending", message="not published yet"))
    for quarter, url in to_import:
        outcome = run_quarter(quarter, url, settings=settings, client=client, warehouse=warehouse)
        if not isinstance(outcome, QuarterOutcome):  # a Prefect task that ended Failed
            outcome = QuarterOutcome(quarter, "failed", message=str(outcome))
        summary.requests += outcome.requests
        summary.quarters.append(outcome)
    summary.quarters.sort(key=lambda q: q.quarter)
    return summary
