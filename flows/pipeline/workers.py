"""CPU-bound batch work in worker processes, results in order, memory bounded.

``ordered_map(fn, items, workers=n)`` yields ``fn(item)`` for every item, in the items' order.
With ``workers`` 0 it runs in this process. Otherwise ``n`` spawned processes run ``fn`` while
the caller consumes earlier results (``form4 reprocess`` parses and builds Arrow tables in the
workers and writes DuckDB in the caller): at most ``n + 1`` items are submitted ahead of the
one being consumed, so memory is bounded by the batch size, not by the run. Workers are
spawned, not forked: the parent may hold threads (HTTP, Prefect) that a fork would copy in
the middle of their work. ``fn`` and the items must pickle: a module-level function, or a
``functools.partial`` of one. Neighbours: ``flows.pipeline.reprocess`` (the caller).
"""

from __future__ import annotations

import multiprocessing
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from typing import TypeVar

from form4.parsers.errors import WorkerError

__all__ = ["ordered_map"]

T = TypeVar("T")
R = TypeVar("R")


def _ignore_interrupts() -> None:
    """In a worker: Ctrl-C reaches the whole process group; the parent handles it (and stops
    the workers), so a worker neither dies mid-batch nor prints a traceback of its own."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def ordered_map(fn: Callable[[T], R], items: Iterable[T], *, workers: int) -> Iterator[R]:
    """``map(fn, items)``, run by ``workers`` processes (0: in this process), in order."""
    if workers <= 0:
        yield from map(fn, items)
        return
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_ignore_interrupts,
    )
    try:
        source = iter(items)
        pending: deque[Future[R]] = deque(pool.submit(fn, i) for i in islice(source, workers + 1))
        while pending:
            try:
                result = pending.popleft().result()
            except BrokenProcessPool as exc:
                raise WorkerError(
                    f"a worker process died before finishing its batch: {exc}"
                ) from None
            pending.extend(pool.submit(fn, i) for i in islice(source, 1))
            yield result
    finally:
        # Also when the caller stops early or fails: queued work is dropped, not run.
        pool.shutdown(wait=True, cancel_futures=True)
