"""Load throughput: parsed records -> DuckDB through Arrow, and the cost of an idempotent reload.

Synthetic filings of four transaction rows, dated 1,000 a day, are loaded into a fresh warehouse
in batches of FORM4_REPROCESS_BATCH_SIZE's default, then loaded again, which must add no row.
Two ways, both as form4 runs them:

- the bulk path of ``form4 reprocess``: FORM4_WORKERS' default of worker processes turn records
  into Arrow tables (``prepare_batch``; the records are made in the worker, as a parse makes
  them there, and that time is counted too) while this process writes them, several batches to
  a transaction (``grouped``, ``load_prepared``);
- one process: records -> Arrow -> DuckDB in turn (``load_batch``), as the nightly ingest loads.
  Also in batches of FORM4_BATCH_SIZE's default (the nightly's), where the fixed cost of a
  transaction dominates.

Also times the conversion alone, and DuckDB appending the prepared Arrow tables in the bulk
path's transactions (the floor).
Targets: >= 200,000 transaction rows/s; reload <= 2x the first load.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, timedelta
from functools import partial
from pathlib import Path

import pyarrow as pa

from bench.common import emit
from form4.flows.config import Settings
from form4.flows.pipeline.workers import ordered_map
from form4.parsers.records import ParsedFiling
from form4.warehouse.batch import PreparedBatch, grouped, prepare_batch
from form4.warehouse.db import Warehouse
from tests.records_factory import filing

ROWS_PER_FILING = 4
FIRST_DAY = date(2021, 1, 4)
_DEFAULTS = Settings.from_env({"SEC_USER_AGENT": "bench bench@form4.example"})
BULK = _DEFAULTS.reprocess_batch_size
NIGHTLY = _DEFAULTS.batch_size
WORKERS = _DEFAULTS.workers


_TEMPLATE = filing("0009000000-26-000000", transactions=ROWS_PER_FILING)


def synthetic(first: int, count: int) -> list[ParsedFiling]:
    """Filings number ``first`` to ``first + count - 1``, dated 1,000 a day from 2021-01-04,
    as a backfill adds them."""
    return [
        replace(
            _TEMPLATE,
            header=replace(
                _TEMPLATE.header,
                accession_number=f"0009{i // 1_000_000:06d}-26-{i % 1_000_000:06d}",
                filing_date=FIRST_DAY + timedelta(days=i // 1000),
            ),
        )
        for i in range(first, first + count)
    ]


def batches(rows: int, size: int = BULK) -> list[list[ParsedFiling]]:
    """``rows`` transaction rows' filings, in batches of ``size`` filings."""
    filings = synthetic(0, rows // ROWS_PER_FILING)
    return [filings[i : i + size] for i in range(0, len(filings), size)]


def duckdb_floor(tables: list[Mapping[str, pa.Table]]) -> float:
    """Seconds DuckDB alone takes to append the same Arrow tables, one transaction per group
    of batches as the bulk path makes them, to a fresh warehouse: no conversion, no look-up,
    replace or state bookkeeping."""
    with tempfile.TemporaryDirectory() as tmp, Warehouse(Path(tmp) / "floor.duckdb") as wh:
        con = wh.con
        start = time.perf_counter()
        for batch in tables:
            con.begin()
            for name, table in batch.items():
                if table.num_rows:
                    con.from_arrow(table).insert_into(name)
            con.commit()
        return time.perf_counter() - start


def timed_load(work: list[list[ParsedFiling]], *, again: bool = False) -> tuple[float, float]:
    """(seconds for the load, seconds for loading the same batches again) into a fresh
    warehouse; checks that the second load added no row."""
    with tempfile.TemporaryDirectory() as tmp, Warehouse(Path(tmp) / "load.duckdb") as wh:
        start = time.perf_counter()
        for batch in work:
            wh.load_batch(batch)
        first = time.perf_counter() - start
        count = wh.count("transactions")
        if not again:
            return first, 0.0
        start = time.perf_counter()
        for batch in work:
            wh.load_batch(batch)
        second = time.perf_counter() - start
        assert wh.count("transactions") == count, "a reload added rows"
        return first, second


def prepared(first: int, *, size: int) -> PreparedBatch:
    """In a worker: the records of one batch, made and turned into Arrow tables."""
    return prepare_batch(synthetic(first, size))


def timed_workers(rows: int, workers: int) -> tuple[float, float]:
    """(first load, reload) seconds with ``workers`` processes preparing the batches and this
    one writing them, as ``form4 reprocess`` does; checks that the reload added no row."""
    starts = range(0, rows // ROWS_PER_FILING, BULK)
    make = partial(prepared, size=BULK)
    times = []
    with tempfile.TemporaryDirectory() as tmp, Warehouse(Path(tmp) / "load.duckdb") as wh:
        for _ in ("first", "again"):
            start = time.perf_counter()
            for group in grouped(ordered_map(make, starts, workers=workers)):
                wh.load_prepared(group)
            times.append(time.perf_counter() - start)
            assert wh.count("transactions") == rows, "a load lost or added rows"
    return times[0], times[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    rows = 100_000 if args.quick else 1_000_000
    workers_first, workers_again = timed_workers(rows, WORKERS)
    work = batches(rows)
    # The pipeline holds one batch at a time; the bench holds all of them. Freeze them so the
    # collector does not rescan a million live records at every collection.
    gc.freeze()
    start = time.perf_counter()
    tables = [prepare_batch(batch) for batch in work]
    arrow_s = time.perf_counter() - start
    floor_s = duckdb_floor([group.tables for group in grouped(tables)])
    del tables
    first, again = timed_load(work, again=True)
    every = [f for batch in work for f in batch]
    nightly_s, _ = timed_load([every[i : i + NIGHTLY] for i in range(0, len(every), NIGHTLY)])
    print(f"{rows:,} transaction rows in {len(work)} batches of {BULK} filings")
    print(
        f"{WORKERS} worker processes making Arrow tables, this one writing (form4 reprocess): "
        f"{workers_first:.2f}s = {rows / workers_first:,.0f} rows/s; reload "
        f"{workers_again:.2f}s = {workers_again / workers_first:.2f}x"
    )
    print(
        f"one process: {first:.2f}s = {rows / first:,.0f} rows/s (records->Arrow {arrow_s:.2f}s); "
        f"reload {again:.2f}s = {again / first:.2f}x (replaces, adds 0 rows)"
    )
    print(
        f"floor: DuckDB appending the prepared Arrow tables {floor_s:.2f}s = "
        f"{rows / floor_s:,.0f} rows/s; the worker path takes {workers_first / floor_s:.2f}x "
        f"that, one process {first / floor_s:.2f}x"
    )
    print(f"in the nightly batches of {NIGHTLY} filings: {rows / nightly_s:,.0f} rows/s")
    emit(
        {
            "load_rows_per_s": rows / workers_first,
            "reload_vs_load": workers_again / workers_first,
            "load_workers": WORKERS,
            "load_rows_per_s_one_process": rows / first,
            "reload_vs_load_one_process": again / first,
            "load_arrow_share": arrow_s / first,
            "load_vs_duckdb_floor": workers_first / floor_s,
            "load_one_process_vs_duckdb_floor": first / floor_s,
            "duckdb_floor_rows_per_s": rows / floor_s,
            "load_rows_per_s_nightly_batches": rows / nightly_s,
        }
    )


if __name__ == "__main__":
    main()
