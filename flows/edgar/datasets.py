"""EDGAR's Insider Transactions Data Sets: the index page and the quarterly ZIPs.

``fetch_dataset_links`` reads the index page (``DATASETS_INDEX_PATH``) through the polite
client (rate limit, User-Agent, retries, block pause) and returns each published quarter's ZIP
URL as the page links it (``parsers.dataset_index.dataset_links``): the URLs are never built
by hand. ``download_zip`` streams one ZIP to a file (``.part`` first, renamed when complete and
synced), never holding it in memory, against ``FORM4_MAX_DATASET_BYTES``; one request per
quarter, repeated only when the transfer breaks. (This small streaming function is the data
sets' own; a general bounded download helper of ``flows.edgar`` can replace it.)
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import httpx

from form4.flows.edgar.client import STREAM
from form4.parsers.dataset_index import Quarter, dataset_links
from form4.parsers.errors import FetchError

__all__ = ["DATASETS_INDEX_PATH", "Download", "download_zip", "fetch_dataset_links"]

log = logging.getLogger("form4.datasets")

DATASETS_INDEX_PATH = "/data-research/sec-markets-data/insider-transactions-data-sets"
_CHUNK = 1 << 20


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
    attempts: int = 3,
) -> Download:
    """Stream ``url`` to ``target``; ``FetchError`` when it cannot be had whole."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    last: Exception | None = None
    for attempt in range(1, attempts + 1):
        try:
            size, digest = _stream(client, url, part, max_bytes)
        except _Transient as exc:
            last = exc
            log.warning("%s: %s (attempt %d of %d)", url, exc, attempt, attempts)
            continue
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        os.replace(part, target)
        return Download(target, size, digest, attempt)
    part.unlink(missing_ok=True)
    raise FetchError(f"{url}: {last}", url=url)


class _Transient(Exception):
    """The transfer broke (reset, short body, timeout): worth one more request."""


def _stream(client: httpx.Client, url: str, part: Path, max_bytes: int) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    try:
        with client.stream("GET", url, extensions={STREAM: True}) as response:
            if response.status_code != 200:
                raise FetchError(
                    f"{url}: HTTP {response.status_code}", url=url, status=response.status_code
                )
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(
                    f"{url}: {int(declared):,} bytes is over the cap of {max_bytes:,} "
                    "(FORM4_MAX_DATASET_BYTES)",
                    url=url,
                )
            with open(part, "wb") as out:
                for chunk in response.iter_bytes(_CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise FetchError(
                            f"{url}: more than the cap of {max_bytes:,} bytes "
                            "(FORM4_MAX_DATASET_BYTES)",
                            url=url,
                        )
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
    except httpx.TransportError as exc:
        raise _Transient(f"{type(exc).__name__}: {exc}") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"{url}: {type(exc).__name__}: {exc}", url=url) from exc
    return size, digest.hexdigest()
