"""The one exception module of form4 (standard library only).

It lives in ``parsers`` because ``parsers`` is the root of the import graph:
``flows`` and ``warehouse`` both import it, and it imports nothing of theirs.
Third-party exceptions (httpx, lxml, duckdb) are wrapped at the boundary where
they are raised, so callers only ever catch these::

    Form4Error
    ├── ConfigError      bad settings or CLI arguments (missing User-Agent, bad date)
    ├── FetchError       EDGAR could not be read (after retries)
    │   └── BlockedError EDGAR kept blocking us (rate threshold / undeclared tool)
    ├── ParseError       a document is malformed, unsafe, oversized or not ownership XML,
    │   │                or holds a value form4 cannot store
    │   └── BadValue     one value refused by a reader of parsers.xmlutil
    │       └── Inexact  a decimal with more than 8 places (carries it rounded)
    ├── LoadError        the warehouse refused a write or is locked by another process
    └── WorkerError      a worker process died before returning its batch
"""

from __future__ import annotations

from decimal import Decimal

__all__ = [
    "BadValue",
    "BlockedError",
    "ConfigError",
    "FetchError",
    "Form4Error",
    "Inexact",
    "LoadError",
    "ParseError",
    "WorkerError",
]


class Form4Error(Exception):
    """Base class of every error form4 raises on purpose."""


class ConfigError(Form4Error):
    """A setting or command-line argument is missing or invalid."""


class FetchError(Form4Error):
    """A resource could not be fetched from EDGAR, after retries."""

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class BlockedError(FetchError):
    """EDGAR answered with a block page (rate threshold exceeded, undeclared automated tool)."""


class ParseError(Form4Error):
    """A document could not be parsed into records.

    ``stage`` names what failed (``"sgml"``, ``"xml"``, ``"ownership"``, ``"validate"``,
    ``"index"``, ``"load"``) and is what
    the ``rejects`` table records.
    """

    def __init__(self, message: str, *, stage: str = "ownership") -> None:
        super().__init__(message)
        self.stage = stage


class BadValue(ParseError):
    """A value that form4 cannot store as given (``raw`` is its text, ``problem`` says why).
    Raised by the readers of ``parsers.xmlutil``; ``parsers.ownership`` names the field and line,
    and rejects
    the filing or records the problem (README, "Validation rules")."""

    def __init__(self, raw: str, problem: str) -> None:
        super().__init__(f"{problem}: {raw[:80]!r}", stage="validate")
        self.raw = raw
        self.problem = problem


class Inexact(BadValue):
    """A decimal with more than 8 decimal places: ``value`` is it rounded half-even to 8."""

    def __init__(self, raw: str, value: Decimal) -> None:
        super().__init__(raw, "more than 8 decimal places: rounded half-even")
        self.value = value


class LoadError(Form4Error):
    """The warehouse could not be written (or is locked by another process)."""


class WorkerError(Form4Error):
    """A worker process (``flows.pipeline.workers``) died, killed or out of memory, before
    returning."""
