"""Scale: memory of a long backfill, and analyst queries over many transaction rows.

(a) Peak RSS while ``process_entries`` loads N synthetic filings from a local mirror in
batches (memory must be bounded by the batch size, not by history; full target: 1M filings,
peak RSS < 1 GB). (b) A warehouse of M synthetic transaction rows made in SQL across ~5,000
issuers and five years; time a one-issuer, one-year question on ``issuer_daily`` and on
``insider_trades`` (full target: 30M rows, < 200 ms each).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

from bench.common import emit, templates
from flows.config import Settings
from flows.http import build_client
from flows.ingest import load_new
from flows.mirror import EdgarMirror
from parsers.index import ownership_entries, parse_index
from tests.edgar_tree import daily_index_key, synthetic_day
from warehouse.db import Warehouse
from warehouse.raw import RawStore

DAY = date(2026, 2, 2)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def backfill(count: int, tmp: Path) -> tuple[float, float, float]:
    before = peak_rss_mb()
    tree = synthetic_day(DAY, templates(), count)
    entries = ownership_entries(parse_index(tree[daily_index_key(DAY)]), ("4", "4/A"))
    with EdgarMirror(tree) as mirror:
        env = {"SEC_USER_AGENT": "form4 bench bench@form4.example", "FORM4_MAX_RPS": "1000"}
        settings = Settings.from_env(env, db_path=tmp / "scale.duckdb", edgar_url=mirror.base_url)
        start = time.perf_counter()
        with build_client(settings) as client, Warehouse(settings.db_path) as wh:
            _, result = load_new(
                entries,
                settings=settings,
                client=client,
                warehouse=wh,
                raw=RawStore(settings.raw_root),
            )
        wall = time.perf_counter() - start
    assert result.loaded == len(entries), result
    return wall, before, peak_rss_mb()


QUERY_DAILY = "SELECT * FROM issuer_daily WHERE issuer_cik = ? AND filing_date BETWEEN ? AND ?"
QUERY_TRADES = (
    "SELECT owner_name, transaction_code, sum(shares) FROM insider_trades "
    "WHERE issuer_cik = ? AND filing_date BETWEEN ? AND ? GROUP BY ALL"
)


def queries(rows: int, tmp: Path) -> tuple[float, float]:
    filings = rows // 4
    with Warehouse(tmp / "q.duckdb") as wh:
        con = wh.con
        con.execute(
            f"""
            INSERT INTO filings (accession_number, form_type, filing_date, issuer_cik,
                issuer_ticker, issuer_name, loaded_at)
            SELECT printf('%010d-%02d-%06d', i % 5000, 26, i), '4',
                DATE '2021-01-01' + CAST(i % 1825 AS INTEGER),
                printf('%010d', i % 5000), 'T' || (i % 5000), 'Issuer ' || (i % 5000), now()
            FROM range({filings}) t(i)
            """
        )
        con.execute(
            """
            INSERT INTO reporting_owners (accession_number, owner_cik, owner_name, is_officer)
            SELECT accession_number, printf('%010d', hash(accession_number) % 100000),
                'Owner', true FROM filings
            """
        )
        con.execute(
            """
            INSERT INTO transactions (accession_number, line_no, is_derivative,
                transaction_code, shares, price_per_share, value, is_sell_to_cover, security_kind)
            SELECT f.accession_number, l.n, false, ['S', 'P', 'A', 'F'][l.n],
                100, 10, 1000, l.n = 1, NULL
            FROM filings f, range(1, 5) l(n)
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
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    count = 5_000 if args.quick else 1_000_000
    rows = 3_000_000 if args.quick else 30_000_000
    with tempfile.TemporaryDirectory() as tmp:
        wall, before, peak = backfill(count, Path(tmp))
        print(
            f"backfill of {count:,} filings: {wall:.1f}s, peak RSS {peak:.0f} MB "
            f"({before:.0f} MB before)"
        )
        daily_ms, trades_ms = queries(rows, Path(tmp))
    emit(
        {
            "scale_filings": count,
            "peak_rss_mb": peak,
            "query_rows": rows,
            "issuer_daily_ms": daily_ms,
            "insider_trades_ms": trades_ms,
        }
    )


if __name__ == "__main__":
    main()
