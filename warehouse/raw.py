"""The raw store: every fetched submission, gzip-compressed, keyed by accession number.

Files live under ``<root>/<filer id>/<yy>/<accession>.txt.gz`` (the first two parts of the
accession number shard the tree), are written aside and renamed into place (a crash never
leaves half a file), and can be re-parsed any time without refetching (``form4 reprocess``).
The ``raw_documents`` table in ``warehouse.db`` indexes them by filing date.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from parsers.errors import LoadError

__all__ = ["RawStore", "sha256"]

_ACCESSION = re.compile(r"^(\d{10})-(\d{2})-(\d{6})$")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class RawStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def relative_path(self, accession_number: str) -> str:
        match = _ACCESSION.match(accession_number)
        if match is None:
            raise LoadError(f"not an accession number: {accession_number!r}")
        filer, year, _ = match.groups()
        return f"{filer}/{year}/{accession_number}.txt.gz"

    def path(self, accession_number: str) -> Path:
        return self.root / self.relative_path(accession_number)

    def exists(self, accession_number: str) -> bool:
        return self.path(accession_number).is_file()

    def put(self, accession_number: str, data: bytes) -> str:
        """Store ``data`` atomically; returns the path relative to the root."""
        rel = self.relative_path(accession_number)
        target = self.root / rel
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(gzip.compress(data, compresslevel=6, mtime=0))
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise LoadError(
                f"cannot store raw {accession_number} under {self.root}: {exc}"
            ) from exc
        return rel

    def get(self, accession_number: str) -> bytes:
        try:
            return gzip.decompress(self.path(accession_number).read_bytes())
        except (OSError, EOFError) as exc:
            raise LoadError(f"cannot read raw {accession_number}: {exc}") from exc

    def accessions(self) -> Iterator[str]:
        """Every stored accession number (order unspecified)."""
        if not self.root.is_dir():
            return
        for path in self.root.glob("*/*/*.txt.gz"):
            yield path.name.removesuffix(".txt.gz")
