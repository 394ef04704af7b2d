"""A data set ZIP -> the XML path's tables, in one transaction per quarter.

``import_quarter`` stages the ZIP (``warehouse.dataset_stage``: checked, its eight tables read
into DuckDB), sets apart every accession with a bad row (unreadable value, malformed line) or a
row whose accession is not in SUBMISSION, and then writes, in ONE transaction, the rows of every
other accession of the quarter that is not held from XML (XML wins: a data set never replaces an
accession loaded from XML; ``Warehouse.load_prepared`` replaces a data set accession when its
XML is loaded later) through ``warehouse.dataset_rows.insert_rows``: ``filings`` (``source`` =
``dataset:2024q3``, ``accepted_at`` NULL), ``reporting_owners``, ``transactions``, ``holdings``,
``footnotes``, ``transaction_footnotes``, ``holding_footnotes`` and ``owner_signatures``, with
the XML path's normalisation. The accessions set apart go to ``rejects`` (stage ``dataset``, the
bad rows' text) instead of being loaded in part; the rest of the quarter loads. Amendments of the
quarter's issuers are linked (across sources), and the quarter's outcome is recorded in
``dataset_quarters`` in the same transaction: a crash leaves the whole quarter or nothing, and a
re-import replaces the quarter's rows (0 rows added). Neighbours: ``warehouse.dataset_audit``
(``form4 verify --datasets``), ``flows.pipeline.datasets``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from form4.parsers.dataset_index import Quarter
from form4.parsers.dataset_tables import LAYOUT
from form4.warehouse.dataset_rows import insert_rows, prepare_texts
from form4.warehouse.dataset_stage import (
    Staged,
    check_zip,
    drop_staging,
    stage_zip,
    staging_cursor,
)
from form4.warehouse.db import Warehouse, link_amendments, utcnow
from form4.warehouse.schema import DATA_TABLES

__all__ = [
    "ImportResult",
    "Staged",
    "check_zip",
    "classify_accessions",
    "drop_staging",
    "import_quarter",
    "insert_rows",
    "record_quarter",
    "stage_zip",
]

log = logging.getLogger("form4.datasets")

_SOURCE_XML = "coalesce(source, 'xml') = 'xml'"


@dataclass(slots=True)
class ImportResult:
    quarter: Quarter
    submissions: int = 0  # accessions in SUBMISSION
    loaded: int = 0  # accessions loaded from the data set
    held_from_xml: int = 0  # accessions left as loaded from XML
    rejected: int = 0  # accessions sent to rejects
    rows: dict[str, int] = field(default_factory=dict)  # rows written per table
    rows_read: int = 0  # rows of the ZIP's tables
    seconds: float = 0.0  # the import, staging to commit
    problems: list[str] = field(default_factory=list)
    reject_reasons: list[str] = field(default_factory=list)

    @property
    def row_count(self) -> int:
        return sum(self.rows.values())


_BAD_ROWS = " UNION ALL ".join(
    f"SELECT '{t}' AS tbl, ACCESSION_NUMBER AS acc, _row, _error, _text FROM _ds_{t} "
    f"WHERE _error IS NOT NULL"
    for t in LAYOUT
)


def _row_text_sql(table: str) -> str:
    names = list(LAYOUT[table].columns)
    fields = ", ".join(f"coalesce(CAST({n} AS VARCHAR), '')" for n in names)
    return f"concat_ws(chr(9), {fields})"


def classify_accessions(con: duckdb.DuckDBPyConnection) -> None:
    """``_ds_problem_rows`` (table, accession, row, reason, text): every bad row and every row
    whose accession is not in SUBMISSION; ``_ds_all`` every accession the quarter names."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _ds_problem_rows AS {_BAD_ROWS}")
    for t in LAYOUT:
        if t == "SUBMISSION":
            continue
        con.execute(
            f"""
            INSERT INTO _ds_problem_rows
            SELECT '{t}', ACCESSION_NUMBER, _row, 'accession not in SUBMISSION',
                   {_row_text_sql(t)}
            FROM _ds_{t}
            WHERE ACCESSION_NUMBER IS NOT NULL AND _error IS NULL AND ACCESSION_NUMBER NOT IN
                  (SELECT ACCESSION_NUMBER FROM _ds_SUBMISSION
                   WHERE ACCESSION_NUMBER IS NOT NULL AND _error IS NULL)
            """
        )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ds_all AS
        SELECT DISTINCT ACCESSION_NUMBER AS accession_number FROM _ds_SUBMISSION
        WHERE ACCESSION_NUMBER IS NOT NULL
        UNION SELECT DISTINCT acc FROM _ds_problem_rows WHERE acc IS NOT NULL
        """
    )


def import_quarter(
    warehouse: Warehouse,
    path: Path,
    quarter: Quarter,
    *,
    url: str | None = None,
    size: int | None = None,
    sha256: str | None = None,
) -> ImportResult:
    """Import one quarter's ZIP (see the module docstring); ``LoadError`` leaves the warehouse
    as it was. The DuckDB file is held for the import (one transaction), not longer."""
    with warehouse.connection():
        result = ImportResult(quarter)
        source = f"dataset:{quarter.label}"
        started = time.perf_counter()
        with staging_cursor(warehouse.con, f"{quarter}: the import failed") as con:
            # the texts are prepared while the other members are read
            staged = stage_zip(con, path, quarter, early=lambda s: prepare_texts(con, s))
            result.problems = list(staged.problems)
            result.rows_read = sum(staged.rows.values())
            classify_accessions(con)
            # The quarter's accessions the warehouse holds already, in one look-up: those from XML
            # are left alone, the others (an earlier import) are replaced.
            con.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE _ds_held AS
                SELECT accession_number, filing_date, {_SOURCE_XML} AS from_xml FROM filings
                WHERE accession_number IN (SELECT accession_number FROM _ds_all)
                """
            )
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _ds_xml AS "
                "SELECT accession_number FROM _ds_held WHERE from_xml"
            )
            con.execute(
                """
                CREATE OR REPLACE TEMP TABLE _ds_target AS
                SELECT DISTINCT ACCESSION_NUMBER AS accession_number FROM _ds_SUBMISSION
                WHERE ACCESSION_NUMBER IS NOT NULL AND _error IS NULL
                  AND ACCESSION_NUMBER NOT IN (SELECT acc FROM _ds_problem_rows
                                               WHERE acc IS NOT NULL)
                  AND ACCESSION_NUMBER NOT IN (SELECT accession_number FROM _ds_xml)
                """
            )
            reject_rows = con.execute(
                """
                SELECT acc, count(*) AS bad,
                       arg_min(tbl || ' row ' || _row || ': ' || _error, _row) AS first,
                       string_agg(coalesce(_text, ''), chr(10) ORDER BY tbl, _row) AS texts
                FROM _ds_problem_rows
                WHERE acc IS NULL OR acc NOT IN (SELECT accession_number FROM _ds_xml)
                GROUP BY acc ORDER BY acc NULLS LAST
                """
            ).fetchall()
            now = utcnow()
            # A first import finds nothing held and deletes nothing: it never scans the child
            # tables of a large warehouse. A re-import deletes the rows of what it holds, bounded
            # by their filing dates (every row carries its filing's), so DuckDB reads only those
            # row groups.
            held = con.execute(
                "SELECT count(*), count(filing_date), min(filing_date), max(filing_date) "
                "FROM _ds_held WHERE NOT from_xml"
            ).fetchone()
            assert held is not None
            con.begin()
            if held[0]:
                dated = held[1] == held[0]
                for table in DATA_TABLES:
                    con.execute(
                        f"DELETE FROM {table} WHERE accession_number IN "
                        "(SELECT accession_number FROM _ds_held WHERE NOT from_xml)"
                        + (" AND filing_date BETWEEN ? AND ?" if dated else ""),
                        [held[2], held[3]] if dated else [],
                    )
            con.execute(
                "DELETE FROM rejects WHERE stage = 'dataset' AND (starts_with(reason, ?) "
                "OR accession_number IN (SELECT accession_number FROM _ds_target))",
                [source + " "],
            )
            result.rows = insert_rows(con, staged, now=now)
            for acc, bad, first, texts in reject_rows:
                more = f" (and {bad - 1} more bad rows)" if bad > 1 else ""
                reason = f"{source} {first}{more}"
                result.reject_reasons.append(f"{acc or '(no accession)'}: {first}{more}")
                con.execute(
                    "INSERT INTO rejects VALUES (?, 'dataset', ?, ?, ?)",
                    [acc or "", reason, (texts or "").encode("utf-8"), now],
                )
            issuers = [
                r[0]
                for r in con.execute(
                    "SELECT DISTINCT issuer_cik FROM filings WHERE source = ? AND issuer_cik IN "
                    "(SELECT ISSUER_CIK FROM _ds_sub)",
                    [source],
                ).fetchall()
            ]
            if issuers:
                link_amendments(con, issuers, new="_ds_target")
            counts = con.execute(
                "SELECT (SELECT count(*) FROM _ds_SUBMISSION WHERE ACCESSION_NUMBER IS NOT NULL), "
                "(SELECT count(*) FROM _ds_target), (SELECT count(*) FROM _ds_xml)"
            ).fetchone()
            assert counts is not None
            result.submissions, result.loaded, result.held_from_xml = map(int, counts)
            result.rejected = len(reject_rows)
            record_quarter(
                con,
                quarter,
                status="partial" if result.problems else "done",
                url=url,
                path=path,
                size=size,
                sha256=sha256,
                result=result,
            )
            con.commit()
            result.seconds = time.perf_counter() - started
        for problem in result.problems:
            log.warning("%s: %s", quarter, problem)
        return result


def record_quarter(
    con: duckdb.DuckDBPyConnection,
    quarter: Quarter,
    *,
    status: str,
    url: str | None = None,
    path: Path | None = None,
    size: int | None = None,
    sha256: str | None = None,
    result: ImportResult | None = None,
    problems: list[str] | None = None,
) -> None:
    """Upsert the quarter's row of ``dataset_quarters`` (the caller's transaction, if any)."""
    old = con.execute(
        "SELECT url, zip_path, zip_size, zip_sha256, fetched_at FROM dataset_quarters "
        "WHERE quarter = ?",
        [quarter.label],
    ).fetchone()
    url = url or (old[0] if old else None)
    zip_path = str(path) if path is not None else (old[1] if old else None)
    zip_size = size if size is not None else (old[2] if old else None)
    digest = sha256 or (old[3] if old else None)
    fetched = utcnow() if sha256 else (old[4] if old else None)
    con.execute("DELETE FROM dataset_quarters WHERE quarter = ?", [quarter.label])
    notes = problems if problems is not None else (result.problems if result else [])
    con.execute(
        "INSERT INTO dataset_quarters VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            quarter.label,
            status,
            url,
            zip_path,
            zip_size,
            digest,
            result.submissions if result else None,
            result.loaded if result else None,
            result.held_from_xml if result else None,
            result.rejected if result else None,
            result.row_count if result else None,
            "; ".join(notes) or None,
            fetched,
            utcnow() if result else None,
        ],
    )
