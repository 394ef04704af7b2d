"""A data set ZIP staged for loading: checked, and its eight tables read into DuckDB.

``check_zip`` reads the ZIP's central directory and (``crc``) every member's bytes before
anything is trusted. ``stage_zip`` streams each table through ``parsers.dataset_tables`` (typed
Arrow batches) into an Arrow table, two members at a time, and registers it on the caller's
connection as ``_ds_<TABLE>`` (DuckDB scans it in place).
Neighbours: ``warehouse.dataset_rows`` (staged rows -> the warehouse's rows),
``warehouse.datasets`` (the import), ``warehouse.dataset_audit`` (the comparison).
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from form4.parsers.dataset_index import Quarter
from form4.parsers.dataset_tables import LAYOUT, TableHeader, output_schema, read_table
from form4.parsers.errors import LoadError, ParseError
from form4.warehouse.db import rollback_quietly

__all__ = [
    "EARLY",
    "Staged",
    "check_zip",
    "drop_staging",
    "release_staged",
    "stage_zip",
    "staging_cursor",
]


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
    texts_ready: bool = False  # warehouse.dataset_rows.prepare_texts has run


def _member(archive: zipfile.ZipFile, name: str) -> str | None:
    for candidate in archive.namelist():
        if Path(candidate).name.upper() == name.upper():
            return candidate
    return None


def _stage_one(
    path: Path, table: str, damaged: list[str]
) -> tuple[TableHeader | None, str | None, pa.Table]:
    """One member read whole into Arrow: (header, problem, rows)."""
    layout = LAYOUT[table]
    headers: list[TableHeader] = []
    empty = output_schema(table).empty_table()
    try:
        with zipfile.ZipFile(path) as archive:
            member = _member(archive, layout.member)
            if member is None or any(p.startswith(layout.member + " ") for p in damaged):
                return None, None, empty
            with archive.open(member) as stream:
                batches = list(read_table(table, stream, on_header=headers.append))
                rows = pa.Table.from_batches(batches, schema=output_schema(table))
    except (ParseError, zipfile.BadZipFile, OSError, EOFError, pa.ArrowException) as exc:
        return None, f"{layout.member}: not read: {exc}", empty
    return (headers[0] if headers else None), None, rows


# Read first, and handed to ``early``: what the footnote texts are built from.
EARLY = ("FOOTNOTES", "SUBMISSION")


def stage_zip(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    quarter: Quarter,
    *,
    early: Callable[[Staged], None] | None = None,
) -> Staged:
    """Read the ZIP's tables into staging tables, seen by ``con`` as ``_ds_<TABLE>``: every
    table is created (empty when its member is missing or unreadable, which is a problem
    noted). Two members are read at a time (pyarrow releases the interpreter lock), the two of
    ``EARLY`` first; ``early`` (optional) is called on this thread once those are staged, so
    that its statements run while the other members are read. Each table is registered on
    ``con`` as it is read, once: what ``release_staged`` empties stays empty."""
    staged = Staged(quarter)
    damaged = check_zip(path, crc=False)
    staged.problems.extend(damaged)
    # then the largest members first, so the two readers finish together
    order = [*EARLY, *sorted(set(LAYOUT) - set(EARLY), key=lambda t: t != "NONDERIV_TRANS")]
    results: dict[str, tuple[TableHeader | None, str | None, int]] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        reads = {t: pool.submit(_stage_one, path, t, damaged) for t in order}
        for table in order:
            header, problem, rows = reads.pop(table).result()
            con.register(f"_ds_{table}", rows)  # the only reference kept: released, it is freed
            results[table] = (header, problem, rows.num_rows)
            del rows
            if table == EARLY[-1] and early is not None:
                early(staged)
    for table in LAYOUT:
        header, problem, count = results[table]
        if problem is not None:
            staged.problems.append(problem)
            continue
        if header is None:
            continue
        staged.tables.add(table)
        staged.headers[table] = header
        staged.problems.extend(header.problems)
        staged.rows[table] = count
    if "SUBMISSION" not in staged.tables:
        raise ParseError(
            f"{quarter}: SUBMISSION could not be read ({'; '.join(staged.problems)})",
            stage="dataset",
        )
    return staged


def release_staged(con: duckdb.DuckDBPyConnection, *tables: str) -> None:
    """Free the rows of staged ``tables`` once their copies are built (the Arrow tables are the
    largest part of an import's memory); ``_ds_<TABLE>`` stays, empty, so later SQL binds."""
    for table in tables:
        con.unregister(f"_ds_{table}")
        con.register(f"_ds_{table}", output_schema(table).empty_table())


@contextmanager
def staging_cursor(
    base: duckdb.DuckDBPyConnection, failure: str
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor of ``base`` for one import or comparison of a ZIP: a DuckDB error rolls back
    what it began and is raised as ``LoadError`` ("``failure``: the error"); the staging
    tables are freed and the cursor closed either way."""
    con = base.cursor()
    try:
        yield con
    except duckdb.Error as exc:
        rollback_quietly(con)
        raise LoadError(f"{failure}: {exc}") from exc
    finally:
        try:
            drop_staging(con)
        except duckdb.Error:  # pragma: no cover - the connection is gone with the process
            pass
        con.close()


def drop_staging(con: duckdb.DuckDBPyConnection) -> None:
    """Free the staging tables (unregister the Arrow tables)."""
    for table in LAYOUT:
        con.unregister(f"_ds_{table}")
