"""The live warehouse: feed-to-warehouse latency of ``form4 watch``, and readers during an ingest.

Latency: the loopback server (``tests/edgar_server.py``) publishes a filing to its
latest-filings feed every ``--gap`` seconds while ``flows.pipeline.watch.watch`` polls every 10 s
(the minimum) at FORM4_MAX_RPS=10; each filing's latency is from its publication to the commit
of its rows (``feed_entries.loaded_at``). Target p95 <= poll interval + 5 s. Requests per idle
poll (a poll with nothing new): target 1 per form family.

Readers: an ingest of a ``--filings`` day at 10 requests/s, alone and then with a reader
process querying every 100 ms (``tests/reader_loop.py``, a fresh read-only connection per
query). Targets: the longest wait of any query <= 2 s, wall time with readers <= 1.05 x alone.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from bench.common import ROOT, emit, templates
from form4.flows.config import Settings
from form4.flows.edgar.client import build_client
from form4.flows.ingest_flow import run_ingest
from form4.flows.pipeline.watch import CycleResult, watch
from form4.warehouse.db import Warehouse
from tests.edgar_server import FaultyEdgar
from tests.edgar_tree import synthetic_day

DAY = date(2026, 2, 2)
POLL_S = 10.0


def settings_for(srv: FaultyEdgar, db: Path, **env: str) -> Settings:
    base = {"SEC_USER_AGENT": "form4 bench bench@form4.example", "FORM4_RATE_DIR": "none"}
    return Settings.from_env({**base, **env}, db_path=db, edgar_url=srv.base_url)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def latency(count: int, gap: float) -> dict[str, float | int]:
    tree = synthetic_day(DAY, templates(), count)
    filings = {k.rsplit("/", 1)[-1]: v for k, v in sorted(tree.items()) if k.endswith(".txt")}
    with tempfile.TemporaryDirectory() as tmp, FaultyEdgar(tree) as srv:
        settings = settings_for(srv, Path(tmp) / "w.duckdb", FORM4_MAX_RPS="10")
        cycles: list[CycleResult] = []
        stop = threading.Event()
        with build_client(settings) as client:
            watcher = threading.Thread(
                target=watch,
                args=(settings, client),
                kwargs={"every": POLL_S, "always": True, "stop": stop, "on_cycle": cycles.append},
            )
            watcher.start()
            published: dict[str, datetime] = {}
            time.sleep(POLL_S / 2)  # the first poll (nothing to load yet) is behind us
            for name, submission in filings.items():
                published[name.removesuffix(".txt")] = datetime.now(UTC).replace(tzinfo=None)
                srv.publish(submission)
                time.sleep(gap)
            time.sleep(POLL_S * 2)  # the last filing's poll, and one idle poll after it
            stop.set()
            watcher.join()
        con = duckdb.connect(str(settings.db_path), read_only=True)
        loaded = dict(
            con.execute("SELECT accession_number, loaded_at FROM feed_entries").fetchall()
        )
        con.close()
    waits = [(loaded[a] - t).total_seconds() for a, t in published.items() if loaded.get(a)]
    idle = [c.requests for c in cycles if c.new == 0]
    print(
        f"feed -> warehouse, {len(waits)}/{len(published)} filings loaded, poll {POLL_S:g} s: "
        f"p50 {percentile(waits, 0.5):.2f} s, p95 {percentile(waits, 0.95):.2f} s, "
        f"max {max(waits):.2f} s; requests per idle poll {statistics.mean(idle):.2f} "
        f"over {len(idle)} idle polls (1 form family)"
    )
    return {
        "feed_latency_p50_s": percentile(waits, 0.5),
        "feed_latency_p95_s": percentile(waits, 0.95),
        "feed_requests_per_idle_poll": statistics.mean(idle),
        "feed_filings_loaded": len(waits),
    }


def ingest_once(count: int, with_reader: bool) -> tuple[float, dict[str, object]]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        FaultyEdgar(synthetic_day(DAY, templates(), count)) as srv,
    ):
        db = Path(tmp) / "w.duckdb"
        Warehouse(db).close()
        stop = Path(tmp) / "stop"
        reader = None
        if with_reader:
            reader = subprocess.Popen(
                [sys.executable, "-m", "tests.reader_loop", str(db), str(stop)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            assert reader.stdout is not None and reader.stdout.readline().strip() == "ready"
        started = time.perf_counter()
        summary = run_ingest(settings_for(srv, db, FORM4_MAX_RPS="10"), DAY, today=DAY)
        wall = time.perf_counter() - started
        stop.touch()
        found: dict[str, object] = {}
        if reader is not None:
            out, _ = reader.communicate(timeout=60)
            found = json.loads(out.strip().splitlines()[-1])
        assert summary.totals.loaded == count, summary.totals
    return wall, found


def readers(count: int) -> dict[str, float | int]:
    alone, _ = ingest_once(count, with_reader=False)
    shared, found = ingest_once(count, with_reader=True)
    failures = found["failures"]
    assert isinstance(failures, list)
    print(
        f"ingest of {count} filings at 10 requests/s: {alone:.2f} s alone, {shared:.2f} s with a "
        f"reader querying every 100 ms ({shared / alone:.3f}x); {found['queries']} queries, "
        f"{len(failures)} failed, longest wait {found['max_wait_s']:.3f} s"
    )
    return {
        "ingest_alone_s": alone,
        "ingest_with_reader_s": shared,
        "ingest_reader_ratio": shared / alone,
        "reader_queries": int(str(found["queries"])),
        "reader_failures": len(failures),
        "reader_max_wait_s": float(str(found["max_wait_s"])),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--feed-filings", type=int, default=None)
    ap.add_argument("--gap", type=float, default=3.0, help="seconds between published filings")
    ap.add_argument("--filings", type=int, default=None, help="filings of the ingested day")
    args = ap.parse_args()
    feed_count = args.feed_filings or (12 if args.quick else 40)
    day_count = args.filings or (300 if args.quick else 1000)
    figures = latency(feed_count, args.gap)
    figures.update(readers(day_count))
    emit(figures)


if __name__ == "__main__":
    main()
