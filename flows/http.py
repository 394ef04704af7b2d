"""Polite HTTP access to EDGAR: the one client factory, the rate limiter and the block gate.

``build_client(settings)`` returns an ``httpx.Client`` whose transport is a ``PoliteTransport``:
every request (redirects and retries included) first waits at the shared ``BlockGate`` (closed
for ``FORM4_BLOCK_PAUSE_S`` after EDGAR blocks us) and then takes a slot from the rate limiter
(at most ``FORM4_MAX_RPS`` requests in any one-second window): ``RateLimiter`` for this
process's threads, or ``flows.shared_rate.SharedRateLimiter``, which also counts every other
form4 process of the user on the machine (``FORM4_RATE_DIR``, on by default). The transport
reads each body whole, so truncated bodies (Content-Length mismatch), resets, timeouts and 5xx
are retried here with exponential back-off and full jitter. Callers (``flows.edgar``) only see
the final response or a ``FetchError``/``BlockedError``.
"""

from __future__ import annotations

import gc
import logging
import random
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import httpx

from flows import shared_rate
from flows.config import Settings
from parsers.errors import BlockedError, ConfigError, FetchError

__all__ = [
    "BlockGate",
    "Limiter",
    "PoliteTransport",
    "RateLimiter",
    "RetryPolicy",
    "build_client",
    "classify_block",
    "make_limiter",
]

log = logging.getLogger("form4.http")

Clock = Callable[[], float]
Sleep = Callable[[float], None]

_MIN_SLEEP_S = 0.001  # never spin on a wait shorter than the clock can resolve
RATE_EXCEEDED = b"Request Rate Threshold Exceeded"
UNDECLARED_TOOL = b"Undeclared Automated Tool"


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
        margin_s: float = shared_rate.MARGIN_S,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.slots, self.window_s = shared_rate.sliding_window(rate, margin_s)
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
            self._sleep(max(wait, _MIN_SLEEP_S))


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


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 5
    base_s: float = 1.0
    cap_s: float = 60.0
    max_blocks: int = 6

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter exponential back-off: uniform in [0, min(cap, base * 2**attempt)]."""
        return rng.uniform(0.0, min(self.cap_s, self.base_s * (2**attempt)))


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


def _decoded_head(response: httpx.Response, raw: bytes) -> bytes:
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


class _PausedWhileWaiting(Exception):
    """EDGAR blocked us while this request waited for its rate slot: send it after the pause."""


_AT_WIRE_EVENT = ".send_request_headers.started"  # httpcore's trace: http11.… or http2.…


class PoliteTransport(httpx.BaseTransport):
    """Rate limit, block pause, eager body read and retries around a real transport.

    With ``at_wire`` (the default for httpx's own ``HTTPTransport``) a request takes its rate
    slot only once its connection is ready, just before the request line is written, through
    httpcore's ``trace`` hook: opening a connection (TCP and TLS, 100-300 ms to EDGAR) then
    happens before the slot's clock starts, not inside the limiter's margin. Taken before the
    connection, a run's first requests reached the server late, bunched with the next ones,
    and the server counted more than the limit in one second. Other transports (a test's
    ``MockTransport``) take the slot before the request; so does a transport that turns out
    never to call the hook (a warning says so).
    """

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        limiter: Limiter,
        gate: BlockGate,
        policy: RetryPolicy,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
        at_wire: bool | None = None,
    ) -> None:
        self.inner = inner
        self.limiter = limiter
        self.gate = gate
        self.policy = policy
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self.at_wire = isinstance(inner, httpx.HTTPTransport) if at_wire is None else at_wire

    def _backoff(self, attempt: int) -> float:
        with self._rng_lock:
            return self.policy.backoff(attempt, self._rng)

    def _take_slot(self) -> None:
        """Block until the gate is open and the limiter grants a start."""
        while True:
            self.gate.wait()
            self.limiter.acquire()  # may sleep: EDGAR may have blocked us meanwhile
            if self.gate.is_open():
                return

    def _send_once(self, request: httpx.Request) -> tuple[httpx.Response, bytes]:
        if not self.at_wire:
            self._take_slot()
            response = self.inner.handle_request(request)
        else:
            self.gate.wait()  # before taking a connection: a pause may last minutes
            taken: list[bool] = []

            def at_wire(event: str, info: dict[str, object]) -> None:
                if event.endswith(_AT_WIRE_EVENT):
                    self.limiter.acquire()
                    taken.append(True)
                    if not self.gate.is_open():
                        raise _PausedWhileWaiting

            request.extensions = {**request.extensions, "trace": at_wire}
            response = self.inner.handle_request(request)
            if not taken:
                self.at_wire = False
                self.limiter.acquire()  # count the request that went out without a slot
                log.warning(
                    "the HTTP transport does not report when a request is sent; "
                    "rate slots are now taken before each request"
                )
        try:
            stream = response.stream
            if not isinstance(stream, httpx.SyncByteStream):
                raise TypeError("PoliteTransport needs a synchronous inner transport")
            raw = b"".join(stream)
        finally:
            response.close()
        return response, raw

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        failures = 0
        blocks = 0
        while True:
            try:
                response, raw = self._send_once(request)
            except _PausedWhileWaiting:
                continue  # not sent: wait out the pause at the gate, then take a new slot
            except httpx.TransportError as exc:
                failures += 1
                if failures > self.policy.max_retries:
                    raise FetchError(f"{url}: {type(exc).__name__}: {exc}", url=url) from exc
                delay = self._backoff(failures - 1)
                log.warning("%s: %s; retry %d in %.2fs", url, type(exc).__name__, failures, delay)
                self._sleep(delay)
                continue
            block = classify_block(response.status_code, _decoded_head(response, raw))
            if block == "undeclared":
                raise BlockedError(
                    f"{url}: EDGAR refused the User-Agent as an undeclared automated tool; "
                    "declare a company or name and an email address",
                    url=url,
                    status=response.status_code,
                )
            if block == "rate":
                blocks += 1
                if blocks > self.policy.max_blocks:
                    raise BlockedError(
                        f"{url}: still blocked by EDGAR after {blocks - 1} pauses",
                        url=url,
                        status=response.status_code,
                    )
                self.gate.trip()
                log.warning(
                    "%s: EDGAR rate block (HTTP %d); pausing all requests for %.0fs",
                    url,
                    response.status_code,
                    self.gate.pause_s,
                )
                continue
            if response.status_code >= 500:
                failures += 1
                if failures > self.policy.max_retries:
                    raise FetchError(
                        f"{url}: HTTP {response.status_code} after {failures} attempts",
                        url=url,
                        status=response.status_code,
                    )
                delay = self._backoff(failures - 1)
                log.warning(
                    "%s: HTTP %d; retry %d in %.2fs", url, response.status_code, failures, delay
                )
                self._sleep(delay)
                continue
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                stream=httpx.ByteStream(raw),
                request=request,
                extensions=response.extensions,
            )

    def close(self) -> None:
        self.inner.close()


def make_limiter(settings: Settings) -> Limiter:
    """The rate limiter of a run: shared through ``settings.rate_dir`` by every form4 process of
    this user against the same host (``flows.shared_rate``), else this process's own. A
    directory that cannot be used (say a read-only home in a container) is logged and the run
    goes on with its own limiter, which is what it had before sharing existed."""
    if settings.rate_dir is None or not shared_rate.AVAILABLE:
        return RateLimiter(settings.max_rps)
    path = shared_rate.rate_file(settings.rate_dir, settings.edgar_url)
    try:
        return shared_rate.SharedRateLimiter(path, settings.max_rps)
    except ConfigError as exc:
        log.warning("%s; this run counts only its own requests (set FORM4_RATE_DIR)", exc)
        return RateLimiter(settings.max_rps)


def build_client(settings: Settings, *, inner: httpx.BaseTransport | None = None) -> httpx.Client:
    """The one factory for EDGAR clients: User-Agent, timeouts, rate limiter, block gate, retries.

    ``inner`` replaces the network transport (tests pass ``httpx.MockTransport``). Also moves
    the objects alive now (modules: Prefect, httpx, DuckDB...) out of the cyclic collector's
    reach (``gc.freeze``): a full collection of them holds the interpreter lock for about
    50 ms, which a request that has just taken its rate slot would spend before reaching the
    wire, most of the limiter's 80 ms margin. New objects are collected as usual.
    """
    gc.freeze()
    limits = httpx.Limits(
        max_connections=max(settings.concurrency, 1),
        max_keepalive_connections=max(settings.concurrency, 1),
    )
    transport = PoliteTransport(
        inner or httpx.HTTPTransport(limits=limits, retries=0),
        limiter=make_limiter(settings),
        gate=BlockGate(settings.block_pause_s),
        policy=RetryPolicy(
            max_retries=settings.max_retries,
            base_s=settings.retry_base_s,
            cap_s=settings.retry_cap_s,
            max_blocks=settings.max_blocks,
        ),
    )
    return httpx.Client(
        base_url=settings.edgar_url,
        headers={
            "User-Agent": settings.user_agent,
            "Accept-Encoding": "gzip, deflate",
        },
        timeout=httpx.Timeout(settings.timeout_s, connect=min(settings.timeout_s, 10.0)),
        transport=transport,
        follow_redirects=True,
        max_redirects=5,
    )
