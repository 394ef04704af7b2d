"""Filings suspected of killing the process, parsed one at a time in a child process.

Before a batch is parsed, ``flows.pipeline.ingest`` records its accessions in the warehouse's
``in_flight`` table, and the batch's load deletes them in the same transaction. A row still
there when a later run lists the filing means a run died (a crash in a C library, the
machine's OOM killer, a kill) while that filing was being parsed, converted or loaded. Such
*suspects* are not parsed in the run's own process again: ``parse_alone`` hands them, one by
one, to a spawned child that parses the filing and builds its Arrow tables. When the child
dies, the filing that killed it is known (the child works on one filing at a time) and is
rejected with stage ``crash``; the rest go on. Neighbours: ``flows.pipeline.ingest`` (the
caller), ``flows.pipeline.workers`` (the same kind of pool for ``form4 reprocess``).
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from form4.flows.config import Settings
from form4.parsers.errors import ParseError
from form4.warehouse.batch import PreparedBatch, Reject, prepare_batch
from form4.warehouse.db import utcnow

__all__ = ["FaultPoint", "Suspect", "crash_reject", "parse_alone", "parse_one", "set_fault_point"]

# Called with (accession, raw bytes) just before a filing is parsed, in whichever process
# parses it. None in normal runs; tests set one that kills the process on a marked filing, to
# prove that such a filing is found and rejected (``set_fault_point``).
FaultPoint = Callable[[str, bytes], None]
fault_point: FaultPoint | None = None


def set_fault_point(hook: FaultPoint | None) -> None:
    """Install a hook run before each parse, here and in the children (test-only)."""
    global fault_point
    fault_point = hook


@dataclass(frozen=True, slots=True)
class Suspect:
    accession_number: str
    form_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Parsed:
    """One filing's outcome as the child returns it: its Arrow tables (the filing's rows, or
    its reject), and the reject's reason line if it was rejected."""

    batch: PreparedBatch
    reject_reason: str | None


def crash_reject(accession: str, data: bytes, why: str) -> Reject:
    return Reject(accession, "crash", why, data, utcnow())


def parse_one(suspect: Suspect, settings: Settings) -> Parsed:
    """Parse and convert one filing (in the child). Imported late: the child imports only
    what parsing needs."""
    from form4.flows.pipeline.ingest import parse_raw

    if fault_point is not None:
        fault_point(suspect.accession_number, suspect.data)
    try:
        filing = parse_raw(suspect.data, settings, suspect.accession_number, suspect.form_type)
        return Parsed(prepare_batch([filing]), None)
    except ParseError as exc:
        reason = str(exc).splitlines()[0][:1000]
        reject = Reject(suspect.accession_number, exc.stage, reason, suspect.data, utcnow())
        return Parsed(prepare_batch([], rejects=[reject]), f"{exc.stage}: {reason}")
    except Exception as exc:  # an unexpected error in conversion: this filing's, not the run's
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:1000]
        reject = Reject(suspect.accession_number, "load", reason, suspect.data, utcnow())
        return Parsed(prepare_batch([], rejects=[reject]), f"load: {reason}")


def _child_init(hook: FaultPoint | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    set_fault_point(hook)


def _pool() -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_child_init,
        initargs=(fault_point,),
    )


def parse_alone(suspects: Sequence[Suspect], settings: Settings) -> Iterator[Parsed]:
    """Each suspect parsed in a child process, in order. The child takes one filing at a time,
    so when it dies the first unfinished suspect killed it: that one is rejected (stage
    ``crash``) and a new child takes the rest."""
    todo = list(suspects)
    while todo:
        pool = _pool()
        try:
            futures: list[Future[Parsed]] = [pool.submit(parse_one, s, settings) for s in todo]
            done = 0
            for future in futures:
                try:
                    result = future.result()
                except BrokenProcessPool:
                    break
                done += 1
                yield result
            else:
                todo = []
                continue
            culprit = todo[done]
            why = (
                "the process parsing this filing alone died (a crash in a C library, or "
                "killed); it is not parsed again"
            )
            reject = crash_reject(culprit.accession_number, culprit.data, why)
            yield Parsed(prepare_batch([], rejects=[reject]), f"crash: {why}")
            todo = todo[done + 1 :]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
