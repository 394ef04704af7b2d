"""What the CLI prints: the ingest summary and query results (table, CSV or JSON).

Kept apart from ``flows.cli.main`` so the demo and the CLI print the same summary. Neighbours:
``flows.cli.main`` (commands), ``flows.cli.demo`` (offline demo), ``warehouse.db`` (the DuckDB
file).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import duckdb

from form4.flows.config import Settings
from form4.parsers.errors import ConfigError
from form4.warehouse.lock import READER_WAIT_S, connect

if TYPE_CHECKING:  # Prefect is imported only when a flow runs
    from form4.flows.ingest_flow import BackfillSummary, IngestSummary
    from form4.flows.pipeline.datasets import DatasetSummary, QuarterOutcome
    from form4.warehouse.dataset_audit import AuditResult

__all__ = [
    "open_read_only",
    "print_backfill_summary",
    "print_ingest_summary",
    "require_warehouse",
    "run_sql",
]


def print_ingest_summary(summary: IngestSummary, settings: Settings, out: TextIO) -> None:
    totals = summary.totals
    out.write(f"form4: warehouse {settings.db_path}, raw documents in {settings.raw_root}\n")
    if summary.retried.loaded or summary.retried.failed or summary.retried.rejected:
        r = summary.retried
        out.write(
            f"  earlier failures retried: {r.loaded} loaded, {r.rejected} rejected, "
            f"{r.failed} still failing\n"
        )
    if not summary.days:
        out.write("  nothing to ingest: every business day up to today is done\n")
    for day in summary.days:
        b = day.batch
        if day.status in ("no_index", "pending") and day.index_entries == 0:
            what = "no index (no filings)" if day.status == "no_index" else "index not out yet"
            out.write(f"  {day.day}: {what}\n")
            continue
        problems = (
            f", {day.index_problems} index lines unreadable (see index_problems)"
            if day.index_problems
            else ""
        )
        out.write(
            f"  {day.day}: {day.status}; {day.index_entries} filings listed, "
            f"{day.already_loaded} already held, {b.fetched} fetched, {b.loaded} loaded, "
            f"{b.rejected} rejected, {b.failed} failed{problems}\n"
        )
    out.write(
        f"  total: {totals.loaded} loaded, {totals.rejected} rejected, {totals.failed} failed "
        "(failed filings are retried by the next run)\n"
    )
    _unknown_schema(totals.unknown_schema, out)
    _unusable_ranges(totals.price_range_unusable, out)
    for reason in totals.reject_reasons:
        out.write(f"  rejected {reason}\n")


def _unusable_ranges(count: int, out: TextIO) -> None:
    if count:
        out.write(
            f"  {count} transaction rows: price range not usable (a footnoted range with low "
            "above high or without the row's price; see transactions.price_range_unusable)\n"
        )


def _unknown_schema(count: int, out: TextIO) -> None:
    if count:
        out.write(
            f"  {count} loaded filings use a schema version form4 does not know yet "
            "(parsed best-effort; see filings.schema_version)\n"
        )


def print_backfill_summary(summary: BackfillSummary, settings: Settings, out: TextIO) -> None:
    totals = summary.totals
    out.write(f"form4: warehouse {settings.db_path}, raw documents in {settings.raw_root}\n")
    if summary.datasets is not None:
        print_dataset_summary(summary.datasets, out)
        if not summary.days and not summary.cik_listed:
            return
    if summary.days:
        done = sum(1 for d in summary.days if d.status in ("done", "no_index"))
        listed = sum(d.index_entries for d in summary.days)
        out.write(
            f"  {len(summary.days)} business days ({done} complete), {listed} filings listed\n"
        )
    if summary.cik_listed:
        out.write(f"  {summary.cik_listed} ownership filings listed for the CIK\n")
    out.write(
        f"  total: {totals.fetched} fetched, {totals.loaded} loaded, {totals.rejected} rejected, "
        f"{totals.failed} failed (failed filings are retried by the next run)\n"
    )
    _unknown_schema(totals.unknown_schema, out)
    _unusable_ranges(totals.price_range_unusable, out)
    for reason in totals.reject_reasons:
        out.write(f"  rejected {reason}\n")


def print_dataset_outcomes(outcomes: Sequence[QuarterOutcome], out: TextIO) -> None:
    """One line per quarter of the data sets: what was loaded, or why not."""
    for o in outcomes:
        if o.result is not None:
            r = o.result
            out.write(
                f"  {o.quarter}: {o.status}: {r.submissions} submissions, {r.loaded} loaded, "
                f"{r.held_from_xml} held from XML, {r.rejected} rejected, {r.row_count} rows\n"
            )
            for problem in r.problems:
                out.write(f"    problem: {problem}\n")
            for reason in r.reject_reasons[:20]:
                out.write(f"    rejected {reason}\n")
            if len(r.reject_reasons) > 20:
                out.write(f"    ... and {len(r.reject_reasons) - 20} more (table rejects)\n")
        else:
            out.write(f"  {o.quarter}: {o.status}: {o.message}\n")


def print_dataset_summary(summary: DatasetSummary, out: TextIO) -> None:
    out.write(
        f"  data sets: {summary.count('done') + summary.count('partial')} quarters imported, "
        f"{summary.count('held')} imported before, {summary.count('pending')} pending, "
        f"{summary.count('failed')} failed; {summary.requests} requests\n"
    )
    print_dataset_outcomes([q for q in summary.quarters if q.status != "held"], out)


def print_audit(result: AuditResult, out: TextIO) -> None:
    """``form4 verify --datasets``: the comparison's summary by field."""
    out.write(
        f"form4: {result.quarter}: {result.compared} filings held from XML compared with the "
        f"data set: {result.differences} differences, {result.rounding} rounding / spacing\n"
    )
    for problem in result.problems:
        out.write(f"  problem: {problem}\n")
    if result.by_field:
        out.write(f"  {'table':<22} {'field':<30} {'differences':>11} {'rounding / spacing':>18}\n")
        for table, field_name, d, r in result.by_field:
            out.write(f"  {table:<22} {field_name:<30} {d:>11} {r:>18}\n")
        out.write("  (each one is a row of table source_differences)\n")


def require_warehouse(db_path: Path) -> None:
    """Commands that read a warehouse refuse to create an empty one by mistake."""
    if not db_path.is_file():
        raise ConfigError(f"no warehouse at {db_path}; run 'form4 ingest' first or pass --db")


def open_read_only(db_path: Path, wait_s: float = READER_WAIT_S) -> duckdb.DuckDBPyConnection:
    """A read-only connection, or a one-line error saying why there is none. While a writer
    commits (or another process holds the file), waits up to ``wait_s`` seconds for it."""
    require_warehouse(db_path)
    return connect(db_path, read_only=True, wait_s=wait_s)


def run_sql(
    db_path: Path, query: str, fmt: str, out: TextIO, wait_s: float = READER_WAIT_S
) -> None:
    """Run one read-only query and print its result."""
    con = open_read_only(db_path, wait_s)
    try:
        try:
            relation = con.sql(query)
        except duckdb.Error as exc:
            raise ConfigError(f"query failed: {' '.join(str(exc).split())}") from None
        if relation is None:
            out.write("ok\n")
            return
        if fmt == "table":
            out.write(relation.__str__())
            return
        try:
            rows = relation.fetchall()
        except duckdb.Error as exc:
            raise ConfigError(f"query failed: {' '.join(str(exc).split())}") from None
        columns = relation.columns
        if fmt == "csv":
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows(rows)
        else:
            records = [dict(zip(columns, row, strict=True)) for row in rows]
            out.write(json.dumps(records, default=str, indent=2) + "\n")
    finally:
        con.close()
