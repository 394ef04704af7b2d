"""A static EDGAR mirror on 127.0.0.1, for ``form4 demo``, the tests and the bench.

``EdgarMirror`` serves an EDGAR-shaped tree (``Archives/edgar/daily-index/...`` and
``Archives/edgar/data/{cik}/{accession}.txt``) from a directory or from a mapping of URL paths
to bytes, over HTTP/1.1 with keep-alive, from a ``ThreadingHTTPServer`` in a daemon thread. It
logs every request (monotonic time, method, path, User-Agent, status) so callers can check the
request rate with ``max_requests_in_any_window``. Like EDGAR, a submission is served under the
folder of every CIK named in its SGML header, so a tree may store each ``.txt`` once.

Neighbours: ``flows.cli.demo`` serves ``flows/sample_data`` with it; ``tests/edgar_server.py``
extends it with injected faults (rate blocks, 5xx, resets, truncated bodies, redirects) and
``tests/edgar_tree.py`` builds the mappings it serves.
"""

from __future__ import annotations

import posixpath
import re
import socket
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote, urlsplit

__all__ = [
    "EdgarMirror",
    "MirrorHandler",
    "Reply",
    "RequestRecord",
    "content_type_for",
    "max_requests_in_any_window",
]

_SUBMISSION = re.compile(r"Archives/edgar/data/(\d+)/(\d{10}-\d{2}-\d{6}\.txt)")
_HEADER_CIK = re.compile(rb"CENTRAL INDEX KEY:\s*(\d+)")
_CONTENT_TYPES = {
    ".idx": "text/plain",
    ".txt": "text/plain",
    ".nc": "text/plain",
    ".html": "text/html",
    ".htm": "text/html",
    ".xml": "application/xml",
    ".json": "application/json",
}
_NOT_FOUND = b"404 Not Found: no such file on this EDGAR mirror\n"


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the mirror saw it; ``status`` is 0 when no status line was sent."""

    time: float  # time.monotonic() when the request headers had been read
    method: str
    path: str  # URL path, percent-decoded, without the query string
    user_agent: str | None
    status: int


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole response: status, body, content type and any extra headers."""

    status: int
    body: bytes
    content_type: str = "text/plain"
    headers: tuple[tuple[str, str], ...] = ()


def content_type_for(path: str) -> str:
    """``text/plain`` for ``.idx``/``.txt``, the obvious type for a few others."""
    return _CONTENT_TYPES.get(posixpath.splitext(path)[1].lower(), "application/octet-stream")


def max_requests_in_any_window(times: Sequence[float], window: float = 1.0) -> int:
    """The most request times that fall in any half-open window ``(t - window, t]``.

    Two requests exactly ``window`` apart are not in the same window, matching
    ``flows.edgar.rate.RateLimiter``. The times need not be sorted.
    """
    if window <= 0:
        raise ValueError("window must be positive")
    ordered = sorted(times)
    best = 0
    first = 0
    for last, t in enumerate(ordered):
        while ordered[first] <= t - window:
            first += 1
        best = max(best, last - first + 1)
    return best


class MirrorHandler(BaseHTTPRequestHandler):
    """Per-connection handler: hands every GET/HEAD to ``EdgarMirror.handle``."""

    protocol_version = "HTTP/1.1"
    timeout = 30.0  # an idle keep-alive connection does not hold a thread forever
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _MirrorServer

    def setup(self) -> None:
        super().setup()
        self.server.mirror._register(self.connection, threading.current_thread())

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.mirror._unregister(self.connection)

    def do_GET(self) -> None:
        self.server.mirror.handle(self)

    def do_HEAD(self) -> None:
        self.server.mirror.handle(self)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log (the mirror keeps its own)."""

    @property
    def url_path(self) -> str:
        return unquote(urlsplit(self.path).path)

    @property
    def user_agent(self) -> str | None:
        return self.headers.get("User-Agent")

    def start_reply(
        self, status: int, content_type: str, length: int, *extra: tuple[str, str]
    ) -> None:
        """Status line and headers, with ``Content-Length: length`` (which may lie, for faults)."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()

    def send_reply(self, reply: Reply) -> None:
        """Send a whole response (no body for HEAD)."""
        self.start_reply(reply.status, reply.content_type, len(reply.body), *reply.headers)
        if self.command != "HEAD":
            self.wfile.write(reply.body)


class _MirrorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, address: tuple[str, int], mirror: EdgarMirror) -> None:
        self.mirror = mirror
        super().__init__(address, MirrorHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up, and connections closed at shutdown, are not errors here."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class EdgarMirror:
    """Serve an EDGAR-shaped tree on ``host:port`` (port 0 picks a free one).

    ``files`` is a directory whose layout is the URL path (``{dir}/Archives/edgar/...``), or a
    mapping from URL path to bytes. Mapping keys are written without the leading slash
    (``"Archives/edgar/data/1750/0001127602-25-001055.txt"``), as ``tests/edgar_tree.py``
    builds them; a leading slash is tolerated. Unknown paths get a 404 with a short body.

    Use as a context manager: ``with EdgarMirror(tree) as m: httpx.get(m.base_url + path)``.
    Subclasses change behaviour by overriding ``handle`` (see ``tests/edgar_server.py``).
    """

    def __init__(
        self, files: Mapping[str, bytes] | Path, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.root: Path | None = None
        self._files: dict[str, bytes] = {}
        if isinstance(files, Path):
            self.root = files.resolve()
            if not self.root.is_dir():
                raise FileNotFoundError(f"no mirror directory at {self.root}")
        else:
            self._files = {key.lstrip("/"): bytes(value) for key, value in files.items()}
        self.host = host
        self.port = port
        self.stopping = threading.Event()  # set when stop() begins; stalled responses wait on it
        self._log: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._by_accession: dict[str, str] = {}
        self._server: _MirrorServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("the mirror is already running")
        self._by_accession = self._index_submissions()
        self.stopping.clear()
        self._server = _MirrorServer((self.host, self.port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"edgar-mirror:{self._server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections, join every thread, close the socket."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self.stopping.set()
        server.shutdown()
        with self._lock:
            connections = dict(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its handler
        for handler_thread in connections.values():
            handler_thread.join(timeout=5.0)
        server.server_close()
        thread.join(timeout=5.0)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("the mirror is not running")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:{port}``, no trailing slash."""
        host, port = self.address
        return f"http://{host}:{port}"

    @property
    def threads(self) -> list[threading.Thread]:
        """The serving thread and every connection thread still registered."""
        with self._lock:
            handlers = list(self._connections.values())
        return ([self._thread] if self._thread is not None else []) + handlers

    # -- the request log ---------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the request log, in arrival order."""
        with self._lock:
            return list(self._log)

    def record(self, entry: RequestRecord) -> None:
        """Append to the log; call before the response leaves, so clients never outrun it."""
        with self._lock:
            self._log.append(entry)

    # -- content -----------------------------------------------------------------------------

    def lookup(self, path: str) -> bytes | None:
        """The bytes served at a URL path, or None (EDGAR's cross-CIK folders included)."""
        key = posixpath.normpath("/" + path).lstrip("/")
        body = self._read(key)
        if body is not None:
            return body
        match = _SUBMISSION.fullmatch(key)
        if match is None or match.group(2) not in self._by_accession:
            return None
        body = self._read(self._by_accession[match.group(2)])
        if body is None:
            return None
        header = body.split(b"</SEC-HEADER>", 1)[0]
        ciks = {int(cik) for cik in _HEADER_CIK.findall(header)}
        return body if int(match.group(1)) in ciks else None

    def reply_for(self, path: str) -> Reply:
        """The normal answer for a path: 200 with the file, or 404."""
        body = self.lookup(path)
        if body is None:
            return Reply(404, _NOT_FOUND)
        return Reply(200, body, content_type_for(path))

    def handle(self, handler: MirrorHandler) -> None:
        """Answer one request: log it, then send the file or a 404."""
        arrived = time.monotonic()
        path = handler.url_path
        reply = self.reply_for(path)
        self.record(RequestRecord(arrived, handler.command, path, handler.user_agent, reply.status))
        handler.send_reply(reply)

    # -- internals ---------------------------------------------------------------------------

    def _read(self, key: str) -> bytes | None:
        if self.root is None:
            return self._files.get(key)
        if not key or key == ".":
            return None
        target = (self.root / key).resolve()
        if not target.is_relative_to(self.root) or not target.is_file():
            return None
        return target.read_bytes()

    def _index_submissions(self) -> dict[str, str]:
        """Submission file name -> the one key it is stored under."""
        if self.root is None:
            keys = list(self._files)
        else:
            data = self.root / "Archives" / "edgar" / "data"
            keys = [p.relative_to(self.root).as_posix() for p in data.glob("*/*.txt")]
        found: dict[str, str] = {}
        for key in sorted(keys):
            match = _SUBMISSION.fullmatch(key)
            if match is not None:
                found.setdefault(match.group(2), key)
        return found

    def _register(self, conn: socket.socket, thread: threading.Thread) -> None:
        with self._lock:
            self._connections[conn] = thread
            if not self.stopping.is_set():
                return
        try:  # accepted while stopping: hang up at once so the thread ends promptly
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _unregister(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.pop(conn, None)
