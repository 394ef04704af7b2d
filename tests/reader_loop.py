"""A reader in a process of its own: query the warehouse every ``--every`` seconds until a stop
file appears, each time through a fresh read-only connection that waits for a writer's commit;
then print one JSON line (queries, failures, the longest wait). Used by ``tests/test_live.py``
and ``bench/live.py``: ``python -m tests.reader_loop DB STOP_FILE [--every 0.1]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from form4.warehouse.lock import connect

__all__ = ["main"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", type=Path)
    parser.add_argument("stop", type=Path)
    parser.add_argument("--every", type=float, default=0.1)
    parser.add_argument("--wait", type=float, default=60.0)
    args = parser.parse_args()
    waits: list[float] = []
    failures: list[str] = []
    print("ready", flush=True)  # noqa: T201
    while not args.stop.exists():
        started = time.monotonic()
        try:
            con = connect(args.db, read_only=True, wait_s=args.wait)
            waited = time.monotonic() - started
            try:
                con.execute("SELECT count(*) FROM filings").fetchone()
            finally:
                con.close()
            waits.append(waited)
        except Exception as exc:  # a failed query is the finding: counted, not raised
            failures.append(f"{type(exc).__name__}: {exc}")
        time.sleep(args.every)
    result = {"queries": len(waits), "failures": failures, "max_wait_s": max(waits, default=0.0)}
    print(json.dumps(result), flush=True)  # noqa: T201


if __name__ == "__main__":
    main()
