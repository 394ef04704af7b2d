"""Run every benchmark and print one merged JSON line: ``python bench/run.py --quick``.

Each script runs in its own process (so peak RSS and caches are its own); their last lines
(one JSON object each) are merged. ``--quick`` uses smaller sizes (same ratios) and finishes
in a few minutes on 2 cores; without it the full sizes of bench/RESULTS.md are used.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ("parse", "load", "e2e", "scale", "live", "datasets")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    merged: dict[str, object] = {}
    started = time.perf_counter()
    for name in SCRIPTS:
        cmd = [sys.executable, "-m", f"bench.{name}", *(["--quick"] if args.quick else [])]
        print(f"$ {' '.join(cmd[1:])}", flush=True)
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        for line in lines[:-1]:
            print(f"  {line}")
        if done.returncode != 0 or not lines:
            print(done.stderr[-2000:], file=sys.stderr)
            raise SystemExit(f"bench/{name}.py failed")
        merged.update(json.loads(lines[-1]))
    print(f"all benchmarks in {time.perf_counter() - started:.0f}s")
    print(json.dumps(merged))


if __name__ == "__main__":
    main()
