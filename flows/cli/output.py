"""What the CLI prints: the ingest summary and query results (table, CSV or JSON), and the
sandbox ``form4 sql`` runs its queries in.

``sandbox(con, memory_mb=...)`` locks a DuckDB connection down for queries a team may expose
(a notebook service, a shared box): no file system access (no ``COPY ... TO``, ``EXPORT``,
``ATTACH``, ``INSTALL``/``LOAD``, no ``read_csv``/``read_text``/``glob`` of local files), no
extension downloads, a memory limit and no spilling, then the configuration locked so a query
cannot undo any of it. ``run_statements`` runs exactly one statement (several only with
``allow_files``) under a timeout (``con.interrupt`` from a timer thread). Kept apart from
``flows.cli.main`` so the demo and the CLI print the same summary. Neighbours:
``flows.cli.main`` (commands), ``flows.cli.demo`` (offline demo), ``warehouse.db`` (the DuckDB
file).
"""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import duckdb

from form4.flows.config import Settings
from form4.parsers.errors import ConfigError
from form4.warehouse.lock import READER_WAIT_S, connect

if TYPE_CHECKING:  # Prefect is imported only when a flow runs
    from form4.flows.ingest_flow import BackfillSummary, IngestSummary
    from form4.flows.pipeline.datasets import DatasetSummary, QuarterOutcome
    from form4.flows.pipeline.ingest import BatchResult
    from form4.warehouse.dataset_audit import AuditResult

__all__ = [
    "open_read_only",
    "print_backfill_summary",
    "print_flagged",
    "print_ingest_summary",
    "require_warehouse",
    "run_sql",
    "run_statements",
    "sandbox",
]

_FETCH_ROWS = 10_000  # CSV and JSON results are written this many rows at a time
# statement kinds that touch files, extensions or settings: refused in the sandbox
_REFUSED = {
    duckdb.StatementType.COPY: "COPY",
    duckdb.StatementType.COPY_DATABASE: "COPY FROM DATABASE",
    duckdb.StatementType.EXPORT: "EXPORT DATABASE",
    duckdb.StatementType.ATTACH: "ATTACH",
    duckdb.StatementType.DETACH: "DETACH",
    duckdb.StatementType.LOAD: "INSTALL/LOAD",
    duckdb.StatementType.EXTENSION: "extension statements",
    duckdb.StatementType.SET: "SET/PRAGMA of a setting",
    duckdb.StatementType.VARIABLE_SET: "SET VARIABLE",
}


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


def print_flagged(batch: BatchResult, out: TextIO) -> None:
    """The loaded filings' unknown schema versions and unusable price ranges, if any."""
    _unknown_schema(batch.unknown_schema, out)
    _unusable_ranges(batch.price_range_unusable, out)


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
                f"{r.held_from_xml} held from XML, {r.rejected} rejected, {r.row_count} rows "
                f"({r.rows_read} read in {r.seconds:.1f}s)\n"
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


def sandbox(con: duckdb.DuckDBPyConnection, *, memory_mb: int) -> None:
    """Lock ``con`` down: no file system or network access beyond the database already open,
    no extensions, at most ``memory_mb`` of memory and no spilling to disk, and the
    configuration locked (a query's ``SET``/``RESET``/``PRAGMA`` cannot lift any of it).
    Works on a read-only connection. Irreversible for this connection."""
    for setting in (
        f"SET memory_limit = '{int(memory_mb)}MB'",
        "SET temp_directory = ''",  # nowhere to spill: the memory limit is a limit
        "SET autoinstall_known_extensions = false",
        "SET autoload_known_extensions = false",
        "SET allow_community_extensions = false",
        "SET enable_external_access = false",
        "SET lock_configuration = true",
    ):
        con.execute(setting)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


@contextmanager
def _time_limit(con: duckdb.DuckDBPyConnection, timeout_s: float) -> Iterator[None]:
    """Interrupt whatever ``con`` runs once ``timeout_s`` have passed (0: no limit)."""
    if timeout_s <= 0:
        yield
        return
    timer = threading.Timer(timeout_s, con.interrupt)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _statements(
    con: duckdb.DuckDBPyConnection, query: str, *, allow_files: bool
) -> list[duckdb.Statement]:
    try:
        statements = con.extract_statements(query)
    except duckdb.Error as exc:
        raise ConfigError(f"query failed: {_one_line(exc)}") from None
    if not statements:
        raise ConfigError("no SQL statement given")
    if allow_files:
        return statements
    if len(statements) > 1:
        raise ConfigError(
            f"form4 sql runs one statement at a time ({len(statements)} given); "
            "pass --allow-files to run several"
        )
    refused = _REFUSED.get(statements[0].type)
    if refused is not None:
        raise ConfigError(
            f"{refused} is refused: form4 sql is read-only and does not touch files or settings "
            "(pass --allow-files to allow it)"
        )
    return statements


def run_statements(
    con: duckdb.DuckDBPyConnection,
    query: str,
    fmt: str,
    out: TextIO,
    *,
    allow_files: bool = False,
    timeout_s: float = 60.0,
) -> None:
    """Run the statement of ``query`` (each of them with ``allow_files``) on ``con`` and print
    each result; the whole run is interrupted after ``timeout_s`` (0: no limit). Every failure
    is a one-line ``ConfigError``."""
    statements = _statements(con, query, allow_files=allow_files)
    try:
        with _time_limit(con, timeout_s):
            for number, statement in enumerate(statements):
                if number:
                    out.write("\n")
                _print_result(con, statement, fmt, out)
    except duckdb.InterruptException:
        raise ConfigError(
            f"query interrupted after {timeout_s:g}s (FORM4_SQL_TIMEOUT_S or --timeout)"
        ) from None
    except duckdb.PermissionException as exc:
        raise ConfigError(
            f"query refused: {_one_line(exc)} (form4 sql reads only the warehouse; "
            "pass --allow-files to allow files)"
        ) from None
    except duckdb.Error as exc:
        raise ConfigError(f"query failed: {_one_line(exc)}") from None


def _print_result(
    con: duckdb.DuckDBPyConnection, statement: duckdb.Statement, fmt: str, out: TextIO
) -> None:
    if fmt == "table":
        relation = con.sql(statement)
        out.write("ok\n" if relation is None else relation.__str__())
        return
    con.execute(statement)
    if con.description is None:
        out.write("ok\n")
        return
    columns = [d[0] for d in con.description]
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        while rows := con.fetchmany(_FETCH_ROWS):
            writer.writerows(rows)
        return
    out.write("[")
    first = True
    while rows := con.fetchmany(_FETCH_ROWS):
        for row in rows:
            record = json.dumps(dict(zip(columns, row, strict=True)), default=str, indent=2)
            out.write(("\n" if first else ",\n") + "  " + record.replace("\n", "\n  "))
            first = False
    out.write("\n]\n" if not first else "]\n")


def run_sql(
    db_path: Path,
    query: str,
    fmt: str,
    out: TextIO,
    *,
    allow_files: bool = False,
    memory_mb: int = 512,
    timeout_s: float = 60.0,
    wait_s: float = READER_WAIT_S,
) -> None:
    """Run one read-only query against the warehouse in the sandbox and print its result;
    with ``allow_files`` several statements, with file access (the memory limit and the
    timeout stay)."""
    con = open_read_only(db_path, wait_s)
    try:
        if allow_files:
            con.execute(f"SET memory_limit = '{int(memory_mb)}MB'")
        else:
            sandbox(con, memory_mb=memory_mb)
        run_statements(con, query, fmt, out, allow_files=allow_files, timeout_s=timeout_s)
    finally:
        con.close()
