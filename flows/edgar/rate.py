"""The EDGAR rate limit: ``RateLimiter`` for one process's threads, ``SharedRateLimiter`` for
every form4 process of a user on one machine, and ``make_limiter`` choosing between them.

EDGAR counts requests per machine (its IP address), not per process: a nightly ingest and a
backfill into another warehouse, run at the same time, must stay under 10 requests/s
together. ``SharedRateLimiter`` keeps the same sliding log as ``RateLimiter`` (a
request may start when the ``n``-th previous one started at least one window ago), but in a
small file that every process locks (``flock``) while it reads the log, decides and appends
its start time. Threads of one process take turns at the file under a thread lock (``flock``
does not separate threads that share a descriptor).

Start times come from ``time.monotonic``, one clock for the whole machine until it reboots;
times ahead of the clock (left by a previous boot) are dropped. The file holds the last
``MAX_ENTRIES`` starts of the last 10 seconds (more than any window at a rate of 0.1/s or
above), so a slower process sharing the file still sees every start it must count. A file
without the log's magic bytes reads as an empty log. Linux and macOS (``fcntl``);
``make_limiter`` falls back to the per-process limiter where ``fcntl`` does not
exist.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from array import array
from bisect import bisect_right
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from form4.parsers.errors import ConfigError, FetchError

if TYPE_CHECKING:
    from form4.flows.config import Settings

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "AVAILABLE",
    "Clock",
    "Limiter",
    "RateLimiter",
    "Sleep",
    "make_limiter",
    "MARGIN_S",
    "MIN_SLEEP_S",
    "MAX_ENTRIES",
    "SharedRateLimiter",
    "rate_file",
    "sliding_window",
]

log = logging.getLogger("form4.http")

Clock = Callable[[], float]
Sleep = Callable[[float], None]

AVAILABLE = fcntl is not None
MAX_ENTRIES = 2048  # two seconds at the fastest rate any test or bench uses
_KEEP_S = 10.0  # starts younger than this are kept for slower processes sharing the file
MIN_SLEEP_S = 0.001  # never spin on a wait shorter than the clock can resolve
_MAGIC = b"form4rt1"  # 8 bytes, so the start times that follow stay aligned


MARGIN_S = 0.08  # see RateLimiter


def sliding_window(rate: float, margin_s: float) -> tuple[int, float]:
    """The rules both limiters follow: (n, window) such that a request may start when the
    ``n``-th previous one started at least ``window`` seconds ago. A fractional rate is
    rounded down; below 1/s, one request per ``1/rate`` seconds; ``margin_s`` is added."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    return max(1, math.floor(rate)), (1.0 if rate >= 1 else 1.0 / rate) + margin_s


def rate_file(directory: Path, base_url: str) -> Path:
    """The log shared by every run against ``base_url``'s host (and port)."""
    host = urlsplit(base_url).netloc.lower()
    safe = "".join(c if c.isalnum() or c in ".-" else "_" for c in host)
    return directory / f"{safe}.rate"


class SharedRateLimiter:
    """At most ``rate`` requests in any one-second window, counted over every process that
    uses the same file. Same ``rate``/``margin_s`` rules as ``RateLimiter``."""

    def __init__(
        self,
        path: Path,
        rate: float,
        *,
        margin_s: float = MARGIN_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.slots, self.window_s = sliding_window(rate, margin_s)
        if fcntl is None:  # pragma: no cover - Windows
            raise ConfigError("a shared rate limit needs fcntl (Linux or macOS)")
        self.path = path
        self._keep_s = max(self.window_s, _KEEP_S)
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        except OSError as exc:
            raise ConfigError(f"cannot use the shared rate-limit file {path}: {exc}") from None

    def acquire(self) -> float:
        """Block until a request may start; returns the start time granted."""
        while True:
            with self._lock:
                try:
                    granted, at = self._try()
                except OSError as exc:
                    raise FetchError(f"shared rate-limit file {self.path}: {exc}") from None
            if granted:
                return at
            self._sleep(max(at, MIN_SLEEP_S))

    def _try(self) -> tuple[bool, float]:
        """Under the file lock: (True, start time) with the start appended to the log, or
        (False, seconds to wait). The log stays sorted (every start is appended under the
        lock, from one clock), so it is searched by bisection: a few microseconds however
        many starts it holds."""
        assert fcntl is not None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            now = self._clock()
            log = _read(fd)
            end = bisect_right(log, now)  # later ones are from before a reboot
            first = bisect_right(log, now - self._keep_s, 0, end)
            recent = end - bisect_right(log, now - self.window_s, first, end)
            if recent >= self.slots:
                return False, log[end - self.slots] + self.window_s - now
            kept = log[max(first, end + 1 - MAX_ENTRIES) : end]
            kept.append(now)
            data = _MAGIC + kept.tobytes()
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
            return True, now
        finally:
            os.close(fd)  # releases the lock


def _read(fd: int) -> array[float]:
    """The log's start times, oldest first; a file that is not a log reads as no start."""
    data = os.pread(fd, len(_MAGIC) + MAX_ENTRIES * 8, 0)
    log = array("d")
    if data.startswith(_MAGIC) and len(data) % 8 == 0:
        log.frombytes(data[len(_MAGIC) :])
    return log


class Limiter(Protocol):
    def acquire(self) -> float:
        """Block until a request may start; returns the start time granted."""
        ...


class RateLimiter:
    """At most ``rate`` requests per second, measured over *any* one-second window.

    A sliding log of the last ``n`` start times (``n = floor(rate)``): a request may start only
    when the ``n``-th previous one started at least one second ago, plus ``margin_s`` so that
    arrival jitter at the server never packs ``n + 1`` requests into one window. The margin
    (80 ms, ~8% of the throughput) covers a thread that is slow to get the GIL or the network
    after its turn: at 30 ms a loaded 2-core CI machine once showed 11 in a second. A fractional
    rate is rounded down (2.5/s admits 2 in any second); below 1/s, one request per ``1/rate``
    seconds. Thread-safe; one instance is shared by every worker of a run.
    """

    def __init__(
        self,
        rate: float,
        *,
        margin_s: float = MARGIN_S,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.slots, self.window_s = sliding_window(rate, margin_s)
        self._starts: deque[float] = deque()
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def acquire(self) -> float:
        """Block until a request may start; returns the start time granted."""
        while True:
            with self._lock:
                now = self._clock()
                while self._starts and self._starts[0] + self.window_s <= now:
                    self._starts.popleft()
                if len(self._starts) < self.slots:
                    self._starts.append(now)
                    return now
                wait = self._starts[0] + self.window_s - now
            self._sleep(max(wait, MIN_SLEEP_S))


def make_limiter(settings: Settings) -> Limiter:
    """The rate limiter of a run: shared through ``settings.rate_dir`` by every form4 process of
    this user against the same host (``SharedRateLimiter``), else this process's own. A
    directory that cannot be used (say a read-only home in a container) is logged and the run
    goes on with its own limiter, which is what it had before sharing existed."""
    if settings.rate_dir is None or not AVAILABLE:
        return RateLimiter(settings.max_rps)
    path = rate_file(settings.rate_dir, settings.edgar_url)
    try:
        return SharedRateLimiter(path, settings.max_rps)
    except ConfigError as exc:
        log.warning("%s; this run counts only its own requests (set FORM4_RATE_DIR)", exc)
        return RateLimiter(settings.max_rps)
