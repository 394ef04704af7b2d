"""Worker processes for reprocess: results in order, memory bounded, failures reported."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from form4.flows.pipeline.workers import ordered_map
from form4.parsers.errors import WorkerError


def _square_and_pid(n: int) -> tuple[int, int]:
    return n * n, os.getpid()


def _fail_on_three(n: int) -> int:
    if n == 3:
        raise ValueError(f"item {n} is bad")
    return n


def _die(n: int) -> int:
    os._exit(3)


def test_results_come_back_in_order_from_other_processes() -> None:
    """Guards against batches written out of order, or 'workers' silently running in-process."""
    results = list(ordered_map(_square_and_pid, range(20), workers=2))
    assert [r[0] for r in results] == [n * n for n in range(20)]
    assert os.getpid() not in {r[1] for r in results}


def test_no_workers_runs_in_this_process() -> None:
    """Guards against FORM4_WORKERS=0 still spawning processes (and needing picklable work)."""
    assert list(ordered_map(lambda n: (n, os.getpid()), range(3), workers=0)) == [
        (0, os.getpid()),
        (1, os.getpid()),
        (2, os.getpid()),
    ]


def test_items_are_read_only_a_few_ahead_of_the_consumer() -> None:
    """Guards against a reprocess reading every raw document of the run into memory up front."""
    pulled: list[int] = []

    def items() -> Iterator[int]:
        for n in range(50):
            pulled.append(n)
            yield n

    results = ordered_map(_square_and_pid, items(), workers=2)
    first = next(results)
    assert first[0] == 0
    assert 3 <= len(pulled) <= 4  # workers + 1 submitted, one more after the first result
    results.close()  # the caller stops early: queued work is dropped
    assert len(pulled) <= 4


def test_an_exception_in_a_worker_reaches_the_caller() -> None:
    """Guards against a failed batch being skipped silently."""
    with pytest.raises(ValueError, match="item 3 is bad"):
        list(ordered_map(_fail_on_three, range(6), workers=2))


def test_a_worker_that_dies_is_a_form4_error() -> None:
    """Guards against a killed worker (out of memory) hanging the run or ending in a traceback
    the CLI does not turn into one line."""
    with pytest.raises(WorkerError, match="worker process died"):
        list(ordered_map(_die, range(3), workers=1))
