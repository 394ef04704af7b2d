"""Waiting for the DuckDB file instead of failing: bounded retries and the single-writer lock.

DuckDB lets one process open a database file read-write, or any number of processes open it
read-only, never both at once; a connection that cannot get the file fails at once. form4's
writers therefore hold the file only while they commit a batch (``warehouse.db``), and every
open goes through ``connect``: on a lock conflict it retries with a short back-off, logs one
line naming the holder once the wait has lasted a second (a commit takes less), and after
``wait_s`` seconds raises a ``LoadError`` that names the process holding the file (DuckDB
reports its PID; ``/proc`` gives its command line).

Two form4 writers must still not interleave (two ingests of one day would fetch every filing
twice and race on the day's record), so a writer also holds ``WriterLock``: an ``flock`` on
``<database>.writer-lock`` beside the file, for its whole run, re-entrant within a process.
The lock file says which process holds it (PID, command, since when). The kernel drops the
lock when the process ends, however it ends. Neighbours: ``warehouse.db`` (the connections).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import duckdb

from form4.parsers.errors import LoadError

__all__ = [
    "READER_WAIT_S",
    "WRITER_WAIT_S",
    "WriterLock",
    "connect",
    "describe_pid",
    "is_lock_conflict",
]

log = logging.getLogger("form4.lock")

READER_WAIT_S = 60.0  # a query, a report, an export waits this long by default
WRITER_WAIT_S = 600.0  # an ingest, backfill, reprocess or watch waits this long by default
_FIRST_POLL_S = 0.01
_MAX_POLL_S = 0.2
_NOTICE_S = 1.0  # a wait for the DuckDB file is announced once it has lasted this long
_PID = re.compile(r"\(PID (\d+)\)")

Sleep = Callable[[float], None]
Clock = Callable[[], float]


def is_lock_conflict(exc: BaseException) -> bool:
    """A DuckDB error saying another process holds the file (not a damaged or missing file)."""
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def describe_pid(pid: int) -> str:
    """``PID 1234 (form4 ingest)``: the command line where the system shows it."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return f"PID {pid}"
    words = [w for w in raw.decode("utf-8", "replace").split("\0") if w]
    if len(words) > 1 and Path(words[0]).name.startswith("python"):
        words = words[1:]  # "python -m form4..." or a script: the interpreter says little
    command = " ".join(Path(words[0]).name if i == 0 else w for i, w in enumerate(words[:4]))
    if len(command) > 60:
        command = command[:57] + "..."
    return f"PID {pid} ({command})" if command else f"PID {pid}"


def _holder(message: str) -> str:
    match = _PID.search(message)
    return describe_pid(int(match.group(1))) if match else "another process"


def connect(
    path: Path,
    *,
    read_only: bool,
    wait_s: float,
    config: dict[str, str | bool | int | float | list[str]] | None = None,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to ``path``; while another process holds the file, wait for it (one
    notice line), at most ``wait_s`` seconds, then a ``LoadError`` naming the holder."""
    deadline: float | None = None
    noticed = False
    poll = _FIRST_POLL_S
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=config or {})
        except duckdb.Error as exc:
            message = str(exc).splitlines()[0]
            if not is_lock_conflict(exc):
                raise LoadError(f"cannot open {path}: {message}") from None
            holder = _holder(message)
            now = clock()
            if deadline is None:
                deadline = now + wait_s
            # a commit takes a fraction of a second: only a wait that lasts is worth a line
            if not noticed and wait_s > 0 and now >= deadline - wait_s + min(_NOTICE_S, wait_s / 2):
                noticed = True
                log.warning(
                    "form4: %s is in use by %s; waiting up to %g s (FORM4_LOCK_WAIT_S)",
                    path,
                    holder,
                    wait_s,
                )
            if now >= deadline:
                raise LoadError(
                    f"{path} is in use by {holder}; gave up after waiting {wait_s:g} s "
                    "(FORM4_LOCK_WAIT_S). A notebook or BI tool holding a connection open blocks "
                    "form4's writes: close it, or read the Parquet export instead"
                ) from None
            sleep(min(poll, max(deadline - now, 0.0)))
            poll = min(poll * 2, _MAX_POLL_S)


# One WriterLock per database file and process, shared by nested users (the nightly flow
# opens the warehouse for the load, then again to publish).
_HELD: dict[Path, tuple[int, int]] = {}  # resolved lock path -> (file descriptor, users)
_HELD_GUARD = threading.Lock()


class WriterLock:
    """The right to write one warehouse, for a whole run: one form4 writer at a time."""

    def __init__(
        self,
        db_path: Path,
        *,
        wait_s: float,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        self.path = db_path.with_name(db_path.name + ".writer-lock")
        self.wait_s = wait_s
        self._sleep = sleep
        self._clock = clock
        self._key: Path | None = None

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # not on Linux or macOS: DuckDB's own lock is all there is
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        key = self.path.resolve()
        with _HELD_GUARD:
            if key in _HELD:
                fd, users = _HELD[key]
                _HELD[key] = (fd, users + 1)
                self._key = key
                return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline: float | None = None
        poll = _FIRST_POLL_S
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    holder = self._holder()
                    now = self._clock()
                    if deadline is None:
                        deadline = now + self.wait_s
                        log.warning(
                            "form4: another form4 writer (%s) is using %s; waiting up to %g s "
                            "(FORM4_LOCK_WAIT_S)",
                            holder,
                            self.path.with_suffix(""),
                            self.wait_s,
                        )
                    if now >= deadline:
                        raise LoadError(
                            f"{self.path.name.removesuffix('.writer-lock')} is being written by "
                            f"another form4 process ({holder}); gave up after waiting "
                            f"{self.wait_s:g} s (FORM4_LOCK_WAIT_S)"
                        ) from None
                    self._sleep(min(poll, max(deadline - now, 0.0)))
                    poll = min(poll * 2, _MAX_POLL_S)
            record = {"pid": os.getpid(), "command": " ".join(sys.argv[:3]), "since": time.time()}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(record).encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        with _HELD_GUARD:
            _HELD[key] = (fd, 1)
        self._key = key

    def _holder(self) -> str:
        try:
            record = json.loads(self.path.read_text() or "{}")
            pid = int(record["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return "a process that has not said which"
        since = time.strftime("%H:%M:%S", time.localtime(float(record.get("since", 0))))
        return f"{describe_pid(pid)}, since {since}"

    def release(self) -> None:
        key, self._key = self._key, None
        if key is None:
            return
        with _HELD_GUARD:
            fd, users = _HELD[key]
            if users > 1:
                _HELD[key] = (fd, users - 1)
                return
            del _HELD[key]
        os.close(fd)  # closing the last descriptor drops the flock

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
