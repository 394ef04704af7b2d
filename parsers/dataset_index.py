"""The SEC's Insider Transactions Data Sets: quarters, and the ZIP links of their index page.

Pure functions, no I/O. ``Quarter`` names one data set (``2024q3``). ``parse_quarters`` reads
what a user asks for: ``2024q3``, ``2006q1..2026q3``, ``latest``, ``new`` or ``all``.
``dataset_links`` reads the index page (``/data-research/sec-markets-data/
insider-transactions-data-sets``) and returns each quarter's ZIP URL as linked there, relative
or absolute, on the page's own host only: the URLs are never built by hand (the ZIPs moved in
2026). Neighbours: ``parsers.dataset_tables`` reads the ZIP's tables, ``flows.edgar.datasets``
fetches the page and the ZIPs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import urljoin, urlsplit

from lxml import html as lxml_html

from form4.parsers.errors import ConfigError

__all__ = ["FIRST_QUARTER", "Quarter", "QuarterSpec", "dataset_links", "parse_quarters"]

_QUARTER = re.compile(r"^(\d{4})[qQ]([1-4])$")
# the file name at the end of a link's path: 2024q3_form345.zip
_ZIP_NAME = re.compile(r"(\d{4})q([1-4])_form345\.zip$", re.IGNORECASE)


@dataclass(frozen=True, slots=True, order=True)
class Quarter:
    year: int
    q: int

    @property
    def label(self) -> str:
        """``2024q3``: how the SEC names the data set, and ``filings.source`` after ``dataset:``."""
        return f"{self.year}q{self.q}"

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.q - 2, 1)

    def next(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.q == 4 else Quarter(self.year, self.q + 1)

    @classmethod
    def parse(cls, text: str) -> Quarter:
        match = _QUARTER.match(text.strip())
        if match is None:
            raise ConfigError(f"invalid quarter {text!r} (expected YYYYqN, e.g. 2024q3)")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return self.label


FIRST_QUARTER = Quarter(2006, 1)  # the first quarter the SEC published


@dataclass(frozen=True, slots=True)
class QuarterSpec:
    """What to import: a range of quarters, or ``latest`` / ``new`` (decided by the index page
    and, for ``new``, by what the warehouse already holds)."""

    first: Quarter | None = None
    last: Quarter | None = None
    keyword: str | None = None  # "latest", "new" or "all"

    def quarters(self) -> list[Quarter]:
        """The quarters of a range, in order (empty for a keyword)."""
        if self.first is None or self.last is None:
            return []
        out, q = [], self.first
        while q <= self.last:
            out.append(q)
            q = q.next()
        return out


def parse_quarters(text: str) -> QuarterSpec:
    """``2024q3``, ``2006q1..2026q3``, ``latest``, ``new`` or ``all`` (every published
    quarter); a ConfigError otherwise."""
    text = text.strip()
    if text.lower() in ("latest", "new", "all"):
        return QuarterSpec(keyword=text.lower())
    first_text, sep, last_text = text.partition("..")
    first = Quarter.parse(first_text)
    last = Quarter.parse(last_text) if sep else first
    if last < first:
        raise ConfigError(f"quarter range {text!r} ends before it starts")
    if first < FIRST_QUARTER:
        raise ConfigError(f"the data sets start with {FIRST_QUARTER}; {first} has none")
    return QuarterSpec(first, last)


def dataset_links(page: bytes, page_url: str) -> dict[Quarter, str]:
    """Every quarter's ZIP linked from the index page, as an absolute URL on the page's host.

    Links to another host are ignored (a mirror or a look-alike domain is not EDGAR); when a
    quarter is linked twice the first link wins."""
    if not page.strip():
        return {}
    try:
        root = lxml_html.fromstring(page)
    except (ValueError, SyntaxError):  # lxml's ParserError is a ValueError
        return {}
    base = urlsplit(page_url)
    found: dict[Quarter, str] = {}
    for anchor in root.iter("a"):
        href = (anchor.get("href") or "").strip()
        if not href:
            continue
        url = urljoin(page_url, href)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.netloc.lower() != base.netloc.lower():
            continue
        match = _ZIP_NAME.search(parts.path)
        if match is None:
            continue
        found.setdefault(Quarter(int(match[1]), int(match[2])), url)
    return dict(sorted(found.items()))
