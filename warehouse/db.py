"""The DuckDB warehouse: one connection, idempotent batch loads, and the ingest state.

``Warehouse.load_batch`` writes a batch of parsed filings, rejects and raw-document entries in
one transaction: rows of every accession in the batch are deleted first and inserted again
from Arrow tables, so loading the same filing twice (a re-run, a reprocess, a crash midway)
leaves exactly one copy. ``load_prepared`` does the same for a batch whose Arrow tables were
made elsewhere, e.g. in a worker process. The ingest state (days done, accessions that failed
to fetch) lives in tables here too, not in a cache. Neighbours: ``warehouse.schema`` (DDL),
``warehouse.batch`` (a batch's Arrow tables and keys), ``warehouse.raw`` (compressed raw
documents on disk).
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType

import duckdb
import pyarrow as pa

from form4.parsers.errors import LoadError
from form4.parsers.feed import FeedEntry
from form4.parsers.records import IndexEntry, IndexProblem, ParsedFiling
from form4.warehouse.batch import PreparedBatch, RawDocument, Reject, prepare_batch
from form4.warehouse.lock import READER_WAIT_S, WRITER_WAIT_S, WriterLock, connect
from form4.warehouse.schema import DATA_TABLES, create_all
from form4.warehouse.views import create_views

CHECKPOINT_THRESHOLD = "256MB"
# The storage format a new warehouse file is written in: the oldest DuckDB that must open it
# (a data engineer's CLI, a BI tool's bundled driver). A file keeps the format it was created
# with. "latest" is the running DuckDB's own, newest format.
DEFAULT_STORAGE_VERSION = "v1.4.0"

__all__ = [
    "CHECKPOINT_THRESHOLD",
    "DEFAULT_STORAGE_VERSION",
    "FailedFetch",
    "PreparedBatch",
    "RawDocument",
    "Reject",
    "Warehouse",
    "link_amendments",
    "rollback_quietly",
    "utcnow",
]


def utcnow() -> datetime:
    """Naive UTC now, as stored in TIMESTAMP columns."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class FailedFetch:
    accession_number: str
    day: date
    cik: str
    filename: str
    form_type: str
    error: str


# Amendments of the given issuers still waiting for their original, matched by joins: first
# the candidate pairs (an amendment and the filings of its issuer and form on the matching
# date), then the two owner sets of those pairs only, read from the owners' rows of the
# pairs' filing dates (every row carries its filing's date), so a large warehouse is read in
# the row groups that matter. The pairs are every waiting amendment against every filing, or
# (the accessions just written known, table {new}) the new amendments against every filing
# plus every waiting amendment against the new filings: each join then has a small side.
_WAITING = """
    SELECT accession_number, issuer_cik, replace(form_type, '/A', '') AS base,
           filing_date, date_of_original_submission, period_of_report
    FROM filings
    WHERE form_type LIKE '%/A' AND amends_accession IS NULL
      AND issuer_cik IN (SELECT unnest($issuers))
"""
_PAIR = """
    SELECT a.accession_number, a.filing_date AS a_date, o.accession_number AS original,
           o.filing_date AS o_date
    FROM {a} AS a JOIN {o} AS o
      ON o.issuer_cik = a.issuer_cik AND o.form_type = a.base AND {match}
    WHERE o.accession_number <> a.accession_number
      AND (o.filing_date IS NULL OR a.filing_date IS NULL OR o.filing_date <= a.filing_date)
"""
_LINK = """
UPDATE filings AS f SET amends_accession = m.original
FROM (
    WITH owners AS (
        SELECT accession_number, list_sort(list(owner_cik)) AS owners FROM reporting_owners
        WHERE accession_number IN (SELECT accession_number FROM _link_pairs
                                   UNION ALL SELECT original FROM _link_pairs){bound}
        GROUP BY accession_number)
    SELECT p.accession_number, p.original FROM _link_pairs p
    JOIN owners x ON x.accession_number = p.accession_number
    JOIN owners y ON y.accession_number = p.original AND y.owners = x.owners
    QUALIFY row_number() OVER (PARTITION BY p.accession_number
                               ORDER BY p.o_date DESC NULLS LAST, p.original DESC) = 1
) AS m
WHERE f.accession_number = m.accession_number
"""


def _pairs_sql(match: str, new: str | None) -> str:
    if new is None:
        pairs = _PAIR.format(a="a", o="filings", match=match)
    else:
        among_new = f"accession_number IN (SELECT accession_number FROM {new})"
        fresh = f"(SELECT * FROM a WHERE {among_new})"
        written = f"(SELECT * FROM filings WHERE {among_new})"
        pairs = (
            _PAIR.format(a=fresh, o="filings", match=match)
            + " UNION "
            + _PAIR.format(a="a", o=written, match=match)
        )
    return f"CREATE OR REPLACE TEMP TABLE _link_pairs AS WITH a AS ({_WAITING}) {pairs}"


_IN_BATCH = "accession_number IN (SELECT accession_number FROM _batch_keys)"
# What a batch replaces, in one statement: the batch's accessions already in each table, and
# whether an amendment of the batch's issuers is waiting for its original.
_LOOKUP = f"""
SELECT 'filings', accession_number, filing_date FROM filings WHERE {_IN_BATCH}
UNION ALL SELECT 'rejects', accession_number, NULL FROM rejects WHERE {_IN_BATCH}
UNION ALL SELECT 'failed_accessions', accession_number, NULL FROM failed_accessions
    WHERE {_IN_BATCH}
UNION ALL SELECT 'in_flight', accession_number, NULL FROM in_flight WHERE {_IN_BATCH}
UNION ALL (SELECT 'waiting', accession_number, NULL FROM filings
    WHERE form_type LIKE '%/A' AND amends_accession IS NULL AND list_contains($issuers, issuer_cik)
    LIMIT 1)
"""
_LOOKUP_RAW = f"""
UNION ALL SELECT 'raw_documents', accession_number, NULL FROM raw_documents WHERE {_IN_BATCH}
"""


def link_amendments(
    con: duckdb.DuckDBPyConnection, issuers: list[str], *, new: str | None = None
) -> None:
    """Point amendments of the batch's issuers at the filing they amend, where it is loaded:
    first the filing made on ``dateOfOriginalSubmission``, else one with the same period.

    ``new`` names a table of the accessions just written (column ``accession_number``): only
    pairs with one of them are examined. Every other pair of the issuers' filings was examined
    when the later of its two filings was written, and a link, once made, stays."""
    params = {"issuers": issuers}
    try:
        for match in (
            "o.filing_date = a.date_of_original_submission",
            "o.period_of_report = a.period_of_report",
        ):
            con.execute(_pairs_sql(match, new), params)
            found = con.execute(
                "SELECT count(*), count(*) FILTER (a_date IS NULL OR o_date IS NULL), "
                "least(min(a_date), min(o_date)), greatest(max(a_date), max(o_date)) "
                "FROM _link_pairs"
            ).fetchone()
            if found is None or not found[0]:
                continue
            dated = not found[1]
            con.execute(
                _LINK.format(bound=" AND filing_date BETWEEN ? AND ?" if dated else ""),
                [found[2], found[3]] if dated else [],
            )
    finally:
        con.execute("DROP TABLE IF EXISTS _link_pairs")


def rollback_quietly(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back after a failed statement; a failed COMMIT has already ended the transaction,
    and DuckDB's complaint about that must not hide the error that matters."""
    try:
        con.rollback()
    except duckdb.Error:
        pass


@contextmanager
def _transaction(
    base: duckdb.DuckDBPyConnection, what: str, **tables: pa.Table
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor of ``base`` in one transaction, with ``tables`` registered under their names:
    committed when the block ends, rolled back on a DuckDB error (raised as ``LoadError``,
    "``what`` failed: ..."), closed either way."""
    con = base.cursor()
    try:
        for name, table in tables.items():
            con.register(name, table)
        con.begin()
        yield con
        con.commit()
    except duckdb.Error as exc:
        rollback_quietly(con)
        raise LoadError(f"{what} failed: {exc}") from exc
    finally:
        con.close()


class Warehouse:
    """An open DuckDB warehouse. Use as a context manager; one writer process at a time.

    ``hold=True`` (the default) keeps one connection for the object's life, as a notebook
    would. ``hold=False`` is how form4's writers run: the object holds the ``WriterLock`` for
    its life but the DuckDB file only inside ``connection()`` blocks (each load, each state
    query), opening and closing it each time, so other processes can read between batches.
    Every open waits up to ``lock_wait_s`` for a process holding the file (``warehouse.lock``).
    """

    def __init__(
        self,
        path: Path | str,
        *,
        read_only: bool = False,
        memory_mb: int | None = None,
        storage_version: str = DEFAULT_STORAGE_VERSION,
        hold: bool = True,
        lock_wait_s: float | None = None,
    ) -> None:
        """``memory_mb`` caps DuckDB's own memory (its cache of the database and the data
        not yet checkpointed; it spills to disk beyond that), so a long backfill's memory does
        not grow with the warehouse. None leaves DuckDB's default (80% of RAM).
        ``storage_version`` is the storage format of a file created now (an existing file
        keeps its own): ``v1.4.0`` lets DuckDB 1.4 and later open it."""
        self.path = Path(path)
        self.read_only = read_only
        self.memory_mb = memory_mb
        self.storage_version = storage_version
        self.hold = hold
        default_wait = READER_WAIT_S if read_only else WRITER_WAIT_S
        self.lock_wait_s = default_wait if lock_wait_s is None else lock_wait_s
        self._con: duckdb.DuckDBPyConnection | None = None
        self._depth = 0
        self._guard = threading.RLock()
        self._writer: WriterLock | None = None
        self._columns: dict[str, list[str]] = {}
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not hold:
                self._writer = WriterLock(self.path, wait_s=self.lock_wait_s)
                self._writer.acquire()
        try:
            self._con = self._open(setup=True)
            for table, column in self._con.execute(
                "SELECT table_name, column_name FROM duckdb_columns() "
                "WHERE database_name = current_database() AND schema_name = 'main' "
                "ORDER BY table_name, column_index"
            ).fetchall():
                self._columns.setdefault(table, []).append(column)
        except BaseException:
            self.close()
            raise
        if not hold:
            self._con.close()
            self._con = None

    def _open(self, *, setup: bool = False) -> duckdb.DuckDBPyConnection:
        # a new file is written in the storage format of storage_version (older DuckDB
        # releases and the BI drivers bundling them can open it); an existing file keeps its own
        con = connect(
            self.path,
            read_only=self.read_only,
            wait_s=self.lock_wait_s,
            config={"storage_compatibility_version": self.storage_version},
        )
        try:
            if self.memory_mb is not None:
                con.execute(f"SET memory_limit = '{int(self.memory_mb)}MB'")
            if not self.read_only:
                # DuckDB folds its write-ahead log into the database file (a checkpoint) once
                # the log passes this size. The default (16 MB) checkpoints every few batches
                # during a backfill, and each checkpoint costs more as tables grow; this size
                # makes a million-row load in 2,500-filing batches about 1.5x faster
                # (bench/load.py). Data not yet checkpointed is held in memory, within
                # memory_mb (spilled beyond it). The log is folded in on close (so a writer
                # that closes after each batch checkpoints then) and replayed after a crash.
                con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
                if setup:
                    create_all(con)
                    create_views(con)
        except duckdb.Error as exc:
            con.close()
            raise LoadError(f"cannot open {self.path}: {str(exc).splitlines()[0]}") from None
        return con

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The open connection: always with ``hold``, else inside a ``connection()`` block."""
        if self._con is None:
            raise LoadError(f"{self.path} is not open here; use 'with warehouse.connection()'")
        return self._con

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The connection for one unit of work: opened (waiting for the file if need be) on
        entry and closed on exit unless the warehouse holds it; nested blocks share it."""
        with self._guard:
            if self._con is None:
                self._con = self._open()
            self._depth += 1
            try:
                yield self._con
            finally:
                self._depth -= 1
                if self._depth == 0 and not self.hold and self._con is not None:
                    con, self._con = self._con, None
                    con.close()

    def close(self) -> None:
        if self._con is not None:
            con, self._con = self._con, None
            con.close()
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ----------------------------------------------------------------- loads

    def load_batch(
        self,
        filings: Sequence[ParsedFiling],
        *,
        rejects: Sequence[Reject] = (),
        raw_documents: Sequence[RawDocument] = (),
    ) -> None:
        """Replace every row of the batch's accessions, in one transaction."""
        self.load_prepared(prepare_batch(filings, rejects=rejects, raw_documents=raw_documents))

    def load_prepared(self, batch: PreparedBatch) -> None:
        """Write a batch made by ``prepare_batch`` (possibly in another process): replace every
        row of its accessions, in one transaction."""
        if not batch.keys:
            return
        with self.connection():
            self._load_prepared(batch)

    def _load_prepared(self, batch: PreparedBatch) -> None:
        tables = batch.tables
        issuers = list(batch.issuers)
        key_table = pa.table({"accession_number": pa.array(batch.keys, type=pa.string())})
        con = self.con.cursor()
        try:
            # A batch's statements are small: DuckDB's worker threads cost more to coordinate
            # than they save (about a fifth of the insert time at 250 filings, bench/load.py).
            con.execute("SET threads = 1")
            con.register("_batch_keys", key_table)
            con.begin()
            # Rows exist only for accessions already loaded: one look-up finds them, so a fresh
            # batch (every nightly load) deletes nothing and scans no child table at all.
            found: dict[str, list[tuple[str, date | None]]] = {}
            lookup = _LOOKUP + (_LOOKUP_RAW if tables["raw_documents"].num_rows else "")
            for table, accession, filed in con.execute(lookup, {"issuers": issuers}).fetchall():
                found.setdefault(table, []).append((accession, filed))
            if "filings" in found:
                loaded = found["filings"]
                con.register(
                    "_reload_keys",
                    pa.table({"accession_number": pa.array([r[0] for r in loaded], pa.string())}),
                )
                # Every row of a filing carries the filing_date stored with it, so the old rows
                # lie between these dates: DuckDB then scans only those row groups, not whole
                # tables (a reprocess of a large warehouse stays linear). Unknown dates: no bound.
                dates = [r[1] for r in loaded if r[1] is not None]
                bound: list[object] = []
                where = ""
                if len(dates) == len(loaded):
                    where, bound = " AND filing_date BETWEEN ? AND ?", [min(dates), max(dates)]
                for name in DATA_TABLES:
                    con.execute(
                        f"DELETE FROM {name} WHERE accession_number IN "
                        f"(SELECT accession_number FROM _reload_keys){where}",
                        bound,
                    )
            # A filing that parses now is no longer a reject; a loaded one no longer failed;
            # a raw document fetched again replaces the old entry; a filing whose batch is
            # written is no longer in flight.
            for name in ("rejects", "failed_accessions", "raw_documents", "in_flight"):
                if name in found:
                    con.execute(f"DELETE FROM {name} WHERE {_IN_BATCH}")
            for name, table in tables.items():
                if table.num_rows:
                    self._insert(con, name, table)
            if "waiting" in found or batch.has_amendments:
                link_amendments(con, issuers, new="_batch_keys")
            con.commit()
        except duckdb.Error as exc:
            rollback_quietly(con)
            raise LoadError(f"loading a batch of {len(batch.keys)} filings failed: {exc}") from exc
        finally:
            con.execute("RESET threads")
            con.close()

    def _insert(self, con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
        """Append an Arrow table. Positionally when the stored table has exactly these columns
        in this order (every warehouse form4 created or upgraded): cheaper than binding an
        ``INSERT ... BY NAME``; by name otherwise."""
        if self._columns.get(name) == table.column_names:
            con.from_arrow(table).insert_into(name)
            return
        view = f"_batch_{name}"
        con.register(view, table)
        try:
            con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM {view}")
        finally:
            con.unregister(view)

    # ----------------------------------------------------------------- state

    def _among(self, accessions: Iterable[str], query: str) -> set[str]:
        wanted = pa.table({"accession_number": pa.array(sorted(set(accessions)), type=pa.string())})
        with self.connection() as base:
            return self._among_in(base, wanted, query)

    def _among_in(self, base: duckdb.DuckDBPyConnection, wanted: pa.Table, query: str) -> set[str]:
        con = base.cursor()
        try:
            con.register("_wanted", wanted)
            rows = con.execute(
                f"SELECT accession_number FROM _wanted WHERE accession_number IN ({query})"
            ).fetchall()
        finally:
            con.close()
        return {r[0] for r in rows}

    def known_accessions(self, accessions: Iterable[str]) -> set[str]:
        """Those of ``accessions`` already loaded or rejected (nothing to fetch again). Rows and
        rejects from a data set do not count: the filing's XML replaces them when fetched."""
        return self._among(
            accessions,
            "SELECT accession_number FROM filings WHERE coalesce(source, 'xml') = 'xml' "
            "UNION ALL SELECT accession_number FROM rejects WHERE stage <> 'dataset'",
        )

    def rejected_accessions(self, accessions: Iterable[str]) -> set[str]:
        """Those of ``accessions`` in ``rejects``: fetched again when their day is re-run, since
        EDGAR (or a proxy) may have served a damaged copy the first time. Not those rejected
        because the process died on them (stage ``crash``): parsing one again could kill the
        run again. Nor data set rejects: a data set row is no fetched copy."""
        return self._among(
            accessions,
            "SELECT accession_number FROM rejects WHERE stage NOT IN ('dataset', 'crash')",
        )

    def in_flight(self, accessions: Iterable[str]) -> dict[str, int]:
        """Those of ``accessions`` left in ``in_flight`` by a run that died while parsing,
        converting or loading them, with how many runs began on them."""
        wanted = pa.table({"accession_number": pa.array(sorted(set(accessions)), type=pa.string())})
        with self.connection() as base:
            con = base.cursor()
            try:
                con.register("_wanted", wanted)
                rows = con.execute(
                    "SELECT accession_number, attempts FROM in_flight "
                    "WHERE accession_number IN (SELECT accession_number FROM _wanted)"
                ).fetchall()
            finally:
                con.close()
            return {r[0]: int(r[1]) for r in rows}

    def mark_in_flight(self, accessions: Sequence[tuple[str, date]]) -> None:
        """Record, committed, that these (accession, index day) are about to be parsed; the
        load of their batch deletes the rows (``load_prepared``). ``attempts`` counts the
        runs that began on each."""
        if not accessions:
            return
        table = pa.table(
            {
                "accession_number": pa.array([a for a, _ in accessions], pa.string()),
                "day": pa.array([d for _, d in accessions], pa.date32()),
            }
        )
        with (
            self.connection() as base,
            _transaction(base, "recording filings in flight", _flying=table) as con,
        ):
            con.execute(
                "UPDATE in_flight SET attempts = attempts + 1, started_at = ? "
                "WHERE accession_number IN (SELECT accession_number FROM _flying)",
                [utcnow()],
            )
            con.execute(
                "INSERT INTO in_flight SELECT accession_number, day, 1, ? FROM _flying "
                "WHERE accession_number NOT IN (SELECT accession_number FROM in_flight)",
                [utcnow()],
            )

    def record_index_problems(self, index_path: str, problems: Sequence[IndexProblem]) -> None:
        """Replace the problems recorded for one index file (a re-read finds the same ones)."""
        now = utcnow()
        table = pa.table(
            {
                "index_path": pa.array([index_path] * len(problems), pa.string()),
                "line_no": pa.array([p.line_no for p in problems], pa.int32()),
                "problem": pa.array([p.problem for p in problems], pa.string()),
                "line": pa.array([p.line for p in problems], pa.string()),
                "line_length": pa.array([p.line_length for p in problems], pa.int32()),
                "seen_at": pa.array([now] * len(problems), pa.timestamp("us")),
            }
        )
        with (
            self.connection() as base,
            _transaction(base, "recording index problems", _problems=table) as con,
        ):
            con.execute("DELETE FROM index_problems WHERE index_path = ?", [index_path])
            if problems:
                con.execute("INSERT INTO index_problems BY NAME SELECT * FROM _problems")

    def record_failures(self, failures: Sequence[FailedFetch]) -> None:
        """Upsert accessions that could not be fetched; ``attempts`` counts the runs."""
        if not failures:
            return
        with self.connection() as base:
            self._record_failures(base, failures)

    def _record_failures(
        self, base: duckdb.DuckDBPyConnection, failures: Sequence[FailedFetch]
    ) -> None:
        now = utcnow()
        with _transaction(base, "recording fetch failures") as con:
            for f in failures:
                row = con.execute(
                    "SELECT attempts FROM failed_accessions WHERE accession_number = ?",
                    [f.accession_number],
                ).fetchone()
                attempts = (int(row[0]) if row else 0) + 1
                con.execute(
                    "DELETE FROM failed_accessions WHERE accession_number = ?", [f.accession_number]
                )
                con.execute(
                    "INSERT INTO failed_accessions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        f.accession_number,
                        f.day,
                        f.cik,
                        f.filename,
                        f.form_type,
                        f.error,
                        attempts,
                        now,
                    ],
                )

    def failed_fetches(self, forms: Sequence[str]) -> list[FailedFetch]:
        with self.connection() as con:
            rows = con.execute(
                "SELECT accession_number, day, cik, filename, form_type, error "
                "FROM failed_accessions WHERE list_contains(?, form_type) "
                "ORDER BY day, accession_number",
                [list(forms)],
            ).fetchall()
        return [FailedFetch(*row) for row in rows]

    def mark_day(
        self,
        day: date,
        forms: Sequence[str],
        status: str,
        *,
        index_entries: int = 0,
    ) -> None:
        """Record a day's outcome; counts are taken from the warehouse itself."""
        key = ",".join(forms)
        with self.connection() as base:
            self._mark_day(base, day, key, status, index_entries)

    def _mark_day(
        self, base: duckdb.DuckDBPyConnection, day: date, key: str, status: str, index_entries: int
    ) -> None:
        with _transaction(base, f"recording day {day}") as con:
            con.execute("DELETE FROM ingest_days WHERE day = ? AND forms = ?", [day, key])
            con.execute(
                """
                INSERT INTO ingest_days
                SELECT ?, ?, ?, ?,
                    (SELECT count(*) FROM filings f JOIN raw_documents r USING (accession_number)
                     WHERE r.filing_date = $day),
                    (SELECT count(*) FROM rejects j JOIN raw_documents r USING (accession_number)
                     WHERE r.filing_date = $day),
                    (SELECT count(*) FROM failed_accessions WHERE day = $day),
                    ?
                """.replace("$day", "?"),
                [day, key, status, index_entries, day, day, day, utcnow()],
            )

    def last_done_day(self, forms: Sequence[str]) -> date | None:
        with self.connection() as con:
            row = con.execute(
                "SELECT max(day) FROM ingest_days WHERE forms = ? "
                "AND status IN ('done', 'no_index')",
                [",".join(forms)],
            ).fetchone()
        return row[0] if row else None

    def pending_days(self, forms: Sequence[str]) -> list[date]:
        with self.connection() as con:
            rows = con.execute(
                "SELECT day FROM ingest_days WHERE forms = ? AND status = 'pending' ORDER BY day",
                [",".join(forms)],
            ).fetchall()
        return [r[0] for r in rows]

    def count(self, table: str) -> int:
        with self.connection() as con:
            row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0

    # ----------------------------------------------------------------- feed state

    def feed_seen(self, accessions: Collection[str]) -> set[str]:
        """Those of ``accessions`` an earlier poll of the feed recorded, or already loaded."""
        if not accessions:
            return set()
        return self._among(
            accessions,
            "SELECT accession_number FROM feed_entries UNION ALL "
            "SELECT accession_number FROM filings UNION ALL SELECT accession_number FROM rejects",
        )

    def record_feed(self, entries: Sequence[FeedEntry], seen_at: datetime) -> int:
        """Add feed entries not recorded yet (each accession once); returns how many."""
        first: dict[str, FeedEntry] = {}
        for e in entries:
            first.setdefault(e.accession_number, e)
        if not first:
            return 0
        rows = list(first.values())
        table = pa.table(
            {
                "accession_number": pa.array([e.accession_number for e in rows], pa.string()),
                "form_type": pa.array([e.form_type for e in rows], pa.string()),
                "cik": pa.array([e.cik for e in rows], pa.string()),
                "feed_filed": pa.array([e.filed for e in rows], pa.date32()),
                "feed_updated": pa.array(
                    [e.updated.astimezone(UTC).replace(tzinfo=None) for e in rows],
                    pa.timestamp("us"),
                ),
            }
        )
        with (
            self.connection() as base,
            _transaction(base, "recording feed entries", _feed_new=table) as con,
        ):
            added = con.execute(
                "INSERT INTO feed_entries BY NAME SELECT n.*, ? AS seen_at, "
                "NULL::TIMESTAMP AS loaded_at, NULL::DATE AS index_day FROM _feed_new n "
                "WHERE n.accession_number NOT IN (SELECT accession_number FROM feed_entries)",
                [seen_at],
            ).fetchone()
        return int(added[0]) if added else 0

    def feed_pending(self, forms: Sequence[str]) -> list[IndexEntry]:
        """Feed entries of ``forms`` not loaded yet (oldest first), as index entries to fetch.
        Those that failed to fetch are left to the nightly run's retry."""
        with self.connection() as con:
            rows = con.execute(
                "SELECT form_type, cik, feed_filed, accession_number FROM feed_entries e "
                "WHERE loaded_at IS NULL AND list_contains(?, form_type) "
                "AND accession_number NOT IN (SELECT accession_number FROM filings) "
                "AND accession_number NOT IN (SELECT accession_number FROM rejects) "
                "AND accession_number NOT IN (SELECT accession_number FROM failed_accessions) "
                "ORDER BY feed_updated, accession_number",
                [list(forms)],
            ).fetchall()
        return [
            IndexEntry(form, "", cik, filed, f"edgar/data/{int(cik)}/{acc}.txt", acc)
            for form, cik, filed, acc in rows
        ]

    def mark_feed_loaded(self, accessions: Collection[str], at: datetime) -> None:
        """Record when the rows of feed entries were committed."""
        if not accessions:
            return
        with self.connection() as con:
            con.execute(
                "UPDATE feed_entries SET loaded_at = ? "
                "WHERE loaded_at IS NULL AND list_contains(?, accession_number)",
                [at, sorted(accessions)],
            )

    def match_index_day(self, day: date, entries: Sequence[IndexEntry]) -> None:
        """The daily index of ``day`` lists ``entries``: a filing loaded earlier from the feed
        takes the index's day and CIK in ``raw_documents`` (EDGAR's filing date decides, not
        when the feed showed it), and its feed entry records the day."""
        if not entries:
            return
        listed = pa.table(
            {
                "accession_number": pa.array([e.accession_number for e in entries], pa.string()),
                "cik": pa.array([e.cik for e in entries], pa.string()),
            }
        )
        with (
            self.connection() as base,
            _transaction(base, f"matching day {day} with the feed", _listed=listed) as con,
        ):
            con.execute(
                "UPDATE raw_documents AS d SET filing_date = ?, cik = l.cik FROM _listed l "
                "WHERE d.accession_number = l.accession_number "
                "AND d.accession_number IN (SELECT accession_number FROM feed_entries) "
                "AND (d.filing_date IS DISTINCT FROM ? OR d.cik IS DISTINCT FROM l.cik)",
                [day, day],
            )
            con.execute(
                "UPDATE feed_entries SET index_day = ? "
                "WHERE accession_number IN (SELECT accession_number FROM _listed)",
                [day],
            )
