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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType

import duckdb
import pyarrow as pa

from form4.parsers.errors import LoadError
from form4.parsers.records import IndexProblem, ParsedFiling
from form4.warehouse.batch import PreparedBatch, RawDocument, Reject, prepare_batch
from form4.warehouse.schema import DATA_TABLES, create_all
from form4.warehouse.views import create_views

CHECKPOINT_THRESHOLD = "256MB"

__all__ = [
    "CHECKPOINT_THRESHOLD",
    "FailedFetch",
    "PreparedBatch",
    "RawDocument",
    "Reject",
    "Warehouse",
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


_OWNERS = (
    "(SELECT list_sort(list(owner_cik)) FROM reporting_owners r WHERE r.accession_number = {})"
)
_LINK_AMENDMENTS = f"""
UPDATE filings AS a SET amends_accession = (
    SELECT o.accession_number FROM filings AS o
    WHERE o.issuer_cik = a.issuer_cik
      AND o.form_type = replace(a.form_type, '/A', '')
      AND o.accession_number <> a.accession_number
      AND {{match}}
      AND (o.filing_date IS NULL OR a.filing_date IS NULL OR o.filing_date <= a.filing_date)
      AND {_OWNERS.format("o.accession_number")} = {_OWNERS.format("a.accession_number")}
    ORDER BY o.filing_date DESC NULLS LAST, o.accession_number DESC
    LIMIT 1)
WHERE a.form_type LIKE '%/A' AND a.amends_accession IS NULL
  AND list_contains($issuers, a.issuer_cik)
"""
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


def _link_amendments(con: duckdb.DuckDBPyConnection, issuers: list[str]) -> None:
    """Point amendments of the batch's issuers at the filing they amend, where it is loaded:
    first the filing made on ``dateOfOriginalSubmission``, else one with the same period."""
    params = {"issuers": issuers}
    con.execute(
        _LINK_AMENDMENTS.format(match="o.filing_date = a.date_of_original_submission"), params
    )
    con.execute(_LINK_AMENDMENTS.format(match="o.period_of_report = a.period_of_report"), params)


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back after a failed statement; a failed COMMIT has already ended the transaction,
    and DuckDB's complaint about that must not hide the error that matters."""
    try:
        con.rollback()
    except duckdb.Error:
        pass


class Warehouse:
    """An open DuckDB warehouse. Use as a context manager; one writer process at a time."""

    def __init__(
        self, path: Path | str, *, read_only: bool = False, memory_mb: int | None = None
    ) -> None:
        """``memory_mb`` caps DuckDB's own memory (its cache of the database and the data
        not yet checkpointed; it spills to disk beyond that), so a long backfill's memory does
        not grow with the warehouse. None leaves DuckDB's default (80% of RAM)."""
        self.path = Path(path)
        try:
            if not read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            message = str(exc).splitlines()[0]
            if "lock" in message.lower():
                raise LoadError(
                    f"{self.path} is in use by another form4 process; try again when it is done "
                    f"({message})"
                ) from None
            raise LoadError(f"cannot open {self.path}: {message}") from None
        except duckdb.Error as exc:
            raise LoadError(f"cannot open {self.path}: {str(exc).splitlines()[0]}") from None
        if memory_mb is not None:
            self.con.execute(f"SET memory_limit = '{int(memory_mb)}MB'")
        if not read_only:
            # DuckDB folds its write-ahead log into the database file (a checkpoint) once the
            # log passes this size. The default (16 MB) checkpoints every few batches during a
            # backfill, and each checkpoint costs more as tables grow; this size makes a
            # million-row load in 2,500-filing batches about 1.5x faster (bench/load.py). Data
            # not yet checkpointed is held in memory, within memory_mb (spilled beyond it).
            # The log is folded in on close and replayed after a crash.
            self.con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
            create_all(self.con)
            create_views(self.con)
        self._columns: dict[str, list[str]] = {}
        for table, column in self.con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = 'main' "
            "ORDER BY table_name, column_index"
        ).fetchall():
            self._columns.setdefault(table, []).append(column)

    def close(self) -> None:
        self.con.close()

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
                _link_amendments(con, issuers)
            con.commit()
        except duckdb.Error as exc:
            _rollback(con)
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
        con = self.con.cursor()
        try:
            con.register("_wanted", wanted)
            rows = con.execute(
                f"SELECT accession_number FROM _wanted WHERE accession_number IN ({query})"
            ).fetchall()
        finally:
            con.close()
        return {r[0] for r in rows}

    def known_accessions(self, accessions: Iterable[str]) -> set[str]:
        """Those of ``accessions`` already loaded or rejected (nothing to fetch again)."""
        return self._among(
            accessions,
            "SELECT accession_number FROM filings UNION ALL SELECT accession_number FROM rejects",
        )

    def rejected_accessions(self, accessions: Iterable[str]) -> set[str]:
        """Those of ``accessions`` in ``rejects``: fetched again when their day is re-run, since
        EDGAR (or a proxy) may have served a damaged copy the first time. Not those rejected
        because the process died on them (stage ``crash``): parsing one again could kill the
        run again."""
        return self._among(
            accessions, "SELECT accession_number FROM rejects WHERE stage <> 'crash'"
        )

    def in_flight(self, accessions: Iterable[str]) -> dict[str, int]:
        """Those of ``accessions`` left in ``in_flight`` by a run that died while parsing,
        converting or loading them, with how many runs began on them."""
        wanted = pa.table({"accession_number": pa.array(sorted(set(accessions)), type=pa.string())})
        con = self.con.cursor()
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
        con = self.con.cursor()
        try:
            con.register("_flying", table)
            con.begin()
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
            con.commit()
        except duckdb.Error as exc:
            _rollback(con)
            raise LoadError(f"recording filings in flight failed: {exc}") from exc
        finally:
            con.close()

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
        con = self.con.cursor()
        try:
            con.begin()
            con.execute("DELETE FROM index_problems WHERE index_path = ?", [index_path])
            if problems:
                con.register("_problems", table)
                con.execute("INSERT INTO index_problems BY NAME SELECT * FROM _problems")
            con.commit()
        except duckdb.Error as exc:
            _rollback(con)
            raise LoadError(f"recording index problems failed: {exc}") from exc
        finally:
            con.close()

    def record_failures(self, failures: Sequence[FailedFetch]) -> None:
        """Upsert accessions that could not be fetched; ``attempts`` counts the runs."""
        if not failures:
            return
        now = utcnow()
        con = self.con.cursor()
        try:
            con.begin()
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
            con.commit()
        except duckdb.Error as exc:
            _rollback(con)
            raise LoadError(f"recording fetch failures failed: {exc}") from exc
        finally:
            con.close()

    def failed_fetches(self, forms: Sequence[str]) -> list[FailedFetch]:
        rows = self.con.execute(
            "SELECT accession_number, day, cik, filename, form_type, error FROM failed_accessions "
            "WHERE list_contains(?, form_type) ORDER BY day, accession_number",
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
        con = self.con.cursor()
        try:
            con.begin()
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
            con.commit()
        except duckdb.Error as exc:
            _rollback(con)
            raise LoadError(f"recording day {day} failed: {exc}") from exc
        finally:
            con.close()

    def last_done_day(self, forms: Sequence[str]) -> date | None:
        row = self.con.execute(
            "SELECT max(day) FROM ingest_days WHERE forms = ? AND status IN ('done', 'no_index')",
            [",".join(forms)],
        ).fetchone()
        return row[0] if row else None

    def pending_days(self, forms: Sequence[str]) -> list[date]:
        rows = self.con.execute(
            "SELECT day FROM ingest_days WHERE forms = ? AND status = 'pending' ORDER BY day",
            [",".join(forms)],
        ).fetchall()
        return [r[0] for r in rows]

    def count(self, table: str) -> int:
        row = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0
