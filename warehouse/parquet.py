"""Export the warehouse as Hive-partitioned Parquet that DuckDB, Polars and Spark read as is.

Layout: ``DIR/<table>/filing_year=YYYY/filing_month=M/data.parquet``, one file per partition,
for every data table (``warehouse.schema.DATA_TABLES``) plus ``rejects`` without its ``raw``
bytes, and every view (``transactions_current``, ``holdings_current``, ``superseded_filings``
and the analyst views of ``warehouse.views``), so a Parquet reader gets amendments applied and
the sale rules without re-implementing them. Rows go to the month of their filing's
``filing_date`` (child tables are joined to ``filings``; a reject to the index day it was
listed on, else the day it was rejected; ``cluster_buys`` to its ``window_start``);
``filing_year``/``filing_month`` live in the path only, and are 0 when the date is unknown.
``DIR`` is a local directory or ``s3://bucket/prefix`` (``S3Target``).

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

Object storage (``s3://``, through ``pyarrow.fs.S3FileSystem``: credentials from the usual AWS
variables, ``AWS_ENDPOINT_URL`` for an S3-compatible server). An object store has no rename,
so each partition is written as one PUT of its final key (``.../data.parquet``): S3 replaces an
object atomically (a multipart upload appears only when complete), so a reader still sees
the old partition or the new one, whole, never half of one, and never a partition missing.
The same as on a local disk, a reader listing several partitions mid-export may see some new
and some old ones. Last, after every partition, the export writes ``_form4_manifest.json`` at
the target's root (one PUT, or an atomic rename on a local disk): every partition object of
that export with its row count and checksum. A reader who wants one finished export, not a
mix, reads the manifest and checks each object's ``rows`` against it (Parquet metadata); an
export that fails midway leaves the previous manifest, and its rewritten partitions are
written again by the next export (their state is not committed).

Neighbours: ``warehouse.schema`` (tables), ``warehouse.views`` (analyst views),
``warehouse.db``.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from form4.parsers.errors import LoadError
from form4.warehouse.db import utcnow
from form4.warehouse.schema import DATA_TABLES, TABLES, VIEWS, Column
from form4.warehouse.views import ANALYST_VIEWS

__all__ = [
    "EXPORT_TABLES",
    "EXPORT_VIEWS",
    "MANIFEST_NAME",
    "remove_leftover_temps",
    "STATE_TABLE",
    "STATE_TABLE_COLUMNS",
    "ExportResult",
    "PartitionWrite",
    "S3Target",
    "export_parquet",
]

STATE_TABLE = "parquet_exports"
STATE_TABLE_COLUMNS: tuple[Column, ...] = TABLES[STATE_TABLE]  # created by schema

FILE_NAME = "data.parquet"
MANIFEST_NAME = "_form4_manifest.json"


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
EXPORT_VIEWS: tuple[str, ...] = (*VIEWS, *ANALYST_VIEWS)
# a view's partition date; a view's version is unknown (NULL): the checksum detects changes
_VIEW_DAYS = {"cluster_buys": "t.window_start"}


def _view_sources(con: duckdb.DuckDBPyConnection) -> dict[str, _Source]:
    sources: dict[str, _Source] = {}
    for name in EXPORT_VIEWS:
        columns = tuple(str(r[0]) for r in con.execute(f"DESCRIBE {name}").fetchall())
        if "filing_date" in columns or name in _VIEW_DAYS:
            from_sql, day = f"{name} AS t", _VIEW_DAYS.get(name, "t.filing_date")
        else:  # superseded_filings: accession numbers only
            from_sql = f"{name} AS t LEFT JOIN filings AS f USING (accession_number)"
            day = "f.filing_date"
        sources[name] = _Source(from_sql, day, "CAST(NULL AS TIMESTAMP)", columns)
    return sources


@dataclass(frozen=True, slots=True)
class PartitionWrite:
    """One partition file written (or, with ``rows == 0``, removed)."""

    table: str
    filing_year: int
    filing_month: int
    rows: int
    path: Path | str  # a local path, or an s3:// URL


@dataclass(frozen=True, slots=True)
class ExportResult:
    target: Path | str  # a local directory, or an s3:// URL
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


def _copy_partition(
    con: duckdb.DuckDBPyConnection, source: _Source, year: int, month: int, path: Path
) -> None:
    """One partition's rows, ordered, as a Parquet file at local ``path``."""
    columns = ", ".join(f't."{c}"' for c in source.columns)
    order = (
        ", ".join(
            f't."{c}"'
            for c in ("accession_number", "is_derivative", "line_no")
            if c in source.columns
        )
        or "ALL"
    )
    con.execute(
        f"""
        COPY (SELECT {columns} FROM {source.from_sql}
              WHERE coalesce(year({source.day}), 0) = {int(year)}
                AND coalesce(month({source.day}), 0) = {int(month)}
              ORDER BY {order})
        TO {_quote(path)} (FORMAT parquet, COMPRESSION zstd)
        """
    )


def _write_partition(
    con: duckdb.DuckDBPyConnection, source: _Source, directory: Path, year: int, month: int
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / FILE_NAME
    tmp = directory / f".{FILE_NAME}.tmp-{secrets.token_hex(4)}"
    try:
        _copy_partition(con, source, year, month, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return final


def remove_leftover_temps(root: Path) -> list[Path]:
    """Delete the hidden ``.data.parquet.tmp-*`` files an interrupted export left under
    ``root``'s partitions, and its manifest's ``._form4_manifest.json.tmp-*``; returns them.
    Run while no other export writes to ``root``."""
    leftovers = sorted(
        [
            *root.glob(f"*/filing_year=*/filing_month=*/.{FILE_NAME}.tmp-*"),
            *root.glob(f".{MANIFEST_NAME}.tmp-*"),
        ]
    )
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


def _partition_dir(table: str, year: int, month: int) -> str:
    return f"{table}/filing_year={year}/filing_month={month}"


class _LocalTarget:
    """A directory on a local (or mounted) file system: atomic renames per partition."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.key = str(root)

    def exists(self, table: str, year: int, month: int) -> bool:
        return (self.root / _partition_dir(table, year, month) / FILE_NAME).is_file()

    def write(
        self, con: duckdb.DuckDBPyConnection, source: _Source, table: str, year: int, month: int
    ) -> Path:
        directory = self.root / _partition_dir(table, year, month)
        return _write_partition(con, source, directory, year, month)

    def remove(self, table: str, year: int, month: int) -> Path:
        directory = self.root / _partition_dir(table, year, month)
        _remove_partition(directory)
        return directory / FILE_NAME

    def put_manifest(self, text: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{MANIFEST_NAME}.tmp-{secrets.token_hex(4)}"
        try:
            tmp.write_text(text)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, self.root / MANIFEST_NAME)
        finally:
            tmp.unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class S3Target:
    """Where an ``s3://bucket/prefix`` export goes, and how to reach the store: credentials
    come from the AWS SDK's usual sources (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/
    ``AWS_SESSION_TOKEN``, a profile, an instance role); ``endpoint_url`` names an
    S3-compatible server (MinIO, moto, ...)."""

    bucket: str
    prefix: str
    endpoint_url: str | None = None
    region: str | None = None
    _fs: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def parse(
        cls, url: str, *, endpoint_url: str | None = None, region: str | None = None
    ) -> S3Target:
        rest = url.removeprefix("s3://")
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise LoadError(f"{url!r}: no bucket (expected s3://bucket/prefix)")
        return cls(bucket, prefix.strip("/"), endpoint_url, region)

    @property
    def key(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def _path(self, relative: str) -> str:
        return "/".join(p for p in (self.bucket, self.prefix, relative) if p)

    def filesystem(self) -> Any:
        if self._fs is None:
            from pyarrow import fs

            options: dict[str, Any] = {"region": self.region or "us-east-1"}
            if self.endpoint_url:
                scheme, _, host = self.endpoint_url.rpartition("://")
                options["endpoint_override"] = host.rstrip("/")
                options["scheme"] = scheme or "https"
            object.__setattr__(self, "_fs", fs.S3FileSystem(**options))
        return self._fs

    def existing(self) -> set[str]:
        """Every object under the prefix (one listing per export, not one request each)."""
        from pyarrow import fs

        selector = fs.FileSelector(self._path(""), recursive=True, allow_not_found=True)
        infos = self.filesystem().get_file_info(selector)
        return {i.path for i in infos if i.type == fs.FileType.File}

    def object_path(self, table: str, year: int, month: int) -> str:
        return self._path(f"{_partition_dir(table, year, month)}/{FILE_NAME}")

    def write(
        self, con: duckdb.DuckDBPyConnection, source: _Source, table: str, year: int, month: int
    ) -> str:
        """The partition written locally, then one upload to its final key."""
        path = self.object_path(table, year, month)
        with tempfile.TemporaryDirectory(prefix="form4-s3-") as scratch:
            local = Path(scratch) / FILE_NAME
            _copy_partition(con, source, year, month, local)
            with local.open("rb") as src, self.filesystem().open_output_stream(path) as out:
                while chunk := src.read(8 << 20):
                    out.write(chunk)
        return f"s3://{path}"

    def remove(self, table: str, year: int, month: int) -> str:
        path = self.object_path(table, year, month)
        try:
            self.filesystem().delete_file(path)
        except FileNotFoundError:
            pass
        return f"s3://{path}"

    def put_manifest(self, text: str) -> None:
        with self.filesystem().open_output_stream(self._path(MANIFEST_NAME)) as out:
            out.write(text.encode())


def export_parquet(
    con: duckdb.DuckDBPyConnection,
    target: str | Path | S3Target,
    *,
    start: date | None = None,
    end: date | None = None,
    s3_endpoint_url: str | None = None,
    s3_region: str | None = None,
) -> ExportResult:
    """Write every changed partition of every exported table under ``target``.

    ``start``/``end`` limit the export to the months they overlap (whole months are always
    written, so a partition is never partial). ``target`` is a directory or an
    ``s3://bucket/prefix`` URL (or an ``S3Target``); ``s3_endpoint_url``/``s3_region`` are used
    for a URL. Returns what was written and removed.
    """
    store: _LocalTarget | S3Target
    if isinstance(target, S3Target):
        store = target
    elif str(target).startswith("s3://"):
        store = S3Target.parse(str(target), endpoint_url=s3_endpoint_url, region=s3_region)
    else:
        store = _LocalTarget(Path(target).resolve())
    root = store.key
    first = _month_key(start, (0, 0))
    last = _month_key(end, (9999, 12))
    written: list[PartitionWrite] = []
    removed: list[PartitionWrite] = []
    unchanged = 0
    cur = con.cursor()
    try:
        if isinstance(store, _LocalTarget):
            remove_leftover_temps(store.root)
        _create_state(cur)
        cur.begin()  # one snapshot of the warehouse for the whole export
        objects = store.existing() if isinstance(store, S3Target) else None

        def exists(table: str, year: int, month: int) -> bool:
            if isinstance(store, S3Target):
                return objects is not None and store.object_path(table, year, month) in objects
            return store.exists(table, year, month)

        for table, source in {**_sources(), **_view_sources(cur)}.items():
            current = {k: v for k, v in _partitions(cur, source).items() if first <= k <= last}
            state = {
                (int(y), int(m)): (v, int(n), int(h))
                for y, m, v, n, h in cur.execute(
                    f"SELECT filing_year, filing_month, max_loaded_at, rows, checksum "
                    f"FROM {STATE_TABLE} WHERE target = ? AND table_name = ?",
                    [root, table],
                ).fetchall()
                if first <= (int(y), int(m)) <= last
            }
            for (year, month), signature in sorted(current.items()):
                if state.get((year, month)) == signature and exists(table, year, month):
                    unchanged += 1
                    continue
                path = store.write(cur, source, table, year, month)
                _save_state(cur, root, table, year, month, signature)
                written.append(PartitionWrite(table, year, month, signature[1], path))
            for year, month in sorted(set(state) - set(current)):
                path = store.remove(table, year, month)
                cur.execute(
                    f"DELETE FROM {STATE_TABLE} WHERE target = ? AND table_name = ? "
                    "AND filing_year = ? AND filing_month = ?",
                    [root, table, year, month],
                )
                removed.append(PartitionWrite(table, year, month, 0, path))
        store.put_manifest(_manifest(cur, root))  # last: it describes a finished export
        cur.commit()
    except (duckdb.Error, OSError) as exc:
        try:
            cur.rollback()
        except duckdb.Error:
            pass
        raise LoadError(f"Parquet export to {root} failed: {str(exc).splitlines()[0]}") from exc
    finally:
        cur.close()
    target_out: Path | str = store.root if isinstance(store, _LocalTarget) else root
    return ExportResult(target_out, tuple(written), tuple(removed), unchanged)


def _manifest(con: duckdb.DuckDBPyConnection, root: str) -> str:
    """Every partition object of the export just written, with its rows and checksum."""
    partitions: dict[str, list[dict[str, Any]]] = {}
    for table, year, month, rows, checksum, exported_at in con.execute(
        f"SELECT table_name, filing_year, filing_month, rows, checksum, exported_at "
        f"FROM {STATE_TABLE} WHERE target = ? ORDER BY ALL",
        [root],
    ).fetchall():
        partitions.setdefault(str(table), []).append(
            {
                "path": f"{_partition_dir(str(table), int(year), int(month))}/{FILE_NAME}",
                "rows": int(rows),
                "checksum": str(checksum),
                "exported_at": f"{exported_at:%Y-%m-%dT%H:%M:%S}Z",
            }
        )
    document = {"format": "form4-parquet-export/1", "written_at": f"{utcnow():%Y-%m-%dT%H:%M:%S}Z"}
    return json.dumps({**document, "tables": partitions}, indent=1) + "\n"


def _save_state(
    con: duckdb.DuckDBPyConnection,
    root: str,
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
