"""Export the warehouse as Hive-partitioned Parquet that DuckDB, Polars and Spark read as is.

Layout: ``DIR/<table>/filing_year=YYYY/filing_month=M/data.parquet``, one file per partition,
for every data table (``warehouse.schema.DATA_TABLES``) plus ``rejects`` without its ``raw``
bytes. Rows go to the month of their filing's ``filing_date`` (child tables are joined to
``filings``; a reject to the index day it was listed on, else the day it was rejected);
``filing_year``/``filing_month`` live in the path only, and are 0 when the date is unknown.

Incremental: the table ``parquet_exports`` (in the warehouse, next to the other ingest state)
records, per target directory, table and partition, the newest ``filings.loaded_at``, the row
count and a checksum of the rows exported. A partition is rewritten only when one of them
changed (a reload gets a new ``loaded_at``; a deleted filing changes the count; an amendment
linked later changes the checksum) or its file is missing; a partition left without rows is
removed.

Atomic per partition: the new file is written beside the old one under a hidden temporary
name (``.data.parquet.tmp-<hex>``, which no ``*.parquet`` glob matches), flushed to disk and
``os.replace``-d over ``data.parquet``. A reader sees the old file or the new one, never half
of one, and never a partition missing. A reader listing several partitions during an export
may see some new and some old ones: the export is not one snapshot across partitions. A
temporary file left by an export that was killed is removed by the next export to the same
directory (``remove_leftover_temps``), so a later ``aws s3 sync`` of it never uploads one.

Writes go to local paths only. Neighbours: ``warehouse.schema`` (tables), ``warehouse.db``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from form4.parsers.errors import LoadError
from form4.warehouse.db import utcnow
from form4.warehouse.schema import DATA_TABLES, TABLES, Column

__all__ = [
    "EXPORT_TABLES",
    "remove_leftover_temps",
    "STATE_TABLE",
    "STATE_TABLE_COLUMNS",
    "ExportResult",
    "PartitionWrite",
    "export_parquet",
]

STATE_TABLE = "parquet_exports"
STATE_TABLE_COLUMNS: tuple[Column, ...] = TABLES[STATE_TABLE]  # created by schema

FILE_NAME = "data.parquet"


@dataclass(frozen=True, slots=True)
class _Source:
    """How to read one exported table: FROM clause (alias t), partition date, version."""

    from_sql: str
    day: str
    version: str
    columns: tuple[str, ...]


def _sources() -> dict[str, _Source]:
    sources: dict[str, _Source] = {}
    for name in DATA_TABLES:
        columns = tuple(c.name for c in TABLES[name])
        if name == "filings":
            sources[name] = _Source("filings AS t", "t.filing_date", "t.loaded_at", columns)
        else:
            sources[name] = _Source(
                f"{name} AS t JOIN filings AS f USING (accession_number)",
                "f.filing_date",
                "f.loaded_at",
                columns,
            )
    sources["rejects"] = _Source(
        "rejects AS t LEFT JOIN (SELECT accession_number, min(filing_date) AS filing_date "
        "FROM raw_documents GROUP BY accession_number) AS r USING (accession_number)",
        "coalesce(r.filing_date, CAST(t.seen_at AS DATE))",
        "t.seen_at",
        tuple(c.name for c in TABLES["rejects"] if c.name != "raw"),
    )
    return sources


EXPORT_TABLES: tuple[str, ...] = (*DATA_TABLES, "rejects")


@dataclass(frozen=True, slots=True)
class PartitionWrite:
    """One partition file written (or, with ``rows == 0``, removed)."""

    table: str
    filing_year: int
    filing_month: int
    rows: int
    path: Path


@dataclass(frozen=True, slots=True)
class ExportResult:
    target: Path
    written: tuple[PartitionWrite, ...]
    removed: tuple[PartitionWrite, ...]
    unchanged: int

    @property
    def rows_written(self) -> int:
        return sum(w.rows for w in self.written)


def _create_state(con: duckdb.DuckDBPyConnection) -> None:
    cols = ", ".join(f'"{c.name}" {c.sql_type}' for c in STATE_TABLE_COLUMNS)
    con.execute(f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} ({cols})")


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _month_key(d: date | None, default: tuple[int, int]) -> tuple[int, int]:
    return (d.year, d.month) if d is not None else default


_Signature = tuple[datetime | None, int, int]


def _partitions(
    con: duckdb.DuckDBPyConnection, source: _Source
) -> dict[tuple[int, int], _Signature]:
    columns = ", ".join(f't."{c}"' for c in source.columns)
    rows = con.execute(
        f"""
        SELECT coalesce(year({source.day}), 0) AS y, coalesce(month({source.day}), 0) AS m,
               max({source.version}), count(*), coalesce(bit_xor(hash({columns})), 0)
        FROM {source.from_sql} GROUP BY ALL
        """
    ).fetchall()
    return {(int(y), int(m)): (v, int(n), int(h)) for y, m, v, n, h in rows}


def _write_partition(
    con: duckdb.DuckDBPyConnection, source: _Source, directory: Path, year: int, month: int
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / FILE_NAME
    tmp = directory / f".{FILE_NAME}.tmp-{secrets.token_hex(4)}"
    columns = ", ".join(f't."{c}"' for c in source.columns)
    order = ", ".join(
        f't."{c}"' for c in ("accession_number", "is_derivative", "line_no") if c in source.columns
    )
    try:
        con.execute(
            f"""
            COPY (SELECT {columns} FROM {source.from_sql}
                  WHERE coalesce(year({source.day}), 0) = {int(year)}
                    AND coalesce(month({source.day}), 0) = {int(month)}
                  ORDER BY {order})
            TO {_quote(tmp)} (FORMAT parquet, COMPRESSION zstd)
            """
        )
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return final


def remove_leftover_temps(root: Path) -> list[Path]:
    """Delete the hidden ``.data.parquet.tmp-*`` files an interrupted export left under
    ``root``'s partitions; returns them. Run while no other export writes to ``root``."""
    leftovers = sorted(root.glob(f"*/filing_year=*/filing_month=*/.{FILE_NAME}.tmp-*"))
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers


def _remove_partition(directory: Path) -> None:
    (directory / FILE_NAME).unlink(missing_ok=True)
    for d in (directory, directory.parent):
        try:
            d.rmdir()
        except OSError:
            break  # not empty (or already gone): leave it


def export_parquet(
    con: duckdb.DuckDBPyConnection,
    target: str | Path,
    *,
    start: date | None = None,
    end: date | None = None,
) -> ExportResult:
    """Write every changed partition of every exported table under ``target``.

    ``start``/``end`` limit the export to the months they overlap (whole months are always
    written, so a partition is never partial). Returns what was written and removed.
    """
    root = Path(target).resolve()
    first = _month_key(start, (0, 0))
    last = _month_key(end, (9999, 12))
    written: list[PartitionWrite] = []
    removed: list[PartitionWrite] = []
    unchanged = 0
    cur = con.cursor()
    try:
        remove_leftover_temps(root)
        _create_state(cur)
        cur.begin()  # one snapshot of the warehouse for the whole export
        for table, source in _sources().items():
            current = {k: v for k, v in _partitions(cur, source).items() if first <= k <= last}
            state = {
                (int(y), int(m)): (v, int(n), int(h))
                for y, m, v, n, h in cur.execute(
                    f"SELECT filing_year, filing_month, max_loaded_at, rows, checksum "
                    f"FROM {STATE_TABLE} WHERE target = ? AND table_name = ?",
                    [str(root), table],
                ).fetchall()
                if first <= (int(y), int(m)) <= last
            }
            for (year, month), signature in sorted(current.items()):
                directory = root / table / f"filing_year={year}" / f"filing_month={month}"
                if state.get((year, month)) == signature and (directory / FILE_NAME).is_file():
                    unchanged += 1
                    continue
                path = _write_partition(cur, source, directory, year, month)
                _save_state(cur, root, table, year, month, signature)
                written.append(PartitionWrite(table, year, month, signature[1], path))
            for year, month in sorted(set(state) - set(current)):
                directory = root / table / f"filing_year={year}" / f"filing_month={month}"
                _remove_partition(directory)
                cur.execute(
                    f"DELETE FROM {STATE_TABLE} WHERE target = ? AND table_name = ? "
                    "AND filing_year = ? AND filing_month = ?",
                    [str(root), table, year, month],
                )
                removed.append(PartitionWrite(table, year, month, 0, directory / FILE_NAME))
        cur.commit()
    except (duckdb.Error, OSError) as exc:
        try:
            cur.rollback()
        except duckdb.Error:
            pass
        raise LoadError(f"Parquet export to {root} failed: {str(exc).splitlines()[0]}") from exc
    finally:
        cur.close()
    return ExportResult(root, tuple(written), tuple(removed), unchanged)


def _save_state(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    table: str,
    year: int,
    month: int,
    signature: _Signature,
) -> None:
    con.execute(
        f"DELETE FROM {STATE_TABLE} WHERE target = ? AND table_name = ? "
        "AND filing_year = ? AND filing_month = ?",
        [str(root), table, year, month],
    )
    max_loaded_at, rows, checksum = signature
    con.execute(
        f"INSERT INTO {STATE_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [str(root), table, year, month, utcnow(), max_loaded_at, rows, checksum],
    )
