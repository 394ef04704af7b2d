"""Load throughput: parsed records -> DuckDB through Arrow, and the cost of an idempotent reload.

Synthetic filings of four transaction rows are loaded in batches of FORM4_BATCH_SIZE's default
(as ingest does) into a fresh warehouse; then the same batches are loaded again, which must add
no row.
Also times ``filings_to_arrow`` alone, to show where the time goes. Targets: >= 200,000
transaction rows/s; reload <= 2x the first load.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from dataclasses import fields
from pathlib import Path

from bench.common import emit
from flows.config import Settings
from parsers.records import ParsedFiling
from tests.records_factory import filing
from warehouse.db import Warehouse
from warehouse.rows import filings_to_arrow

ROWS_PER_FILING = 4
BATCH = next(f.default for f in fields(Settings) if f.name == "batch_size")  # FORM4_BATCH_SIZE


def batches(rows: int, size: int = BATCH) -> list[list[ParsedFiling]]:
    filings = [
        filing(f"0009{i // 1_000_000:06d}-26-{i % 1_000_000:06d}", transactions=ROWS_PER_FILING)
        for i in range(rows // ROWS_PER_FILING)
    ]
    return [filings[i : i + size] for i in range(0, len(filings), size)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    rows = 100_000 if args.quick else 1_000_000
    work = batches(rows)
    # The pipeline holds one batch at a time; the bench holds all of them. Freeze them so the
    # collector does not rescan a million live records at every collection.
    gc.freeze()
    start = time.perf_counter()
    for batch in work:
        filings_to_arrow(batch)
    arrow_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp, Warehouse(Path(tmp) / "load.duckdb") as wh:
        start = time.perf_counter()
        for batch in work:
            wh.load_batch(batch)
        first = time.perf_counter() - start
        count = wh.count("transactions")
        start = time.perf_counter()
        for batch in work:
            wh.load_batch(batch)
        again = time.perf_counter() - start
        assert wh.count("transactions") == count == rows, "a reload added rows"
    big = [f for batch in work for f in batch]
    big = [big[i : i + BATCH * 10] for i in range(0, len(big), BATCH * 10)]
    with tempfile.TemporaryDirectory() as tmp, Warehouse(Path(tmp) / "big.duckdb") as wh:
        start = time.perf_counter()
        for batch in big:
            wh.load_batch(batch)
        big_s = time.perf_counter() - start
    print(f"{rows:,} transaction rows in {len(work)} batches")
    print(f"with 10x larger batches ({BATCH * 10} filings): {rows / big_s:,.0f} rows/s")
    print(f"first load: {first:.2f}s = {rows / first:,.0f} rows/s (records->Arrow {arrow_s:.2f}s)")
    print(f"reload (replaces, adds 0 rows): {again:.2f}s = {again / first:.2f}x the first load")
    emit(
        {
            "load_rows_per_s": rows / first,
            "reload_vs_load": again / first,
            "load_arrow_share": arrow_s / first,
            "load_rows_per_s_batch_2500": rows / big_s,
        }
    )


if __name__ == "__main__":
    main()
