"""A batch ready to load: its Arrow tables and the accessions it replaces, made without DuckDB.

``prepare_batch`` is pure (records in, Arrow tables out), so it can run in a worker process
while the loading process writes the batch before it: ``form4 reprocess`` does this
(``flows.pipeline.workers``). A ``PreparedBatch`` pickles, its tables as their Arrow buffers.
``Warehouse.load_prepared`` writes one in a transaction. Neighbours: ``warehouse.rows``
(records -> Arrow), ``warehouse.db`` (the write).
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc

from form4.parsers.ownership import is_known_schema_version
from form4.parsers.records import ParsedFiling
from form4.warehouse.rows import filings_to_arrow
from form4.warehouse.schema import arrow_schema

__all__ = [
    "GROUP_BYTES",
    "GROUP_ROWS",
    "PreparedBatch",
    "RawDocument",
    "Reject",
    "collector_paused",
    "grouped",
    "merge_batches",
    "prepare_batch",
]

# DuckDB's row group: a transaction that appends at least this many rows to a table writes them
# compressed straight into the database file, instead of uncompressed into the write-ahead log
# and compressed again at the next checkpoint. Bulk loads group their batches up to it.
GROUP_ROWS = 122_880
# ... unless the group's Arrow tables reach this size first (filings without transactions).
GROUP_BYTES = 128 << 20


@dataclass(frozen=True, slots=True)
class Reject:
    accession_number: str
    stage: str
    reason: str
    raw: bytes
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class RawDocument:
    accession_number: str
    filing_date: date | None
    cik: str
    path: str
    size: int
    sha256: str
    fetched_at: datetime
    member_offset: int | None = None  # in a pack; None: ``path`` is the document alone
    member_length: int | None = None
    form_type: str | None = None  # the index's, so a reprocess checks the submission against it


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """What ``Warehouse.load_prepared`` writes: every table's rows of the batch, and the
    accessions whose stored rows they replace."""

    keys: tuple[str, ...]
    """Every accession of the batch (filings, rejects, raw documents), sorted."""
    issuers: tuple[str, ...]
    """The issuers of the batch's filings, sorted: amendments waiting for them are linked."""
    has_amendments: bool
    """Whether a filing of the batch is an amendment (form type ending in /A)."""
    tables: Mapping[str, pa.Table]
    """One table per data table, plus ``rejects`` and ``raw_documents``."""


def _records_table(name: str, records: Sequence[object]) -> pa.Table:
    schema = arrow_schema(name)
    return pa.Table.from_pydict(
        {f.name: [getattr(r, f.name) for r in records] for f in schema}, schema=schema
    )


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector. Parsing or converting a batch allocates millions
    of objects and makes no reference cycle, yet each few hundred allocations would start a
    collection that rescans the live records: a sixth of the conversion's time
    (bench/load.py). Memory is unaffected: without cycles, reference counting frees it all."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def prepare_batch(
    filings: Sequence[ParsedFiling],
    *,
    rejects: Sequence[Reject] = (),
    raw_documents: Sequence[RawDocument] = (),
) -> PreparedBatch:
    """The Arrow tables of a batch and its keys; no database is touched."""
    with collector_paused():
        return _prepare(filings, rejects, raw_documents)


def _prepare(
    filings: Sequence[ParsedFiling],
    rejects: Sequence[Reject],
    raw_documents: Sequence[RawDocument],
) -> PreparedBatch:
    keys = sorted(
        {f.header.accession_number for f in filings}
        | {r.accession_number for r in rejects}
        | {d.accession_number for d in raw_documents}
    )
    tables = filings_to_arrow(filings)
    tables["rejects"] = _records_table("rejects", rejects)
    tables["raw_documents"] = _records_table("raw_documents", raw_documents)
    return PreparedBatch(
        keys=tuple(keys),
        issuers=tuple(sorted({f.document.issuer.cik for f in filings})),
        has_amendments=any(f.header.form_type.endswith("/A") for f in filings),
        tables=tables,
    )


def merge_batches(batches: Sequence[PreparedBatch]) -> PreparedBatch:
    """Several prepared batches of distinct accessions as one (Arrow tables concatenated
    without copying)."""
    if len(batches) == 1:
        return batches[0]
    return PreparedBatch(
        keys=tuple(sorted(k for b in batches for k in b.keys)),
        issuers=tuple(sorted({i for b in batches for i in b.issuers})),
        has_amendments=any(b.has_amendments for b in batches),
        tables={
            name: pa.concat_tables([b.tables[name] for b in batches]) for name in batches[0].tables
        },
    )


def grouped(batches: Iterable[PreparedBatch]) -> Iterator[PreparedBatch]:
    """Consecutive batches merged until a group holds ``GROUP_ROWS`` transaction rows or
    ``GROUP_BYTES`` of Arrow data: one transaction each, which DuckDB writes compressed (a
    million rows load about 1.3x as fast as in 5,000-filing transactions, bench/load.py).
    Memory holds one group's Arrow tables, not its records."""
    group: list[PreparedBatch] = []
    rows = size = 0
    for batch in batches:
        group.append(batch)
        rows += batch.tables["transactions"].num_rows
        size += sum(t.nbytes for t in batch.tables.values())
        if rows >= GROUP_ROWS or size >= GROUP_BYTES:
            yield merge_batches(group)
            group, rows, size = [], 0, 0
    if group:
        yield merge_batches(group)


def flagged_counts(batch: PreparedBatch) -> tuple[int, int]:
    """Of a prepared batch: the transaction rows whose footnoted price range was not
    published, and the filings of a schema version form4 does not know (what ``form4 ingest``
    and ``form4 reprocess`` report)."""
    tx = batch.tables.get("transactions")
    unusable = int(pc.sum(tx["price_range_unusable"]).as_py() or 0) if tx is not None else 0
    filings = batch.tables.get("filings")
    unknown = 0
    if filings is not None and filings.num_rows:
        pairs = zip(
            filings["document_type"].to_pylist(),
            filings["schema_version"].to_pylist(),
            strict=True,
        )
        unknown = sum(not is_known_schema_version(d, v) for d, v in pairs)
    return unusable, unknown
