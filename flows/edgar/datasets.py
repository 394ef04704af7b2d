"""EDGAR's Insider Transactions Data Sets: the index page and the quarterly ZIPs.

``fetch_dataset_links`` reads the index page (``DATASETS_INDEX_PATH``) through the polite
client (rate limit, User-Agent, retries, block pause) and returns each published quarter's ZIP
URL as the page links it (``parsers.dataset_index.dataset_links``): the URLs are never built
by hand. ``download_zip`` streams one ZIP to a file through ``flows.edgar.endpoints.fetch_to_file``
(a hidden temporary file first, synced and renamed when complete), never holding it in memory,
against ``FORM4_MAX_DATASET_BYTES`` on the wire and decoded; one request per quarter, repeated
by the client only when the transfer breaks. Its deadline is ``DOWNLOAD_RATE``-bound: the cap
at 1 MiB/s, or ``FORM4_DEADLINE_S`` when that is longer.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import httpx

from form4.flows.edgar.client import DEADLINE_EXTENSION
from form4.flows.edgar.endpoints import fetch_to_file
from form4.flows.edgar.wire import ResponseTooLarge
from form4.parsers.dataset_index import Quarter, dataset_links
from form4.parsers.errors import FetchError

__all__ = [
    "DATASETS_INDEX_PATH",
    "DOWNLOAD_RATE",
    "Download",
    "download_zip",
    "fetch_dataset_links",
]

log = logging.getLogger("form4.datasets")

DATASETS_INDEX_PATH = "/data-research/sec-markets-data/insider-transactions-data-sets"
_CHUNK = 1 << 20
# the slowest transfer a ZIP's deadline allows for, bytes per second
DOWNLOAD_RATE = 1 << 20


def fetch_dataset_links(client: httpx.Client) -> dict[Quarter, str]:
    """Quarter -> ZIP URL, for every quarter the index page links (on EDGAR's host)."""
    url = str(client.base_url.join(DATASETS_INDEX_PATH))
    try:
        response = client.get(DATASETS_INDEX_PATH)
    except httpx.HTTPError as exc:
        raise FetchError(f"{url}: {type(exc).__name__}: {exc}", url=url) from exc
    if response.status_code != 200:
        raise FetchError(
            f"{url}: HTTP {response.status_code} (the data sets' index page)",
            url=url,
            status=response.status_code,
        )
    return dataset_links(response.content, str(response.url))


@dataclass(frozen=True, slots=True)
class Download:
    path: Path
    size: int
    sha256: str
    requests: int


def download_zip(
    client: httpx.Client,
    url: str,
    target: Path,
    *,
    max_bytes: int,
    deadline_s: float | None = None,
) -> Download:
    """Stream ``url`` to ``target``; ``FetchError`` when it cannot be had whole (the client
    retries a transfer that breaks)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    wanted = max(deadline_s or 0.0, max_bytes / DOWNLOAD_RATE)
    try:
        size = fetch_to_file(
            client, url, target, max_bytes=max_bytes, extensions={DEADLINE_EXTENSION: wanted}
        )
    except ResponseTooLarge as exc:
        raise FetchError(f"{exc} (FORM4_MAX_DATASET_BYTES)", url=url) from exc
    digest = hashlib.sha256()
    with open(target, "rb") as done:
        while chunk := done.read(_CHUNK):
            digest.update(chunk)
    return Download(target, size, digest.hexdigest(), 1)
