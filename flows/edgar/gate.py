"""EDGAR's block pages and the pause they impose: ``classify_block`` reads a response,
``BlockGate`` holds every request until the pause is over, and ``make_gate`` builds the gate of
a run.

EDGAR counts requests per machine, so a block seen by one form4 process pauses every form4
process of the user against the same host: the gate keeps the end of the pause in a small file
beside the shared rate-limit log (``FORM4_RATE_DIR``, ``{host}.block``), which every process
reads before each request. The file holds the end of the pause on ``time.monotonic`` (one
clock for the whole machine until it reboots) and the pause's length; an end further away than
its length (left by a previous boot) is ignored. Without a directory (``FORM4_RATE_DIR=none``,
a loopback EDGAR, no ``fcntl``) the pause holds this process only.

Neighbours: ``flows.edgar.client`` trips and waits at the gate around each request;
``flows.edgar.rate`` grants the rate slots taken after the gate opens.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from form4.flows.edgar.rate import MIN_SLEEP_S, Clock, Sleep, rate_file

if TYPE_CHECKING:
    from form4.flows.config import Settings

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "RATE_EXCEEDED",
    "UNDECLARED_TOOL",
    "BlockGate",
    "block_file",
    "classify_block",
    "decoded_head",
    "make_gate",
]

log = logging.getLogger("form4.http")

_MAGIC = b"form4bk1"
_RECORD = struct.Struct("<dd")  # end of the pause (monotonic), its length in seconds
RATE_EXCEEDED = b"Request Rate Threshold Exceeded"
UNDECLARED_TOOL = b"Undeclared Automated Tool"


def block_file(directory: Path, base_url: str) -> Path:
    """The pause shared by every run against ``base_url``'s host: beside its rate log."""
    return rate_file(directory, base_url).with_suffix(".block")


class BlockGate:
    """Shared pause: once EDGAR blocks us, nobody sends anything for ``pause_s`` seconds.

    EDGAR's block lasts ten minutes and renews while requests keep arriving, so every worker
    waits here before taking a rate-limiter slot. ``trip`` extends the pause, never shortens it.
    With ``path`` the pause is also written to that file and read from it, so that every
    process using the same file pauses (use ``time.monotonic`` as the clock then).
    """

    def __init__(
        self,
        pause_s: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        path: Path | None = None,
    ) -> None:
        self.pause_s = pause_s
        self.path = path
        self._until = 0.0
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self.trips = 0
        if path is not None:
            if fcntl is None:  # pragma: no cover - Windows
                raise OSError("a shared block pause needs fcntl (Linux or macOS)")
            path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))

    @property
    def paused_until(self) -> float:
        with self._lock:
            return max(self._until, self._shared(self._clock()))

    def trip(self) -> float:
        """Close the gate for ``pause_s`` from now (for every process sharing the file);
        returns when it reopens."""
        with self._lock:
            now = self._clock()
            self._until = max(self._until, now + self.pause_s)
            self.trips += 1
            if self.path is not None:
                try:
                    self._until = max(self._until, self._write(now, self._until))
                except OSError as exc:
                    log.warning("cannot share the block pause through %s: %s", self.path, exc)
            return self._until

    def is_open(self) -> bool:
        with self._lock:
            now = self._clock()
            return now >= self._until and now >= self._shared(now)

    def wait(self) -> None:
        """Return once the gate is open (immediately when it is)."""
        while True:
            with self._lock:
                now = self._clock()
                remaining = max(self._until, self._shared(now)) - now
            if remaining <= 0:
                return
            self._sleep(max(remaining, MIN_SLEEP_S))

    def _shared(self, now: float) -> float:
        """The end of the pause in the file (``-inf`` without a file or a valid pause)."""
        if self.path is None:
            return float("-inf")
        assert fcntl is not None
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return float("-inf")
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            return _valid(os.pread(fd, len(_MAGIC) + _RECORD.size, 0), now)
        except OSError:
            return float("-inf")
        finally:
            os.close(fd)  # releases the lock

    def _write(self, now: float, until: float) -> float:
        """Extend the file's pause to ``until`` (never shorten it); returns the file's end."""
        assert self.path is not None and fcntl is not None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            data = os.pread(fd, len(_MAGIC) + _RECORD.size, 0)
            current = _valid(data, now)
            if current >= until:
                return current
            os.pwrite(fd, _MAGIC + _RECORD.pack(until, max(until - now, 0.0)), 0)
            return until
        finally:
            os.close(fd)


def _valid(data: bytes, now: float) -> float:
    if len(data) != len(_MAGIC) + _RECORD.size or not data.startswith(_MAGIC):
        return float("-inf")
    until, length = (float(x) for x in _RECORD.unpack(data[len(_MAGIC) :]))
    if not until - now <= length + 1.0:  # from a previous boot (or not a number)
        return float("-inf")
    return until


def make_gate(settings: Settings) -> BlockGate:
    """The block gate of a run: shared through ``settings.rate_dir`` (like the rate limit) by
    every form4 process of the user against the same host, else this process's own. A
    directory that cannot be used is logged and the run pauses only itself."""
    if settings.rate_dir is None or fcntl is None:
        return BlockGate(settings.block_pause_s)
    path = block_file(settings.rate_dir, settings.edgar_url)
    try:
        return BlockGate(settings.block_pause_s, path=path)
    except OSError as exc:
        log.warning(
            "cannot share the block pause through %s: %s; this run pauses only itself", path, exc
        )
        return BlockGate(settings.block_pause_s)


def classify_block(status: int, body: bytes) -> str | None:
    """``"rate"`` for a rate-limit block, ``"undeclared"`` for an undeclared-tool block, else None.

    EDGAR answers a rate block with 429 or with 403 and its "Request Rate Threshold Exceeded"
    page, sometimes even with status 200 in place of the document asked for.
    """
    if status == 429:
        return "rate"
    if status not in (200, 403) or len(body) > 64 * 1024:
        return None
    head = body[: 64 * 1024]
    if head.lstrip()[:14] in (b"<SEC-DOCUMENT>", b"<SUBMISSION>"):
        return None
    if RATE_EXCEEDED in head:
        return "rate"
    if UNDECLARED_TOOL in head:
        return "undeclared"
    return None


def decoded_head(response: httpx.Response, raw: bytes) -> bytes:
    """The body as text bytes for block detection (small gzip/deflate bodies are inflated)."""
    encoding = response.headers.get("content-encoding", "").lower()
    if encoding in ("", "identity"):
        return raw
    if len(raw) > 64 * 1024 or encoding not in ("gzip", "deflate"):
        return b""
    try:
        return zlib.decompressobj(zlib.MAX_WBITS | 32).decompress(raw, 128 * 1024)
    except zlib.error:
        return b""
