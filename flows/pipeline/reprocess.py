"""``form4 reprocess``: parse stored raw submissions again, without any network.

After a parser fix, re-parse every stored document, those of a date range (the index day they
were listed on), or only the current rejects. Batches are loaded like a fresh ingest (rows of
their accessions replaced in one transaction), so a filing that now parses leaves ``rejects``
and one that still fails stays there with its new reason. Raw bytes come from the raw store, or,
for rejects, from the ``rejects.raw`` column when the store has lost the file.

Parsing is the cost of a reprocess (DuckDB writes a batch several times faster than it
parses), so with more than one batch ``settings.workers`` processes read the raw copies,
parse batches and build their Arrow tables while this process writes them in order, several
batches to a transaction (``warehouse.batch.grouped``: DuckDB then writes them compressed).
Neighbours: ``flows.pipeline.ingest`` (``parse_raw``, the same parse path),
``flows.pipeline.workers`` (the processes), ``warehouse.batch`` and ``warehouse.db`` (the
load), ``warehouse.raw``.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path

import pyarrow.parquet as pq

from form4.flows.config import Settings
from form4.flows.pipeline.ingest import BatchResult, parse_raw, unexpected
from form4.flows.pipeline.workers import ordered_map
from form4.parsers.errors import LoadError, ParseError
from form4.parsers.records import ParsedFiling
from form4.warehouse.batch import (
    PreparedBatch,
    Reject,
    collector_paused,
    flagged_counts,
    grouped,
    prepare_batch,
)
from form4.warehouse.db import Warehouse, utcnow
from form4.warehouse.raw import RawLocation, RawStore

__all__ = ["ReprocessResult", "reprocess"]

log = logging.getLogger("form4.reprocess")


@dataclass(slots=True)
class ReprocessResult:
    selected: int = 0
    missing_raw: int = 0
    batch: BatchResult = field(default_factory=BatchResult)


# The selection is written, numbered, to a Parquet file in a temporary directory and read a
# batch at a time, so the process neither holds a list of every accession (about 80 bytes
# each: 800 MB for ten million) nor the DuckDB file between the batches it writes.
_LOCATION = "d.filing_date, d.path, d.member_offset, d.member_length, d.form_type"


def _selection(
    warehouse: Warehouse, start: date | None, end: date | None, rejects_only: bool, target: Path
) -> int:
    """Write the accessions to reprocess (in filing-date order) to ``target``; returns how many
    there are."""
    where = []
    params: list[object] = []
    if start is not None:
        where.append("d.filing_date >= ?")
        params.append(start)
    if end is not None:
        where.append("d.filing_date <= ?")
        params.append(end)
    # A filing the process died on (a reject of stage crash) is not parsed again: it could kill
    # this run too. Delete its reject to try it again.
    where.append(
        "d.accession_number NOT IN (SELECT accession_number FROM rejects WHERE stage = 'crash')"
    )
    if rejects_only:
        source = (
            f"SELECT j.accession_number, {_LOCATION} FROM rejects j "
            "LEFT JOIN raw_documents d USING (accession_number)"
        )
    else:
        source = f"SELECT d.accession_number, {_LOCATION} FROM raw_documents d"
    # in filing-date order, and within a day in pack order: reads go through each pack once
    sql = (
        "SELECT accession_number, path, member_offset, member_length, form_type FROM "
        f"({source}) d WHERE {' AND '.join(where)} "
        "ORDER BY filing_date NULLS LAST, path, member_offset, accession_number"
    )
    escaped = str(target).replace("'", "''")
    with warehouse.connection() as con:
        con.execute(f"COPY ({sql}) TO '{escaped}' (FORMAT parquet)", params)
    return int(pq.ParquetFile(target).metadata.num_rows)


def _selected(
    selection: Path, size: int
) -> Iterator[list[tuple[str, RawLocation | None, str | None]]]:
    """The selection ``size`` accessions at a time, with where their raw copy is (None: the
    catalog has none) and the index's form type (None: not recorded)."""
    for rows in pq.ParquetFile(selection).iter_batches(batch_size=size):
        yield [
            (
                r["accession_number"],
                RawLocation(r["path"], r["member_offset"], r["member_length"])
                if r["path"]
                else None,
                r["form_type"],
            )
            for r in rows.to_pylist()
        ]


def _rejected_bytes(accessions: Sequence[str], warehouse: Warehouse) -> dict[str, bytes]:
    if not accessions:
        return {}
    with warehouse.connection() as con:
        rows = con.execute(
            "SELECT accession_number, raw FROM rejects "
            "WHERE list_contains(?, accession_number) AND raw IS NOT NULL",
            [list(accessions)],
        ).fetchall()
    return {r[0]: bytes(r[1]) for r in rows}


# What a worker gets for one filing: where its raw copy is, or (from the rejects table) the
# bytes; and the form type its index row gave
_Item = tuple[str, RawLocation | bytes, str | None]


@dataclass(frozen=True, slots=True)
class _Parsed:
    """One batch parsed, ready to write."""

    batch: PreparedBatch
    loaded: int
    reject_reasons: tuple[str, ...]
    unreadable: tuple[str, ...]  # "accession: why" for raw copies that could not be read


def parse_batch(items: Sequence[_Item], settings: Settings, raw: RawStore) -> _Parsed:
    """Read and parse a batch -> its Arrow tables, a filing that fails going to the rejects
    table with its reason. Runs in a worker process: reads the raw store, touches no
    database, so the main process neither reads nor holds the raw bytes."""
    filings: list[ParsedFiling] = []
    rejects: list[Reject] = []
    unreadable: list[str] = []
    with collector_paused():
        for accession, source, form_type in items:
            try:
                data = source if isinstance(source, bytes) else raw.read(source, accession)
            except LoadError as exc:
                unreadable.append(f"{accession}: {exc}")
                continue
            try:
                filings.append(parse_raw(data, settings, accession, form_type))
            except Exception as exc:  # ParseError, or a parser bug met by this filing alone
                why = exc if isinstance(exc, ParseError) else unexpected(exc)
                reason = str(why).splitlines()[0][:1000]
                rejects.append(Reject(accession, why.stage, reason, data, utcnow()))
        batch = prepare_batch(filings, rejects=rejects)
    return _Parsed(
        batch,
        len(filings),
        tuple(f"{r.accession_number}: {r.stage}: {r.reason}" for r in rejects),
        tuple(unreadable),
    )


def _raw_batches(
    size: int, raw: RawStore, warehouse: Warehouse, result: ReprocessResult, selection: Path
) -> Iterator[list[_Item]]:
    """The selection a batch at a time: each filing's raw copy, or its bytes in the rejects
    table when the copy is gone; counts filings that have neither."""
    for chunk in _selected(selection, size):
        batch: list[_Item] = []
        gone: list[tuple[str, str | None]] = []  # copy gone: the rejects table may hold it
        # looked up per file, not per document (a pack holds a day); per batch, so a store of
        # a file per filing (before packs) does not fill it
        present: dict[str, bool] = {}
        for accession, where, form_type in chunk:
            if where is not None:
                found = present.get(where.path)
                if found is None:
                    found = present[where.path] = raw.exists(where)
                if found:
                    batch.append((accession, where, form_type))
                    continue
            gone.append((accession, form_type))
        stored = _rejected_bytes([accession for accession, _ in gone], warehouse)
        for accession, form_type in gone:
            if accession in stored:
                batch.append((accession, stored[accession], form_type))
            else:
                result.missing_raw += 1
        yield batch


def reprocess(
    settings: Settings,
    *,
    warehouse: Warehouse,
    raw: RawStore,
    start: date | None = None,
    end: date | None = None,
    rejects_only: bool = False,
) -> ReprocessResult:
    """Re-parse stored documents and reload them; returns what happened. The warehouse is
    opened for the selection and for each transaction written, not in between."""
    with tempfile.TemporaryDirectory(prefix="form4-reprocess-") as scratch:
        selection = Path(scratch) / "selection.parquet"
        result = ReprocessResult(
            selected=_selection(warehouse, start, end, rejects_only, selection)
        )
        size = settings.reprocess_batch_size
        # One batch gains nothing from a worker: it would wait for the worker to start.
        workers = settings.workers if result.selected > size else 0
        batches = _raw_batches(size, raw, warehouse, result, selection)
        parsed = ordered_map(
            partial(parse_batch, settings=settings, raw=raw), batches, workers=workers
        )
        for group in grouped(_counted(parsed, result)):
            warehouse.load_prepared(group)
    return result


def _counted(parsed: Iterable[_Parsed], result: ReprocessResult) -> Iterator[PreparedBatch]:
    for p in parsed:
        for message in p.unreadable:
            log.warning("%s", message)
        result.missing_raw += len(p.unreadable)
        result.batch.loaded += p.loaded
        result.batch.rejected += len(p.reject_reasons)
        result.batch.reject_reasons.extend(p.reject_reasons)
        unusable, unknown = flagged_counts(p.batch)
        result.batch.price_range_unusable += unusable
        result.batch.unknown_schema += unknown
        yield p.batch
