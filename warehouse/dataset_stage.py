"""A data set ZIP staged for loading: checked, and its eight tables read into DuckDB.

``check_zip`` reads the ZIP's central directory and (``crc``) every member's bytes before
anything is trusted. ``stage_zip`` streams each table through ``parsers.dataset_tables`` (typed
Arrow batches) into a staging table of an in-memory database of the warehouse's own DuckDB
instance, two members at a time, and lets the caller's connection see them as ``_ds_<TABLE>``.
Neighbours: ``warehouse.dataset_rows`` (staged rows -> the warehouse's rows),
``warehouse.datasets`` (the import), ``warehouse.dataset_audit`` (the comparison).
"""

from __future__ import annotations

import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from form4.parsers.dataset_index import Quarter
from form4.parsers.dataset_tables import LAYOUT, TableHeader, output_schema, read_table
from form4.parsers.errors import ParseError

__all__ = ["Staged", "check_zip", "drop_staging", "stage_zip"]


def check_zip(path: Path, *, crc: bool = True) -> list[str]:
    """Problems of a data set ZIP: members missing or (with ``crc``, reading every byte)
    damaged. A file that is not a ZIP at all (truncated: no central directory) raises
    ``ParseError``. Staging reads each member whole, which checks its CRC again at its end."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = {Path(n).name.upper(): n for n in archive.namelist()}
            problems = [
                f"{layout.member} is missing from the ZIP"
                for layout in LAYOUT.values()
                if layout.member.upper() not in names
            ]
            for info in (
                archive.infolist() if crc else ()
            ):  # every byte read once, CRC checked at the end
                try:
                    with archive.open(info) as member:
                        while member.read(1 << 20):
                            pass
                except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                    problems.append(f"{Path(info.filename).name} is damaged ({exc})")
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ParseError(f"{path.name} is not a readable ZIP: {exc}", stage="dataset") from None
    return problems


@dataclass(slots=True)
class Staged:
    """What ``stage_zip`` read: the tables present, their headers, and every problem."""

    quarter: Quarter
    tables: set[str] = field(default_factory=set)
    headers: dict[str, TableHeader] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)


def _member(archive: zipfile.ZipFile, name: str) -> str | None:
    for candidate in archive.namelist():
        if Path(candidate).name.upper() == name.upper():
            return candidate
    return None


_STAGE = "form4_dataset_stage"  # an in-memory database of the same DuckDB instance


def _stage_one(
    con: duckdb.DuckDBPyConnection, path: Path, table: str, damaged: list[str]
) -> tuple[TableHeader | None, str | None, int]:
    """One member into its staging table, on its own connection: (header, problem, rows)."""
    layout = LAYOUT[table]
    target = f"{_STAGE}._ds_{table}"
    headers: list[TableHeader] = []
    try:
        with zipfile.ZipFile(path) as archive:
            member = _member(archive, layout.member)
            if member is None or any(p.startswith(layout.member + " ") for p in damaged):
                return None, None, 0
            with archive.open(member) as stream:
                batches = read_table(table, stream, on_header=headers.append)
                reader = pa.RecordBatchReader.from_batches(output_schema(table), batches)
                con.from_arrow(reader).insert_into(target)
    except (
        ParseError,
        zipfile.BadZipFile,
        OSError,
        EOFError,
        pa.ArrowException,
        duckdb.Error,  # an error while DuckDB consumed the batches
    ) as exc:
        con.execute(f"DELETE FROM {target}")
        return None, f"{layout.member}: not read: {exc}", 0
    finally:
        con.close()
    return (headers[0] if headers else None), None, 0


def stage_zip(con: duckdb.DuckDBPyConnection, path: Path, quarter: Quarter) -> Staged:
    """Read the ZIP's tables into staging tables, seen by ``con`` as ``_ds_<TABLE>``: every
    table is created (empty when its member is missing or unreadable, which is a problem
    noted). Two members are read at a time (pyarrow and DuckDB release the interpreter lock),
    each on its own connection into an in-memory database of the warehouse's DuckDB."""
    staged = Staged(quarter)
    damaged = check_zip(path, crc=False)
    staged.problems.extend(damaged)
    attached = {
        r[0] for r in con.execute("SELECT database_name FROM duckdb_databases()").fetchall()
    }
    if _STAGE not in attached:
        con.execute(f"ATTACH ':memory:' AS {_STAGE}")
    for table in LAYOUT:
        empty = f"_ds_empty_{table}"
        con.register(empty, output_schema(table).empty_table())
        con.execute(f"CREATE OR REPLACE TABLE {_STAGE}._ds_{table} AS SELECT * FROM {empty}")
        con.unregister(empty)
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW _ds_{table} AS SELECT * FROM {_STAGE}._ds_{table}"
        )
    # the largest members first, so the two readers finish together
    order = sorted(LAYOUT, key=lambda t: t not in ("NONDERIV_TRANS", "FOOTNOTES"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(
            zip(
                order,
                pool.map(lambda t: _stage_one(con.cursor(), path, t, damaged), order),
                strict=True,
            )
        )
    for table in LAYOUT:
        header, problem, _ = results[table]
        if problem is not None:
            staged.problems.append(problem)
            continue
        if header is None:
            continue
        staged.tables.add(table)
        staged.headers[table] = header
        staged.problems.extend(header.problems)
        row = con.execute(f"SELECT count(*) FROM _ds_{table}").fetchone()
        staged.rows[table] = int(row[0]) if row else 0
    if "SUBMISSION" not in staged.tables:
        raise ParseError(
            f"{quarter}: SUBMISSION could not be read ({'; '.join(staged.problems)})",
            stage="dataset",
        )
    return staged


def drop_staging(con: duckdb.DuckDBPyConnection) -> None:
    """Free the staging tables (the in-memory database stays attached, empty)."""
    for table in LAYOUT:
        con.execute(f"DROP VIEW IF EXISTS _ds_{table}")
        con.execute(f"DROP TABLE IF EXISTS {_STAGE}._ds_{table}")
