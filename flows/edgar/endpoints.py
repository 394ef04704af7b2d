"""EDGAR paths and the fetches form4 makes: indexes, a filing's submission text, submissions
JSON, and any large file streamed to disk.

Every fetch takes the ``httpx.Client`` built by ``flows.edgar.client.build_client`` (rate
limit, block pause, same-origin redirects, byte caps, deadline and retries live there) and
returns bytes; parsing is ``parsers``' job. A missing daily index (EDGAR answers 403 or 404, or
an S3 ``NoSuchKey`` body) is ``None``, not an error.

Paths are built from validated identifiers only (``parsers.identifiers``): a filing is always
``/Archives/edgar/data/{cik}/{accession}.txt`` from the index's (or submissions JSON's) own CIK
and accession number, never the file name the index gives, so a hostile name such as
``edgar/data/../../secret/x.txt`` is never requested; a submissions JSON is always
``{data_url}/submissions/CIK##########[-submissions-NNN].json``. An identifier that does not
check out is a ``FetchError`` before anything is sent.

Byte caps: a submission ``FORM4_MAX_SUBMISSION_BYTES``, an index or JSON document
``FORM4_MAX_INDEX_BYTES``; ``fetch_to_file`` takes its own cap and streams the body to a file.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import httpx

from form4.flows.edgar.client import SIZE_EXTENSION
from form4.flows.edgar.wire import MAX_BYTES_EXTENSION, SINK_EXTENSION
from form4.parsers.errors import FetchError
from form4.parsers.identifiers import SUBMISSIONS_PAGE, is_accession, is_cik
from form4.parsers.records import IndexEntry

__all__ = [
    "DEFAULT_INDEX_BYTES",
    "DEFAULT_SUBMISSION_BYTES",
    "daily_index_path",
    "fetch_daily_index",
    "fetch_json",
    "fetch_quarterly_index",
    "fetch_submission",
    "fetch_submissions_json",
    "fetch_to_file",
    "quarterly_index_path",
    "submission_path",
    "submissions_json_url",
]

DEFAULT_SUBMISSION_BYTES = 50 * 1024 * 1024
DEFAULT_INDEX_BYTES = 256 * 1024 * 1024


def daily_index_path(day: date) -> str:
    """``Archives/edgar/daily-index/2026/QTR1/form.20260202.idx``."""
    quarter = (day.month - 1) // 3 + 1
    return f"/Archives/edgar/daily-index/{day.year}/QTR{quarter}/form.{day:%Y%m%d}.idx"


def quarterly_index_path(year: int, quarter: int) -> str:
    """``Archives/edgar/full-index/2026/QTR1/form.idx``: a whole quarter in one request."""
    return f"/Archives/edgar/full-index/{year}/QTR{quarter}/form.idx"


def submission_path(entry: IndexEntry) -> str:
    """``/Archives/edgar/data/{cik}/{accession}.txt`` from the entry's CIK and accession number
    (validated; the index's file name is not used), or a ``FetchError``."""
    cik, accession = entry.cik.strip(), entry.accession_number.strip()
    if not is_cik(cik) or int(cik) == 0:
        raise FetchError(f"refused to fetch a filing with the invalid CIK {entry.cik!r}")
    if not is_accession(accession):
        raise FetchError(
            f"refused to fetch a filing with the invalid accession number "
            f"{entry.accession_number!r}"
        )
    return f"/Archives/edgar/data/{int(cik)}/{accession}.txt"


def submissions_json_url(data_url: str, name: str) -> str:
    """``{data_url}/submissions/{name}`` for a name such as ``CIK0000320193.json`` or
    ``CIK0000320193-submissions-001.json``; any other name (a path, a URL) is a FetchError."""
    if not isinstance(name, str) or SUBMISSIONS_PAGE.fullmatch(name) is None:
        raise FetchError(f"refused to fetch the submissions page {name!r} (not a page name)")
    return f"{data_url.rstrip('/')}/submissions/{name}"


def _get(client: httpx.Client, path: str, max_bytes: int) -> httpx.Response:
    try:
        return client.get(path, extensions={MAX_BYTES_EXTENSION: max_bytes})
    except httpx.HTTPError as exc:  # transport errors left after the retries, bad URLs
        raise FetchError(f"{client.base_url.join(path)}: {type(exc).__name__}: {exc}") from exc


def fetch_daily_index(
    client: httpx.Client, day: date, *, max_bytes: int = DEFAULT_INDEX_BYTES
) -> bytes | None:
    """The day's form index, or ``None`` when EDGAR has none (weekend, holiday, not yet out)."""
    return _optional(client, daily_index_path(day), max_bytes)


def fetch_submission(
    client: httpx.Client, entry: IndexEntry, *, max_bytes: int = DEFAULT_SUBMISSION_BYTES
) -> bytes:
    """The full submission text file of one filing."""
    return _content(_get(client, submission_path(entry), max_bytes))


def _content(response: httpx.Response) -> bytes:
    """The body of a 200, or a FetchError naming the status."""
    if response.status_code != 200:
        raise FetchError(
            f"{response.url}: HTTP {response.status_code}",
            url=str(response.url),
            status=response.status_code,
        )
    return response.content


def _optional(client: httpx.Client, url: str, max_bytes: int) -> bytes | None:
    response = _get(client, url, max_bytes)
    if response.status_code in (403, 404) or (
        response.status_code == 200 and b"<Code>NoSuchKey</Code>" in response.content[:2048]
    ):
        return None
    return _content(response)


def fetch_quarterly_index(
    client: httpx.Client, year: int, quarter: int, *, max_bytes: int = DEFAULT_INDEX_BYTES
) -> bytes | None:
    """A quarter's full form index, or ``None`` when EDGAR has none."""
    return _optional(client, quarterly_index_path(year, quarter), max_bytes)


def fetch_json(
    client: httpx.Client, url: str, *, max_bytes: int = DEFAULT_INDEX_BYTES
) -> bytes | None:
    """A data.sec.gov JSON document (absolute URL), or ``None`` when it does not exist."""
    return _optional(client, url, max_bytes)


def fetch_submissions_json(
    client: httpx.Client, data_url: str, name: str, *, max_bytes: int = DEFAULT_INDEX_BYTES
) -> bytes | None:
    """A submissions JSON document by its page name (see ``submissions_json_url``)."""
    return fetch_json(client, submissions_json_url(data_url, name), max_bytes=max_bytes)


def fetch_to_file(
    client: httpx.Client,
    path_or_url: str,
    dest: Path,
    *,
    max_bytes: int,
    extensions: dict[str, object] | None = None,
) -> int:
    """Stream a 200 body into ``dest`` without holding it in memory; returns its size.

    The body goes to a hidden ``.{name}.tmp-{pid}`` beside ``dest``, is synced and renamed
    over ``dest`` only when whole; on any failure (not 200, over ``max_bytes`` on the wire or
    decoded, past the deadline, a full disk) the temporary file is removed, ``dest`` is left as
    it was and a ``FetchError`` (or the ``OSError``) is raised. ``extensions`` are passed to
    the request (``flows.edgar.client.DEADLINE_EXTENSION`` for a longer deadline).
    """
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w+b") as sink:
            try:
                response = client.get(
                    path_or_url,
                    extensions={
                        **(extensions or {}),
                        MAX_BYTES_EXTENSION: max_bytes,
                        SINK_EXTENSION: sink,
                    },
                )
            except httpx.HTTPError as exc:
                raise FetchError(f"{path_or_url}: {type(exc).__name__}: {exc}") from exc
            if response.status_code != 200:
                raise FetchError(
                    f"{response.url}: HTTP {response.status_code}",
                    url=str(response.url),
                    status=response.status_code,
                )
            sink.flush()
            os.fsync(sink.fileno())
            size = int(response.extensions.get(SIZE_EXTENSION, sink.tell()))
        os.replace(tmp, dest)
        return size
    finally:
        tmp.unlink(missing_ok=True)
