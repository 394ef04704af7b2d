"""A loopback EDGAR that attacks the client: gzip bombs, endless bodies, slow drips, off-host
redirects.

``HostileEdgar`` extends ``tests.edgar_server.FaultyEdgar``: ``attack(path, Attack.X)`` makes
every request for ``path`` (exact or glob) get that attack instead of the file; every request
is still logged. The server never stops an attack by itself: an endless body and a drip go on
until the client hangs up or the server stops. Neighbours: ``tests/test_hostile_wire.py``.
"""

from __future__ import annotations

import enum
import fnmatch
import struct
import threading
import time
import zlib
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from form4.flows.cli.mirror import MirrorHandler
from tests.edgar_server import FaultRecord, FaultyEdgar

__all__ = ["Attack", "HostileEdgar", "gzip_bomb"]

BOMB_MIB = 1536  # what the bomb inflates to: past 1 GB of memory if it were read whole


class Attack(enum.Enum):
    GZIP_BOMB = "gzip-bomb"  # 200, Content-Encoding gzip: ~1.5 MB that inflate to 1.5 GiB
    ENDLESS = "endless"  # 200, chunked, 64 KiB chunks for ever
    DRIP = "drip"  # 200, a large Content-Length, then one byte every 0.2 s
    DRIP_HEADERS = "drip-headers"  # the status line, then the headers one byte every 0.2 s
    OFF_HOST = "off-host"  # 302 to the same path on ``other_host``


@cache
def gzip_bomb() -> bytes:
    """A gzip member of ``BOMB_MIB`` MiB of zeros: one fully flushed deflate block of 1 MiB of
    zeros repeated (the bytes are the same each time), then an empty final block. The trailer's
    CRC is not computed: a reader bounded by a cap never gets there."""
    block = zlib.compressobj(9, zlib.DEFLATED, -15)
    repeated = block.compress(bytes(1 << 20)) + block.flush(zlib.Z_FULL_FLUSH)
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = struct.pack("<II", 0, (BOMB_MIB << 20) & 0xFFFFFFFF)
    return header + repeated * BOMB_MIB + final + trailer


class HostileEdgar(FaultyEdgar):
    """``FaultyEdgar`` plus attacks per path; ``other_host`` is where OFF_HOST redirects go."""

    def __init__(
        self, files: Mapping[str, bytes] | Path, *, other_host: str = "", **kwargs: float
    ) -> None:
        super().__init__(files, **kwargs)  # type: ignore[arg-type]
        self.other_host = other_host
        self._attacks: list[tuple[str, Attack]] = []
        self._attack_lock = threading.Lock()

    def attack(self, pattern: str, attack: Attack) -> None:
        with self._attack_lock:
            self._attacks.append(("/" + pattern.lstrip("/"), attack))

    def _attack_for(self, path: str) -> Attack | None:
        with self._attack_lock:
            for pattern, attack in self._attacks:
                if path == pattern or fnmatch.fnmatchcase(path, pattern):
                    return attack
        return None

    def handle(self, handler: MirrorHandler) -> None:
        path = "/" + handler.url_path.lstrip("/")
        attack = self._attack_for(path)
        if attack is None:
            super().handle(handler)
            return
        self.record(FaultRecord(time.monotonic(), handler.command, path, handler.user_agent, 200))
        handler.close_connection = True
        try:
            self._send_attack(handler, attack, path)
        except OSError:
            pass  # the client hung up: what a bounded client does

    def _send_attack(self, handler: MirrorHandler, attack: Attack, path: str) -> None:
        if attack is Attack.OFF_HOST:
            handler.send_response(302)
            handler.send_header("Location", self.other_host.rstrip("/") + path)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        if attack is Attack.DRIP_HEADERS:
            handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for byte in b"Content-Type: text/plain\r\nX-Drip: " + b"d" * 10_000:
                if self.stopping.wait(0.2):
                    return
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain")
        if attack is Attack.GZIP_BOMB:
            bomb = gzip_bomb()
            handler.send_header("Content-Encoding", "gzip")
            handler.send_header("Content-Length", str(len(bomb)))
            handler.end_headers()
            handler.wfile.write(bomb)
        elif attack is Attack.ENDLESS:
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            data = (b"<SEC-DOCUMENT>" * 5000)[: 1 << 16]
            chunk = b"%x\r\n%s\r\n" % (len(data), data)
            while not self.stopping.is_set():
                handler.wfile.write(chunk)
        elif attack is Attack.DRIP:
            handler.send_header("Content-Length", str(1 << 20))
            handler.end_headers()
            handler.wfile.flush()
            while not self.stopping.wait(0.2):
                handler.wfile.write(b"x")
                handler.wfile.flush()
