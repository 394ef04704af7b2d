"""Polite HTTP access to EDGAR: the one client factory and its transport.

``build_client(settings)`` returns an ``httpx.Client`` whose transport is a ``PoliteTransport``:
every request (redirects and retries included) first waits at the ``BlockGate`` (closed for
``FORM4_BLOCK_PAUSE_S`` after EDGAR blocks any form4 process of the user, see
``flows.edgar.gate``) and then takes a slot from the rate limiter (at most ``FORM4_MAX_RPS``
requests in any one-second window): ``RateLimiter`` for this process's threads, or
``flows.edgar.rate.SharedRateLimiter``, which also counts every other form4 process of the user
on the machine (``FORM4_RATE_DIR``, on by default). The transport reads each body as a stream
against a byte cap and within the request's deadline (``flows.edgar.wire``), so truncated
bodies (Content-Length mismatch), resets, timeouts and 5xx are retried here with exponential
back-off and full jitter; it follows redirects itself, only to the same scheme, host and port
(a redirect elsewhere is a ``FetchError``: the other host would get our User-Agent and its
answer would be stored as EDGAR's). Callers (``flows.edgar.endpoints``) only see the final
response or a ``FetchError``/``BlockedError``.
"""

from __future__ import annotations

import gc
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

import httpx

from form4.flows.config import Settings
from form4.flows.edgar.gate import BlockGate, classify_block, make_gate
from form4.flows.edgar.rate import Limiter, make_limiter
from form4.flows.edgar.wire import (
    MAX_BYTES_EXTENSION,
    SINK_EXTENSION,
    Body,
    DeadlineTransport,
    clear_deadline,
    read_body,
    start_deadline,
)
from form4.parsers.errors import BlockedError, FetchError

__all__ = [
    "DEADLINE_EXTENSION",
    "SIZE_EXTENSION",
    "PoliteTransport",
    "RetryPolicy",
    "build_client",
]

SIZE_EXTENSION = "form4.size"  # response extension: the decoded body's size in bytes
# request extension: this request's deadline in seconds instead of FORM4_DEADLINE_S (a large
# download, such as a quarter's data set ZIP, needs longer than a filing)
DEADLINE_EXTENSION = "form4.deadline_s"
_REDIRECT_STATUSES = (301, 302, 303, 307, 308)

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


@dataclass(frozen=True, slots=True)
class _Answer:
    response: httpx.Response  # closed; its body is in ``body``
    body: Body


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host, url.port or default


def _same_origin_redirect(request: httpx.Request, location: str) -> httpx.Request:
    """The GET a redirect asks for, or a ``FetchError`` when it leaves the request's origin."""
    try:
        target = request.url.join(location)
    except httpx.InvalidURL as exc:
        raise FetchError(f"{request.url}: bad redirect {location!r}: {exc}") from None
    if _origin(target) != _origin(request.url):
        raise FetchError(
            f"{request.url}: redirect to another host refused ({target.scheme}://"
            f"{target.netloc.decode('ascii', 'replace')})",
            url=str(request.url),
        )
    headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "host"]
    return httpx.Request("GET", target, headers=headers, extensions=request.extensions)


_AT_WIRE_EVENT = ".send_request_headers.started"  # httpcore's trace: http11.… or http2.…


class PoliteTransport(httpx.BaseTransport):
    """Rate limit, block pause, bounded body read, same-origin redirects and retries around a
    real transport.

    A request's byte cap is its ``form4.max_bytes`` extension (``max_bytes`` otherwise); with a
    ``form4.sink`` extension (a binary file) a 200 body is written there, not kept in memory,
    and the response's content is empty; its size is the response's ``form4.size`` extension.
    ``deadline_s`` bounds each attempt from the moment it has its rate slot.

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
        deadline_s: float | None = None,
        max_bytes: int = 50 * 1024 * 1024,
        max_redirects: int = 5,
    ) -> None:
        self.inner = inner
        self.deadline_s = deadline_s
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
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

    def _send_once(self, request: httpx.Request, max_bytes: int, sink: IO[bytes] | None) -> _Answer:
        """One attempt: gate, rate slot, the request, its body read against the cap."""
        url = str(request.url)
        if sink is not None:
            sink.seek(0)
            sink.truncate()
        deadline_s = request.extensions.get(DEADLINE_EXTENSION, self.deadline_s)
        try:
            if not self.at_wire:
                self._take_slot()
                _start_deadline(deadline_s)
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
                        _start_deadline(deadline_s)

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
                body = read_body(response, url=url, max_bytes=max_bytes, sink=sink)
            finally:
                response.close()
        finally:
            clear_deadline()
        return _Answer(response, body)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``, following redirects on its own scheme, host and port only."""
        max_bytes = int(request.extensions.get(MAX_BYTES_EXTENSION, self.max_bytes))
        sink = request.extensions.get(SINK_EXTENSION)
        first = request
        for _ in range(self.max_redirects + 1):
            answer = self._attempts(request, max_bytes, sink)
            response, body = answer.response, answer.body
            location = response.headers.get("location")
            if response.status_code in _REDIRECT_STATUSES and location:
                request = _same_origin_redirect(request, location)
                continue
            headers = httpx.Headers(
                [
                    (k, v)
                    for k, v in response.headers.multi_items()
                    if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
                ]
            )
            content = b"" if sink is not None and response.status_code == 200 else body.data
            headers["Content-Length"] = str(len(content))
            return httpx.Response(
                response.status_code,
                headers=headers,
                stream=httpx.ByteStream(content),
                request=first,
                extensions={**response.extensions, SIZE_EXTENSION: body.size},
            )
        raise FetchError(
            f"{first.url}: more than {self.max_redirects} redirects", url=str(first.url)
        )

    def _attempts(self, request: httpx.Request, max_bytes: int, sink: IO[bytes] | None) -> _Answer:
        """Attempts until an answer that is not retried: 5xx, transport errors and rate
        blocks are retried here."""
        url = str(request.url)
        failures = 0
        blocks = 0
        while True:
            try:
                answer = self._send_once(request, max_bytes, sink)
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
            response, body = answer.response, answer.body
            whole = body.data if body.size == len(body.data) else b""
            block = classify_block(response.status_code, whole)
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
            return answer

    def close(self) -> None:
        self.inner.close()


def build_client(settings: Settings, *, inner: httpx.BaseTransport | None = None) -> httpx.Client:
    """The one factory for EDGAR clients: User-Agent, timeouts and deadline, byte caps, rate
    limiter, shared block gate, retries.

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
    # The proxy the environment names (Settings.proxy) is dialled by the polite transport's own
    # connection pool: httpx ignores proxy variables for a client given a transport, and a
    # proxy transport of its own would bypass the rate limiter, retries, gate and byte caps.
    transport = PoliteTransport(
        inner or DeadlineTransport(limits=limits, proxy=settings.proxy),
        limiter=make_limiter(settings),
        gate=make_gate(settings),
        policy=RetryPolicy(
            max_retries=settings.max_retries,
            base_s=settings.retry_base_s,
            cap_s=settings.retry_cap_s,
            max_blocks=settings.max_blocks,
        ),
        deadline_s=settings.deadline_s,
        max_bytes=settings.max_submission_bytes,
    )
    return httpx.Client(
        base_url=settings.edgar_url,
        headers={
            "User-Agent": settings.user_agent,
            "Accept-Encoding": "gzip, deflate",
        },
        timeout=httpx.Timeout(settings.timeout_s, connect=min(settings.timeout_s, 10.0)),
        transport=transport,
        follow_redirects=False,  # PoliteTransport follows same-origin redirects itself
        trust_env=False,  # proxies: above; no .netrc credentials sent to EDGAR
    )


def _start_deadline(deadline_s: float | None) -> None:
    if deadline_s is not None:
        start_deadline(float(deadline_s))
