"""Shared helpers of the benchmark scripts: paths, corpus templates, timing, the JSON line.

Benchmarks are plain scripts run by hand (``python bench/run.py --quick``), never by pytest.
Each prints its figures and ends with one JSON line of ratios and rates.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
SAMPLES = ROOT / "flows" / "sample_data"
MALFORMED = "0002900002-26-000009"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def templates() -> list[bytes]:
    """Forms 4 and 4/A of the corpus and of the samples (the malformed sample excluded)."""
    subs = [p.read_bytes() for p in sorted((CORPUS / "txt").glob("*.txt"))]
    subs += [p.read_bytes() for p in sorted(SAMPLES.rglob("*.txt")) if MALFORMED not in p.name]
    subs = [s for s in subs if re.search(rb"CONFORMED SUBMISSION TYPE:\s*4(/A)?\s", s)]
    if not subs:
        raise SystemExit(f"no templates: is the corpus at {CORPUS}?")
    return subs


@contextmanager
def timer() -> Iterator[Callable[[], float]]:
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def best_of(runs: int, fn: Callable[[], object]) -> float:
    """The fastest of ``runs`` timings of ``fn`` (seconds): least disturbed by the machine."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def emit(figures: dict[str, float | int]) -> None:
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}))
