"""EDGAR's block pages and the pause they impose: ``classify_block`` reads a response,
``BlockGate`` holds every request of the process until the pause is over.

Neighbours: ``flows.edgar.client`` trips and waits at the gate around each request;
``flows.edgar.rate`` grants the rate slots taken after the gate opens.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable

import httpx

__all__ = ["RATE_EXCEEDED", "UNDECLARED_TOOL", "BlockGate", "classify_block", "decoded_head"]

Clock = Callable[[], float]
Sleep = Callable[[float], None]

_MIN_SLEEP_S = 0.001  # never spin on a wait shorter than the clock can resolve
RATE_EXCEEDED = b"Request Rate Threshold Exceeded"
UNDECLARED_TOOL = b"Undeclared Automated Tool"


class BlockGate:
    """Shared pause: once EDGAR blocks us, nobody sends anything for ``pause_s`` seconds.

    EDGAR's block lasts ten minutes and renews while requests keep arriving, so every worker
    waits here before taking a rate-limiter slot. ``trip`` extends the pause, never shortens it.
    """

    def __init__(
        self, pause_s: float, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep
    ) -> None:
        self.pause_s = pause_s
        self._until = 0.0
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self.trips = 0

    @property
    def paused_until(self) -> float:
        with self._lock:
            return self._until

    def trip(self) -> float:
        """Close the gate for ``pause_s`` from now; returns when it reopens."""
        with self._lock:
            self._until = max(self._until, self._clock() + self.pause_s)
            self.trips += 1
            return self._until

    def is_open(self) -> bool:
        with self._lock:
            return self._clock() >= self._until

    def wait(self) -> None:
        """Return once the gate is open (immediately when it is)."""
        while True:
            with self._lock:
                remaining = self._until - self._clock()
            if remaining <= 0:
                return
            self._sleep(max(remaining, _MIN_SLEEP_S))


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
