"""Polite HTTP access to EDGAR: the one client factory and its transport.

``build_client(settings)`` returns an ``httpx.Client`` whose transport is a ``PoliteTransport``:
every request (redirects and retries included) first waits at the shared ``BlockGate`` (closed
for ``FORM4_BLOCK_PAUSE_S`` after EDGAR blocks us) and then takes a slot from the rate limiter
(at most ``FORM4_MAX_RPS`` requests in any one-second window): ``RateLimiter`` for this
process's threads, or ``flows.edgar.rate.SharedRateLimiter``, which also counts every other
form4 process of the user on the machine (``FORM4_RATE_DIR``, on by default). The transport
reads each body whole, so truncated bodies (Content-Length mismatch), resets, timeouts and 5xx
are retried here with exponential back-off and full jitter. Callers
(``flows.edgar.endpoints``) only see the final response or a ``FetchError``/``BlockedError``.
"""

from __future__ import annotations

import gc
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from form4.flows.config import Settings
from form4.flows.edgar.gate import BlockGate, classify_block, decoded_head
from form4.flows.edgar.rate import Limiter, make_limiter
from form4.parsers.errors import BlockedError, FetchError

__all__ = ["STREAM", "PoliteTransport", "RetryPolicy", "build_client"]

# A request extension: ``client.stream(..., extensions={STREAM: True})`` leaves the body of a
# 200 response that is not an HTML page unread, for the caller to stream (to a file, against a
# cap: ``flows.edgar.datasets``). Anything else is read whole and retried as usual.
STREAM = "form4.stream"

log = logging.getLogger("form4.http")

Sleep = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 5
    base_s: float = 1.0
    cap_s: float = 60.0
    max_blocks: int = 6

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter exponential back-off: uniform in [0, min(cap, base * 2**attempt)]."""
        return rng.uniform(0.0, min(self.cap_s, self.base_s * (2**attempt)))


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

    def _send_once(self, request: httpx.Request) -> tuple[httpx.Response, bytes | None]:
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
        if (
            request.extensions.get(STREAM)
            and response.status_code == 200
            and not response.headers.get("content-type", "").startswith("text/html")
        ):
            return response, None
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
                if raw is None:  # a streamed body (STREAM): the caller reads it
                    return response
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
            block = classify_block(response.status_code, decoded_head(response, raw))
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
