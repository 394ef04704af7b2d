"""``form4 verify --datasets``: the XML reading against the SEC's own, field by field.

For every accession held from XML that a quarter's data set also holds, the data set's rows are
built exactly as an import would build them (``warehouse.dataset_rows.insert_rows``, into
temporary tables) and compared with the stored XML rows: every column of every row of
``filings``, ``reporting_owners``, ``transactions``, ``holdings``, ``footnotes`` and
``owner_signatures`` (rows matched by their keys: accession, Table I/II, line number; owner CIK;
footnote id; signature number) and every footnote link. Each difference is a row of
``source_differences``; ``kind`` is ``rounding / spacing`` when the data set only rounded a
number (equal to 2 decimals, within 0.01, or within 0.5%) or the texts are equal once
whitespace is ignored, else ``difference``. Columns the data sets do not carry are not compared
(``accepted_at``, ``schema_version``, ``issuer_foreign_trading_symbol``, ``amends_accession``,
``loaded_at``, ``source``; ``aff10b5_one`` before the quarters that have ``AFF10B5ONE``).
Neighbours: ``warehouse.dataset_stage`` and ``warehouse.dataset_rows`` (staging and row
building), ``flows.pipeline.datasets``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from form4.parsers.dataset_index import Quarter
from form4.warehouse.dataset_rows import insert_rows
from form4.warehouse.dataset_stage import stage_zip, staging_cursor
from form4.warehouse.datasets import classify_accessions
from form4.warehouse.db import Warehouse, utcnow
from form4.warehouse.schema import DECIMAL, FILING_KEYS, TABLES

__all__ = ["AuditResult", "ROUNDING", "verify_quarter"]

ROUNDING = "rounding / spacing"
_NOT_COMPARED = {
    "accepted_at",
    "schema_version",
    "issuer_foreign_trading_symbol",
    "amends_accession",
    "loaded_at",
    "source",
}
_LINE = "CASE WHEN k.is_derivative THEN 'II.' ELSE 'I.' END || k.line_no"
_KEYS: dict[str, tuple[tuple[str, ...], str]] = {
    "filings": (("accession_number",), "''"),
    "reporting_owners": (("accession_number", "owner_cik"), "k.owner_cik"),
    "transactions": (("accession_number", "is_derivative", "line_no"), _LINE),
    "holdings": (("accession_number", "is_derivative", "line_no"), _LINE),
    "footnotes": (("accession_number", "footnote_id"), "k.footnote_id"),
    "owner_signatures": (("accession_number", "signature_no"), "CAST(k.signature_no AS VARCHAR)"),
    "transaction_footnotes": (
        ("accession_number", "is_derivative", "line_no", "field", "footnote_id"),
        f"{_LINE} || ' ' || k.field || ' ' || k.footnote_id",
    ),
    "holding_footnotes": (
        ("accession_number", "is_derivative", "line_no", "field", "footnote_id"),
        f"{_LINE} || ' ' || k.field || ' ' || k.footnote_id",
    ),
}


@dataclass(slots=True)
class AuditResult:
    quarter: Quarter
    compared: int = 0  # accessions held from XML and in the data set
    differences: int = 0
    rounding: int = 0
    by_field: list[tuple[str, str, int, int]] = field(default_factory=list)  # table, field, d, r
    problems: list[str] = field(default_factory=list)


def _kind(sql_type: str, x: str, d: str) -> str:
    if sql_type == DECIMAL:
        close = (
            f"(round({x}, 2) = round({d}, 2) OR abs({x} - {d}) <= 0.01 "
            f"OR ({x} <> 0 AND abs({x} - {d}) / abs({x}) < 0.005))"
        )
    elif sql_type == "VARCHAR":
        close = f"regexp_replace({x}, '\\s', '', 'g') = regexp_replace({d}, '\\s', '', 'g')"
    else:
        close = "false"
    return (
        f"CASE WHEN {x} IS NOT NULL AND {d} IS NOT NULL AND {close} "
        f"THEN '{ROUNDING}' ELSE 'difference' END"
    )


def _as_text(sql_type: str, expr: str) -> str:
    if sql_type == "VARCHAR[]":
        return f"array_to_string({expr}, ', ')"
    return f"CAST({expr} AS VARCHAR)"


def _compare(
    con: duckdb.DuckDBPyConnection, table: str, label: str, now: object, skip: set[str]
) -> None:
    keys, line = _KEYS[table]
    on = " AND ".join(f"x.{k} = d.{k}" for k in keys)
    key_cols = ", ".join(f"coalesce(x.{k}, d.{k}) AS {k}" for k in keys)
    compared = [
        c
        for c in TABLES[table]
        if c.name not in keys
        and c.name not in _NOT_COMPARED
        and c.name not in skip
        and c not in FILING_KEYS
    ]
    pairs = ", ".join(
        f'x."{c.name}" AS "x_{c.name}", d."{c.name}" AS "d_{c.name}"' for c in compared
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _cmp_joined AS
        SELECT {key_cols}, x.accession_number IS NOT NULL AS in_x,
               d.accession_number IS NOT NULL AS in_d {", " + pairs if pairs else ""}
        FROM (SELECT * FROM {table}
              WHERE accession_number IN (SELECT accession_number FROM _ds_target)) x
        FULL OUTER JOIN _cmp_{table} d ON {on}
        """
    )
    con.execute(
        f"""
        INSERT INTO source_differences
        SELECT ?, k.accession_number, '{table}', {line}, '(row)',
               CASE WHEN in_x THEN 'present' END, CASE WHEN in_d THEN 'present' END,
               'difference', ?
        FROM _cmp_joined k WHERE NOT (in_x AND in_d)
        """,
        [label, now],
    )
    for c in compared:
        x, d = f'k."x_{c.name}"', f'k."d_{c.name}"'
        con.execute(
            f"""
            INSERT INTO source_differences
            SELECT ?, k.accession_number, '{table}', {line}, '{c.name}',
                   {_as_text(c.sql_type, x)}, {_as_text(c.sql_type, d)},
                   {_kind(c.sql_type, x, d)}, ?
            FROM _cmp_joined k WHERE in_x AND in_d AND {x} IS DISTINCT FROM {d}
            """,
            [label, now],
        )


def verify_quarter(warehouse: Warehouse, path: Path, quarter: Quarter) -> AuditResult:
    """Compare the quarter's ZIP at ``path`` with the XML rows; replaces the quarter's earlier
    rows of ``source_differences``. The DuckDB file is held for the comparison."""
    with warehouse.connection():
        return _verify_quarter(warehouse, path, quarter)


def _verify_quarter(warehouse: Warehouse, path: Path, quarter: Quarter) -> AuditResult:
    """Compare the quarter's ZIP at ``path`` with the XML rows; replaces the quarter's earlier
    rows of ``source_differences``."""
    result = AuditResult(quarter)
    with staging_cursor(warehouse.con, f"{quarter}: the comparison failed") as con:
        staged = stage_zip(con, path, quarter)
        result.problems = list(staged.problems)
        classify_accessions(con)
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _ds_target AS
            SELECT accession_number FROM filings
            WHERE coalesce(source, 'xml') = 'xml'
              AND accession_number IN (SELECT ACCESSION_NUMBER FROM _ds_SUBMISSION
                                       WHERE _error IS NULL)
              AND accession_number NOT IN (SELECT acc FROM _ds_problem_rows
                                           WHERE acc IS NOT NULL)
            """
        )
        insert_rows(con, staged, prefix="_cmp_")
        skip = set()
        header = staged.headers.get("SUBMISSION")
        if header is None or "AFF10B5ONE" not in header.present:
            skip.add("aff10b5_one")
        now = utcnow()
        con.begin()
        con.execute("DELETE FROM source_differences WHERE quarter = ?", [quarter.label])
        for table in _KEYS:
            _compare(con, table, quarter.label, now, skip)
        con.commit()
        row = con.execute("SELECT count(*) FROM _ds_target").fetchone()
        result.compared = int(row[0]) if row else 0
        result.by_field = [
            (t, f, int(d), int(r))
            for t, f, d, r in con.execute(
                f"""
                SELECT table_name, field, count(*) FILTER (kind = 'difference'),
                       count(*) FILTER (kind = '{ROUNDING}')
                FROM source_differences WHERE quarter = ?
                GROUP BY ALL ORDER BY 3 DESC, 4 DESC, 1, 2
                """,
                [quarter.label],
            ).fetchall()
        ]
        result.differences = sum(d for _, _, d, _ in result.by_field)
        result.rounding = sum(r for _, _, _, r in result.by_field)
    return result
