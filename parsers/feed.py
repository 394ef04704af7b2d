"""EDGAR's latest-filings Atom feed (``browse-edgar?action=getcurrent&output=atom``): bytes in,
``FeedEntry`` records out.

The feed is ISO-8859-1 XML in the Atom namespace, newest first. Each entry is one filing as
seen from one CIK involved (the issuer and each reporting owner: a Form 4 appears two or more
times, with the same accession number)::

    <entry>
      <title>4 - Lindqvist Maren (0002900011) (Reporting)</title>
      <link rel="alternate" type="text/html"
            href="https://www.sec.gov/Archives/edgar/data/2900011/000290000126000011/..."/>
      <summary type="html"> &lt;b&gt;Filed:&lt;/b&gt; 2026-02-02 &lt;b&gt;AccNo:&lt;/b&gt;
            0002900001-26-000011 &lt;b&gt;Size:&lt;/b&gt; 5 KB</summary>
      <updated>2026-02-02T16:05:12-05:00</updated>
      <category scheme="https://www.sec.gov/" label="form type" term="4"/>
      <id>urn:tag:sec.gov,2008:accession-number=0002900001-26-000011</id>
    </entry>

``parse_feed`` returns every entry in feed order; ``feed_filings`` keeps the form types asked
for, each accession once (first entry wins), like ``parsers.index.ownership_entries``. The
"Filed" date is EDGAR's provisional filing date: the daily index that later lists the filing
decides. Neighbours: ``flows.edgar.feed`` fetches the pages; ``parsers.index`` reads the
daily indexes.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from lxml import etree

from form4.parsers.errors import ParseError
from form4.parsers.records import IndexEntry

__all__ = ["FeedEntry", "feed_filings", "parse_feed"]

_ACCESSION = re.compile(r"(\d{10}-\d{2}-\d{6})")
_TITLE = re.compile(r"^\s*(?P<form>\S+)\s+-\s+(?P<name>.*?)\s*\((?P<cik>\d{1,10})\)")
_FILED = re.compile(r"Filed:\s*(?:</b>)?\s*(\d{4}-\d{2}-\d{2})")
_LINK_CIK = re.compile(r"/Archives/edgar/data/(\d{1,10})/")
_PARSER = etree.XMLParser(
    encoding="ISO-8859-1", resolve_entities=False, no_network=True, huge_tree=False
)


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One entry of the feed: a filing as listed under one CIK."""

    accession_number: str
    form_type: str
    cik: str  # 10 digits, zero-padded: the CIK this entry lists the filing under
    name: str  # the company or person of that CIK, as in the title
    filed: date  # EDGAR's filing date as the feed gives it
    updated: datetime  # when EDGAR accepted (or last changed) the filing, with its UTC offset

    def index_entry(self) -> IndexEntry:
        """The filing as ``flows.pipeline.ingest`` fetches it (the index's own shape)."""
        folder = str(int(self.cik))
        return IndexEntry(
            self.form_type,
            self.name,
            self.cik,
            self.filed,
            f"edgar/data/{folder}/{self.accession_number}.txt",
            self.accession_number,
        )


def _local(element: etree._Element) -> str:
    tag = element.tag
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _child(entry: etree._Element, name: str) -> etree._Element | None:
    for child in entry:
        if _local(child) == name:
            return child
    return None


def _text(element: etree._Element | None) -> str:
    if element is None:
        return ""
    return "".join(t if isinstance(t, str) else t.decode() for t in element.itertext()).strip()


def _entry(entry: etree._Element, n: int) -> FeedEntry:
    ident = _text(_child(entry, "id"))
    summary = _text(_child(entry, "summary"))
    title = _text(_child(entry, "title"))
    link = _child(entry, "link")
    href = link.get("href", "") if link is not None else ""
    found = _ACCESSION.search(ident) or _ACCESSION.search(summary)
    if found is None:
        raise ParseError(f"feed entry {n}: no accession number in {ident!r}", stage="feed")
    category = _child(entry, "category")
    heading = _TITLE.match(title)
    form = (category.get("term", "") if category is not None else "").strip()
    if not form and heading is not None:
        form = heading.group("form")
    if not form:
        raise ParseError(f"feed entry {n}: no form type ({title!r})", stage="feed")
    cik = heading.group("cik") if heading is not None else None
    if cik is None and (in_link := _LINK_CIK.search(href)) is not None:
        cik = in_link.group(1)
    if cik is None:
        raise ParseError(f"feed entry {n}: no CIK in {title!r}", stage="feed")
    filed = _FILED.search(summary)
    updated_text = _text(_child(entry, "updated"))
    try:
        updated = datetime.fromisoformat(updated_text)
        filed_on = date.fromisoformat(filed.group(1)) if filed else updated.date()
    except ValueError:
        raise ParseError(f"feed entry {n}: bad date {updated_text!r}", stage="feed") from None
    return FeedEntry(
        found.group(1),
        form.upper(),
        cik.zfill(10),
        heading.group("name") if heading is not None else "",
        filed_on,
        updated,
    )


def parse_feed(data: bytes) -> list[FeedEntry]:
    """Every entry of one feed page, in feed order (newest first); ``[]`` for an empty feed."""
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"not an Atom feed: {exc}", stage="feed") from None
    if _local(root) != "feed":
        raise ParseError(f"not an Atom feed: the root is <{_local(root)}>", stage="feed")
    return [_entry(e, n) for n, e in enumerate(root, 1) if _local(e) == "entry"]


def feed_filings(entries: Iterable[FeedEntry], forms: Collection[str]) -> list[FeedEntry]:
    """Entries of the given form types, each accession once (first entry seen wins)."""
    wanted = {f.upper() for f in forms}
    seen: set[str] = set()
    out: list[FeedEntry] = []
    for entry in entries:
        if entry.form_type in wanted and entry.accession_number not in seen:
            seen.add(entry.accession_number)
            out.append(entry)
    return out
