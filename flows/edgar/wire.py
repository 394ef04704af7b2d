"""What comes off the wire, bounded: the per-request deadline and the capped, streamed body.

``DeadlineTransport`` is httpx's own ``HTTPTransport`` whose sockets never wait past the
deadline of the request being sent (``FORM4_DEADLINE_S``, set by ``start_deadline`` once the
request has its rate slot): each socket read or write waits at most the per-read timeout
(``FORM4_TIMEOUT_S``) and at most what is left of the deadline, so a server that drips one
byte every few seconds is cut at the deadline, in the headers as in the body.

``read_body`` reads a response as a stream against a byte cap, counting the bytes on the wire
and, for a gzip or deflate body, the decompressed bytes too: a gzip bomb or an endless chunked
body stops at the cap (``ResponseTooLarge``) with at most one chunk beyond it in memory. The
body is decoded here (httpx is handed plain bytes); with a ``sink`` the 200 body goes to a
file instead of memory. Neighbours: ``flows.edgar.client`` (``PoliteTransport`` calls these
around every attempt), ``flows.edgar.endpoints`` (the caps per kind of document).
"""

from __future__ import annotations

import functools
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO, Any

import httpcore
import httpx

from form4.parsers.errors import FetchError

__all__ = [
    "HEAD_BYTES",
    "MAX_BYTES_EXTENSION",
    "SINK_EXTENSION",
    "Body",
    "DeadlineTransport",
    "ResponseTooLarge",
    "clear_deadline",
    "deadline_left",
    "read_body",
    "start_deadline",
]

MAX_BYTES_EXTENSION = "form4.max_bytes"  # request extension: this request's byte cap
SINK_EXTENSION = "form4.sink"  # request extension: a binary file that receives a 200 body
HEAD_BYTES = 64 * 1024  # what is kept of a body written to a sink, for block detection

_local = threading.local()  # this thread's current deadline (time.monotonic), or None


class ResponseTooLarge(FetchError):
    """The body (on the wire or decompressed) went past the request's byte cap."""


def start_deadline(seconds: float) -> None:
    """From now on, this thread's socket reads and writes end ``seconds`` from now."""
    _local.at = time.monotonic() + seconds


def clear_deadline() -> None:
    _local.at = None


def deadline_left() -> float | None:
    """Seconds left before this thread's deadline (negative once past), or None without one."""
    at: float | None = getattr(_local, "at", None)
    return None if at is None else at - time.monotonic()


_DEADLINE_PASSED = "the request's overall deadline (FORM4_DEADLINE_S) passed"


def _bounded(timeout: float | None, error: type[Exception]) -> float | None:
    left = deadline_left()
    if left is None:
        return timeout
    if left <= 0:
        raise error(_DEADLINE_PASSED)
    return left if timeout is None else min(timeout, left)


def _named(exc: Exception, error: type[Exception]) -> Exception:
    """A socket timeout that the deadline caused says so."""
    left = deadline_left()
    return error(_DEADLINE_PASSED) if left is not None and left <= 0.01 else exc


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))
        except httpcore.ReadTimeout as exc:
            raise _named(exc, httpcore.ReadTimeout) from None

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))
        except httpcore.WriteTimeout as exc:
            raise _named(exc, httpcore.WriteTimeout) from None

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host,
            port,
            _bounded(timeout, httpcore.ConnectTimeout),
            local_address=local_address,
            socket_options=socket_options,
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:  # pragma: no cover - form4 talks TCP
        stream = self._inner.connect_unix_socket(
            path, _bounded(timeout, httpcore.ConnectTimeout), socket_options=socket_options
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:  # pragma: no cover - httpcore retries are off
        self._inner.sleep(seconds)


class DeadlineTransport(httpx.HTTPTransport):
    """httpx's HTTP/1.1 transport over sockets bounded by the current request's deadline.

    httpx does not take a network backend, so the connection pool is replaced by the same
    ``httpcore.ConnectionPool`` httpx builds, with the deadline-aware backend
    (``tests/test_hostile_wire.py`` pins that a slow drip is cut at the deadline).
    """

    def __init__(self, *, limits: httpx.Limits, proxy: str | None = None) -> None:
        """``proxy``: an http(s) proxy URL every request goes through (CONNECT for https)."""
        super().__init__(limits=limits, retries=0)
        pool: Callable[..., httpcore.ConnectionPool] = httpcore.ConnectionPool
        if proxy is not None:
            url = httpx.URL(proxy)
            pool = functools.partial(
                httpcore.HTTPProxy,
                proxy_url=httpcore.URL(
                    scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=b"/"
                ),
                proxy_auth=(url.username, url.password) if url.username else None,
            )
        self._pool = pool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            retries=0,
            network_backend=_DeadlineBackend(),
        )


class _Decoder:
    """Content-Encoding ``gzip``/``deflate`` (or none), inflated at most ``room + 1`` bytes at a
    time so a bomb never expands past the cap in memory."""

    def __init__(self, encoding: str, url: str) -> None:
        self.encoding = encoding.strip().lower()
        self.url = url
        self._z: Any = None
        self._started = False
        if self.encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif self.encoding == "deflate":
            self._z = zlib.decompressobj(zlib.MAX_WBITS)
        elif self.encoding not in ("", "identity"):
            raise FetchError(f"{url}: unsupported Content-Encoding {encoding!r}", url=url)

    def feed(self, chunk: bytes, room: int) -> bytes:
        if self._z is None:
            return chunk
        try:
            out: bytes = self._z.decompress(chunk, room + 1)
        except zlib.error:
            if self.encoding != "deflate" or self._started:
                raise FetchError(
                    f"{self.url}: undecodable {self.encoding} body", url=self.url
                ) from None
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, without zlib header
            self._started = True
            return self.feed(chunk, room)
        self._started = True
        return out

    def finish(self) -> None:
        if self._z is not None and not self._z.eof and self._started:
            raise httpx.RemoteProtocolError(f"{self.url}: the {self.encoding} body ends early")


@dataclass(frozen=True, slots=True)
class Body:
    """A decoded body: all of it, or with a sink its first ``HEAD_BYTES`` (``size``: all)."""

    data: bytes
    size: int


def read_body(
    response: httpx.Response,
    *,
    url: str,
    max_bytes: int,
    sink: IO[bytes] | None = None,
) -> Body:
    """Read ``response`` (from a raw transport: not decoded yet) against ``max_bytes``.

    Raises ``ResponseTooLarge`` past the cap (declared, on the wire or decompressed),
    ``httpx.ReadTimeout`` past this thread's deadline, ``FetchError`` for an undecodable body.
    """
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(url, max_bytes, f"Content-Length {int(declared)}")
    decoder = _Decoder(response.headers.get("content-encoding", ""), url)
    stream = response.stream
    if not isinstance(stream, httpx.SyncByteStream):
        raise TypeError("form4 needs a synchronous HTTP transport")
    to_sink = sink if response.status_code == 200 else None
    parts: list[bytes] = []
    wire = size = 0
    for chunk in stream:
        wire += len(chunk)
        if wire > max_bytes:
            raise _too_large(url, max_bytes, "on the wire")
        data = decoder.feed(chunk, max_bytes - size)
        size += len(data)
        if size > max_bytes:
            raise _too_large(url, max_bytes, f"once {decoder.encoding}-decoded")
        if to_sink is None:
            parts.append(data)
        else:
            to_sink.write(data)
            kept = sum(len(p) for p in parts)
            if kept < HEAD_BYTES:
                parts.append(data[: HEAD_BYTES - kept])
        left = deadline_left()
        if left is not None and left <= 0:  # transports whose sockets do not check it
            raise httpx.ReadTimeout(_DEADLINE_PASSED)
    decoder.finish()
    return Body(b"".join(parts), size)


def _too_large(url: str, max_bytes: int, what: str) -> ResponseTooLarge:
    return ResponseTooLarge(
        f"{url}: the response is larger than the {max_bytes}-byte cap ({what}); refused", url=url
    )
