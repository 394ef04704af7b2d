"""End to end: ``run_ingest`` of a full-size day against the loopback mirror.

The day is built from the real ``form.20200318.idx``: as many distinct filings as it lists
Forms 4 (974), their bodies cloned from corpus and sample templates. Throttled at the SEC's
10 requests/s the floor is requests / 10 seconds (requests = distinct filings + 1 index);
target wall time <= 1.1 x floor, and the mirror's log must show no second over 10.
Unthrottled (FORM4_MAX_RPS=1000, loopback): target >= 500 filings/s on 2 cores.

The mirror runs in a process of its own, as EDGAR is another machine: in-process, its Python
request handling would share the GIL of the client under test.
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import tempfile
import time
from datetime import date
from multiprocessing.connection import Connection
from pathlib import Path

from bench.common import CORPUS, emit, templates
from form4.flows.cli.mirror import EdgarMirror, max_requests_in_any_window
from form4.flows.config import Settings
from form4.flows.ingest_flow import run_ingest
from tests.edgar_tree import synthetic_day

DAY = date(2026, 2, 2)


def form4_count() -> int:
    text = (CORPUS / "index/form.20200318.idx").read_text(encoding="latin-1")
    return len(set(re.findall(r"^4\s.*?(\d{10}-\d{2}-\d{6})\.txt", text, re.MULTILINE)))


def serve(conn: Connection, count: int) -> None:
    """In the mirror's process: serve the day, send the base URL, and once told to stop, the
    times of the requests it saw."""
    with EdgarMirror(synthetic_day(DAY, templates(), count)) as mirror:
        conn.send(mirror.base_url)
        conn.recv()
        conn.send([r.time for r in mirror.requests])


def run(count: int, rps: int, tmp: Path) -> tuple[float, list[float], int]:
    """(wall seconds of run_ingest, the mirror's request times, filings loaded)."""
    spawn = multiprocessing.get_context("spawn")
    ours, theirs = spawn.Pipe()
    server = spawn.Process(target=serve, args=(theirs, count))
    server.start()
    try:
        base_url = ours.recv()
        env = {
            "SEC_USER_AGENT": "form4 bench bench@form4.example",
            "FORM4_MAX_RPS": str(rps),
            "FORM4_RATE_DIR": str(tmp / "rate"),  # the limit shared by processes, as by default
        }
        settings = Settings.from_env(env, db_path=tmp / f"e2e{rps}.duckdb", edgar_url=base_url)
        start = time.perf_counter()
        result = run_ingest(settings, DAY, today=date(2026, 2, 10))
        wall = time.perf_counter() - start
        ours.send("stop")
        times: list[float] = ours.recv()
    finally:
        server.join(timeout=30)
        if server.is_alive():
            server.kill()
    assert result.error is None and result.totals.failed == 0, result
    return wall, times, result.totals.loaded


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    full = form4_count()
    throttled = 100 if args.quick else full
    with tempfile.TemporaryDirectory() as tmp:
        wall, times, _ = run(throttled, 10, Path(tmp))
        requests, peak = len(times), max_requests_in_any_window(times)
        floor = requests / 10
        assert requests == throttled + 1, (requests, throttled)
        assert peak <= 10, peak
        print(
            f"throttled: {throttled} filings, {requests} requests in {wall:.1f}s "
            f"(floor {floor:.1f}s: {wall / floor:.3f}x), peak {peak} in any second"
        )
        u_wall, _, u_loaded = run(full, 1000, Path(tmp))
        print(f"unthrottled: {u_loaded} filings in {u_wall:.2f}s = {u_loaded / u_wall:,.0f}/s")
    emit(
        {
            "e2e_filings": throttled,
            "e2e_vs_floor": wall / floor,
            "e2e_peak_rps": peak,
            "e2e_unthrottled_filings_per_s": u_loaded / u_wall,
        }
    )


if __name__ == "__main__":
    main()
