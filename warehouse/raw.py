"""The raw store: every fetched submission, gzip-compressed, in append-only pack files.

Each ``flows.pipeline.ingest.process_entries`` call (a day of the ingest, a retry of failed fetches)
appends its documents to one pack, ``<root>/<yyyy>/<mm>/<dd>/<HHMMSS>-<pid>-<random>.gz`` (the
UTC date and time the pack was opened). Each document is one gzip member whose header names
its accession number (the gzip FNAME field), so a pack is a valid gzip file (``zcat`` prints
every document) and each document can be read alone from its byte range. The ``raw_documents``
table is the catalog: accession number -> pack path, offset and length of its member.

Documents are buffered and written by ``RawPack.sync`` (one write and one ``fsync`` per batch),
which the ingest calls before committing the rows that point into the pack: a row never points
at bytes that a crash could lose, and a crash loses at most an unreferenced tail. One file and
one ``fsync`` per batch instead of per filing: creating a file per filing (an inode each, which
ext4 allocates slowly after many deletions) and syncing it was most of the system time of a
fast ingest, and a million filings made a million files.

Warehouses written before packs existed hold one file per filing,
``<filer id>/<yy>/<accession>.txt.gz`` (``member_offset`` NULL): ``read`` still reads them.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import secrets
import struct
import threading
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from form4.parsers.errors import LoadError

__all__ = ["PACK_MODE", "RawLocation", "RawPack", "RawStore", "gzip_member", "sha256"]

PACK_MODE = 0o644  # permissions a new pack is created with, before the umask
_ACCESSION = re.compile(r"^\d{10}-\d{2}-\d{6}$")
# gzip header: magic, deflate, FNAME flag, no mtime, no extra flags, OS unknown
_HEADER = b"\x1f\x8b\x08\x08\x00\x00\x00\x00\x00\xff"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def gzip_member(name: str, data: bytes) -> bytes:
    """``data`` as one gzip member whose header carries ``name`` (level 6, no timestamp)."""
    deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = deflate.compress(data) + deflate.flush()
    trailer = struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    return b"".join((_HEADER, name.encode("ascii"), b"\x00", body, trailer))


def _member_name(member: bytes) -> str | None:
    if member[:4] != _HEADER[:4]:
        return None
    end = member.find(b"\x00", 10, 10 + 64)
    return member[10:end].decode("ascii", "replace") if end > 0 else None


@dataclass(frozen=True, slots=True)
class RawLocation:
    """Where a document is: a file under the raw root and, in a pack, its member's byte range
    (``offset`` None: the whole file is the document, as written before packs)."""

    path: str
    offset: int | None = None
    length: int | None = None


class RawPack:
    """One run's documents, appended to one pack file. Thread-safe: fetch threads ``put``
    concurrently (compression runs outside the lock); the ingest calls ``sync`` before it
    commits the batch's rows. Documents not synced are dropped by ``close`` (use the pack
    with ``contextlib.closing``)."""

    def __init__(self, root: Path, relative: str) -> None:
        self.root = root
        self.relative = relative
        self._lock = threading.Lock()
        self._pending: list[bytes] = []
        self._size = 0  # bytes on disk plus pending
        self._fd: int | None = None
        self._broken: str | None = None

    def put(self, accession_number: str, data: bytes) -> RawLocation:
        """Buffer ``data``; returns where it will be once synced."""
        if not _ACCESSION.match(accession_number):
            raise LoadError(f"not an accession number: {accession_number!r}")
        member = gzip_member(accession_number, data)
        with self._lock:
            offset = self._size
            self._size += len(member)
            self._pending.append(member)
        return RawLocation(self.relative, offset, len(member))

    def sync(self) -> None:
        """Write the buffered documents and ``fsync`` them (and the directory entries, when the
        pack is new). Raises ``LoadError``; after a failure the pack refuses further syncs,
        since the offsets handed out no longer match the file."""
        with self._lock:
            if self._broken is not None:
                raise LoadError(self._broken)
            if not self._pending:
                return
            data = b"".join(self._pending)
            self._pending.clear()
            path = self.root / self.relative
            try:
                if self._fd is None:
                    created = [d for d in (path.parent, *path.parent.parents) if not d.exists()]
                    path.parent.mkdir(parents=True, exist_ok=True)
                    self._fd = os.open(
                        path,
                        os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC,
                        PACK_MODE,  # rw-r--r-- (less what the umask removes): data, not a program
                    )
                    # the new file's entry, and those of the directories made for it
                    for directory in {path.parent, *(d.parent for d in created)}:
                        _fsync_dir(directory)
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view) :]
                os.fsync(self._fd)
            except OSError as exc:
                self._broken = f"cannot store raw documents in {path}: {exc}"
                raise LoadError(self._broken) from exc

    def close(self) -> None:
        with self._lock:
            self._pending.clear()
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def _fsync_dir(directory: Path) -> None:
    """Make a new directory entry durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class RawStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def pack(self, now: datetime | None = None) -> RawPack:
        """A new pack, named by the UTC time it is opened, this process and a random part."""
        now = now or datetime.now(UTC)
        name = f"{now:%Y/%m/%d/%H%M%S}-{os.getpid()}-{secrets.token_hex(4)}.gz"
        return RawPack(self.root, name)

    def exists(self, location: RawLocation) -> bool:
        return (self.root / location.path).is_file()

    def read(self, location: RawLocation, accession_number: str) -> bytes:
        """The document ``accession_number`` stored at ``location``. ``LoadError`` if the file
        is missing or damaged, or the member there is another document's."""
        path = self.root / location.path
        try:
            if location.offset is None or location.length is None:
                return gzip.decompress(path.read_bytes())
            with path.open("rb") as fh:
                fh.seek(location.offset)
                member = fh.read(location.length)
            name = _member_name(member)
            if name != accession_number:
                raise LoadError(
                    f"raw {accession_number}: {location.path} holds {name!r} at byte "
                    f"{location.offset}, not this filing"
                )
            return gzip.decompress(member)
        except (OSError, EOFError, zlib.error) as exc:
            raise LoadError(f"cannot read raw {accession_number}: {exc}") from exc
