"""Scale: memory of a long backfill, and analyst queries over many transaction rows.

(a) ``form4 backfill --from D --to D2`` in a subprocess against ``bench/synthetic_edgar.py``
(another subprocess, which makes quarterly indexes and submissions on request) over N synthetic
filings, 1,000 per business day; the peak RSS of the form4 process is read from
``getrusage(RUSAGE_CHILDREN)`` in a wrapper process.
Memory must be bounded by the batch size, not by history (full target: 1M filings, peak RSS
< 1 GB). (b) A warehouse of M synthetic transaction rows made in SQL across ~5,000 issuers and
five years; time a one-issuer, one-year question on ``issuer_daily`` and on ``insider_trades``
(full target: 30M rows, < 200 ms each). (c) ``form4 reprocess`` of the backfilled warehouse:
every stored filing parsed again (in FORM4_WORKERS' default of worker processes) and reloaded,
with its rate and peak RSS.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from bench.common import ROOT, emit
from bench.synthetic_edgar import SyntheticEdgar
from form4.warehouse.db import Warehouse

START = date(2021, 1, 4)
PER_DAY = 1000
BATCH = 1000  # filings per load transaction: what memory must be bounded by


def backfill(count: int, tmp: Path) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MB of the form4 process, filings loaded)."""
    days = max(1, count // PER_DAY)
    last = SyntheticEdgar(START, days, PER_DAY).days[-1]
    port_file = tmp / "port"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.synthetic_edgar",
            "--from",
            START.isoformat(),
            "--days",
            str(days),
            "--per-day",
            str(PER_DAY),
            "--port-file",
            str(port_file),
        ],
        cwd=ROOT,
    )
    try:
        while not port_file.exists():
            if server.poll() is not None:
                raise SystemExit("the synthetic EDGAR did not start")
            time.sleep(0.05)
        env = {
            **os.environ,
            "SEC_USER_AGENT": "form4 bench bench@form4.example",
            "FORM4_EDGAR_URL": f"http://127.0.0.1:{port_file.read_text()}",
            "FORM4_MAX_RPS": "1000",
            "FORM4_BATCH_SIZE": str(BATCH),
            "FORM4_DB": str(tmp / "scale.duckdb"),
            "FORM4_RAW_DIR": str(tmp / "raw"),
            "FORM4_RATE_DIR": str(tmp / "rate"),  # shared limit as by default, not the user's
        }
        wall, peak = run_form4(
            ["backfill", "--from", START.isoformat(), "--to", last.isoformat()], env, tmp
        )
    finally:
        server.kill()
        server.wait()
    with Warehouse(tmp / "scale.duckdb", read_only=True) as wh:
        loaded = wh.count("filings")
    return wall, peak, loaded


# Runs the command given after it and prints, last, the largest peak RSS (KB) of any process
# of its tree: RUSAGE_CHILDREN covers every descendant waited for, workers of workers included.
_RSS_WRAPPER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:]).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, flush=True)\n"
    "sys.exit(code)"
)


def run_form4(args: list[str], env: dict[str, str], tmp: Path) -> tuple[float, float]:
    """Run the form4 CLI in a subprocess: (wall seconds, the largest peak RSS in MB of its
    processes: the form4 process, or one of its workers)."""
    log_path = tmp / f"{args[0]}.log"
    cmd = [sys.executable, "-c", _RSS_WRAPPER, sys.executable, "-m", "form4.flows.cli.main", *args]
    start = time.perf_counter()
    with open(log_path, "wb") as log:
        done = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    output = log_path.read_text()
    if done.returncode != 0:
        sys.stdout.write(output[-3000:])
        raise SystemExit(f"form4 {args[0]} failed")
    return wall, int(output.split()[-1]) / 1024


def reprocess(tmp: Path) -> tuple[float, float]:
    """``form4 reprocess`` of the backfilled warehouse, no network: (wall seconds, the largest
    peak RSS in MB of its processes)."""
    env = {
        **os.environ,
        "SEC_USER_AGENT": "form4 bench bench@form4.example",
        "FORM4_DB": str(tmp / "scale.duckdb"),
        "FORM4_RAW_DIR": str(tmp / "raw"),
    }
    return run_form4(["reprocess"], env, tmp)


QUERY_DAILY = "SELECT * FROM issuer_daily WHERE issuer_cik = ? AND filing_date BETWEEN ? AND ?"
QUERY_TRADES = (
    "SELECT owner_name, transaction_code, sum(shares) FROM insider_trades "
    "WHERE issuer_cik = ? AND filing_date BETWEEN ? AND ? GROUP BY ALL"
)


def queries(rows: int, tmp: Path) -> tuple[float, float]:
    """Rows are made in filing-date order, as nightly loads and backfills add them; the
    issuers (5,000) are spread over every day, accession prefixes are the issuer's."""
    filings = rows // 4
    per_day = filings // 1825 + 1
    with Warehouse(tmp / "q.duckdb") as wh:
        con = wh.con
        con.execute(
            f"""
            INSERT INTO filings (accession_number, form_type, filing_date, issuer_cik,
                issuer_ticker, issuer_name, loaded_at)
            SELECT printf('%010d-%02d-%06d', k, 26, i), '4',
                DATE '2021-01-01' + CAST(i // {per_day} AS INTEGER),
                printf('%010d', k), 'T' || k, 'Issuer ' || k, now()
            FROM (SELECT i, (i * 7919) % 5000 AS k FROM range({filings}) t(i))
            ORDER BY i
            """
        )
        con.execute(
            """
            INSERT INTO reporting_owners (accession_number, owner_cik, owner_name, is_officer,
                issuer_cik, filing_date)
            SELECT accession_number, printf('%010d', hash(accession_number) % 100000),
                'Owner', true, issuer_cik, filing_date FROM filings ORDER BY filing_date
            """
        )
        con.execute(
            """
            INSERT INTO transactions (accession_number, line_no, is_derivative,
                transaction_code, shares, price_per_share, value, is_sell_to_cover, security_kind,
                issuer_cik, filing_date)
            SELECT f.accession_number, l.n, false, ['S', 'P', 'A', 'F'][l.n],
                100, 10, 1000, l.n = 1, NULL, f.issuer_cik, f.filing_date
            FROM filings f, range(1, 5) l(n) ORDER BY f.filing_date
            """
        )
        con.execute("CHECKPOINT")
        args = ["0000000042", date(2024, 1, 1), date(2024, 12, 31)]
        timings = []
        for sql in (QUERY_DAILY, QUERY_TRADES):
            con.execute(sql, args).fetchall()  # warm
            start = time.perf_counter()
            for _ in range(3):
                con.execute(sql, args).fetchall()
            timings.append((time.perf_counter() - start) / 3 * 1000)
        n = wh.count("transactions")
    print(
        f"{n:,} transaction rows: issuer_daily {timings[0]:.0f} ms, "
        f"insider_trades {timings[1]:.0f} ms (one issuer, one year)"
    )
    return timings[0], timings[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="5,000 filings and 3M rows")
    ap.add_argument("--filings", type=int, help="backfill size (0: skip the backfill)")
    ap.add_argument("--rows", type=int, help="query warehouse size (0: skip the queries)")
    args = ap.parse_args()
    count = args.filings if args.filings is not None else 5_000 if args.quick else 1_000_000
    rows = args.rows if args.rows is not None else 3_000_000 if args.quick else 30_000_000
    figures: dict[str, float | int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if count:
            wall, peak, loaded = backfill(count, Path(tmp))
            print(
                f"backfill of {loaded:,} filings: {wall:.1f}s ({loaded / wall:,.0f}/s), "
                f"peak RSS of form4 {peak:.0f} MB"
            )
            figures |= {
                "scale_filings": loaded,
                "scale_filings_per_s": loaded / wall,
                "peak_rss_mb": peak,
            }
            wall, peak = reprocess(Path(tmp))
            print(
                f"reprocess of {loaded:,} filings: {wall:.1f}s ({loaded / wall:,.0f}/s), "
                f"peak RSS of its largest process {peak:.0f} MB"
            )
            figures |= {
                "reprocess_filings_per_s": loaded / wall,
                "reprocess_peak_rss_mb": peak,
            }
        if rows:
            daily_ms, trades_ms = queries(rows, Path(tmp))
            figures |= {
                "query_rows": rows,
                "issuer_daily_ms": daily_ms,
                "insider_trades_ms": trades_ms,
            }
    emit(figures)


if __name__ == "__main__":
    main()
