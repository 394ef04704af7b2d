"""EDGAR's latest-filings Atom feed: the request, and a poll that pages until it meets a known
filing.

``feed_params(family, start)`` is the query of one page of
``/cgi-bin/browse-edgar?action=getcurrent&type=4&owner=include&count=100&output=atom`` (``type``
is the form family: 3, 4 or 5; ``type=4`` also lists 4/A). ``poll_family`` reads page after
page (``start=0, 100, ...``) until a page holds an accession already seen (by an earlier poll:
``seen`` asks the warehouse) or is not full, so an idle poll costs one request per family.
Every request goes through the polite client (``flows.edgar.client``): the feed's requests
count against the same rate limit as the filings'. Parsing is ``parsers.feed``. Neighbours:
``flows.edgar.endpoints`` (indexes and submissions), ``flows.pipeline.watch`` (the caller).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable

import httpx

from form4.flows.edgar.endpoints import _content, _get
from form4.parsers.errors import FetchError, ParseError
from form4.parsers.feed import FeedEntry, parse_feed

__all__ = [
    "FEED_MAX_PAGES",
    "FEED_PAGE_SIZE",
    "FEED_PATH",
    "feed_families",
    "feed_params",
    "fetch_feed_page",
    "poll_family",
]

log = logging.getLogger("form4.feed")

FEED_PATH = "/cgi-bin/browse-edgar"
FEED_PAGE_SIZE = 100  # the most EDGAR gives per page
FEED_MAX_PAGES = 10  # a first poll (nothing seen yet) reads at most this far back
FEED_MAX_BYTES = 16 << 20  # one feed page (about 100 entries: tens of kB), read against this cap

Seen = Callable[[Collection[str]], set[str]]


def feed_families(forms: Iterable[str]) -> list[str]:
    """The feed ``type`` values for ``forms``: ``4`` for 4 and 4/A, and so on, in order."""
    families: list[str] = []
    for form in forms:
        family = form.upper().removesuffix("/A")
        if family not in families:
            families.append(family)
    return families


def feed_params(family: str, start: int = 0) -> dict[str, str]:
    """The query of one feed page."""
    params = {
        "action": "getcurrent",
        "type": family,
        "owner": "include",
        "count": str(FEED_PAGE_SIZE),
        "output": "atom",
    }
    if start:
        params["start"] = str(start)
    return params


def fetch_feed_page(client: httpx.Client, family: str, start: int = 0) -> list[FeedEntry]:
    """One page of the feed, parsed; a ``FetchError`` when EDGAR or the page fails."""
    url = httpx.URL(FEED_PATH, params=feed_params(family, start))
    data = _content(_get(client, str(url), FEED_MAX_BYTES))
    try:
        return parse_feed(data)
    except ParseError as exc:
        raise FetchError(f"{client.base_url.join(str(url))}: {exc}") from exc


def poll_family(
    client: httpx.Client, family: str, seen: Seen, *, max_pages: int = FEED_MAX_PAGES
) -> tuple[list[FeedEntry], int]:
    """The entries of ``family`` newer than the last poll, in feed order, and the number of
    requests it took. Pages until a page holds an already seen accession or is not full."""
    entries: list[FeedEntry] = []
    pages = 0
    for page in range(max_pages):
        found = fetch_feed_page(client, family, page * FEED_PAGE_SIZE)
        pages += 1
        known = seen({e.accession_number for e in found})
        entries.extend(e for e in found if e.accession_number not in known)
        if known or len(found) < FEED_PAGE_SIZE:
            break
    else:
        log.warning(
            "feed %s: no known filing in the %d newest pages; older ones are left to the "
            "nightly run",
            family,
            max_pages,
        )
    return entries, pages
