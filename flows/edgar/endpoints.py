"""EDGAR paths and the two fetches form4 makes: a day's index and a filing's submission text.

Both take the ``httpx.Client`` built by ``flows.edgar.client.build_client`` (rate limit, block pause
and retries live there) and return bytes; parsing is ``parsers``' job. A missing daily index
(EDGAR answers 403 or 404, or an S3 ``NoSuchKey`` body) is ``None``, not an error.
"""

from __future__ import annotations

from datetime import date

import httpx

from form4.parsers.errors import FetchError
from form4.parsers.records import IndexEntry

__all__ = [
    "daily_index_path",
    "fetch_daily_index",
    "fetch_json",
    "fetch_quarterly_index",
    "quarterly_index_path",
    "fetch_submission",
    "submission_path",
]


def daily_index_path(day: date) -> str:
    """``Archives/edgar/daily-index/2026/QTR1/form.20260202.idx``."""
    quarter = (day.month - 1) // 3 + 1
    return f"/Archives/edgar/daily-index/{day.year}/QTR{quarter}/form.{day:%Y%m%d}.idx"


def quarterly_index_path(year: int, quarter: int) -> str:
    """``Archives/edgar/full-index/2026/QTR1/form.idx``: a whole quarter in one request."""
    return f"/Archives/edgar/full-index/{year}/QTR{quarter}/form.idx"


def submission_path(entry: IndexEntry) -> str:
    """``Archives/edgar/data/{cik}/{accession}.txt`` (the index's own file name, normalised)."""
    filename = entry.filename.lstrip("/")
    if not filename.startswith("Archives/"):
        filename = "Archives/" + filename
    return "/" + filename


def _get(client: httpx.Client, path: str) -> httpx.Response:
    try:
        return client.get(path)
    except httpx.HTTPError as exc:  # transport errors left after the retries, bad URLs
        raise FetchError(f"{client.base_url.join(path)}: {type(exc).__name__}: {exc}") from exc


def fetch_daily_index(client: httpx.Client, day: date) -> bytes | None:
    """The day's form index, or ``None`` when EDGAR has none (weekend, holiday, not yet out)."""
    return _optional(client, daily_index_path(day))


def fetch_submission(client: httpx.Client, entry: IndexEntry) -> bytes:
    """The full submission text file of one filing."""
    return _content(_get(client, submission_path(entry)))


def _content(response: httpx.Response) -> bytes:
    """The body of a 200, or a FetchError naming the status."""
    if response.status_code != 200:
        raise FetchError(
            f"{response.url}: HTTP {response.status_code}",
            url=str(response.url),
            status=response.status_code,
        )
    return response.content


def _optional(client: httpx.Client, url: str) -> bytes | None:
    response = _get(client, url)
    if response.status_code in (403, 404) or (
        response.status_code == 200 and b"<Code>NoSuchKey</Code>" in response.content[:2048]
    ):
        return None
    return _content(response)


def fetch_quarterly_index(client: httpx.Client, year: int, quarter: int) -> bytes | None:
    """A quarter's full form index, or ``None`` when EDGAR has none."""
    return _optional(client, quarterly_index_path(year, quarter))


def fetch_json(client: httpx.Client, url: str) -> bytes | None:
    """A data.sec.gov JSON document (absolute URL), or ``None`` when it does not exist."""
    return _optional(client, url)
