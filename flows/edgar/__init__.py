"""EDGAR access: the polite client and everything it talks to EDGAR with.

Modules: ``client`` (the one ``httpx.Client`` factory and its retrying transport), ``rate``
(the per-process and machine-wide rate limits), ``gate`` (block pages and the pause they
impose), ``endpoints`` (EDGAR's paths and the fetches form4 makes), ``feed`` (the
latest-filings Atom feed and its paging), ``datasets`` (the data sets' index page and streamed
ZIP downloads). Orchestration (``flows.pipeline``) calls these; nothing here imports it.
"""

from form4.flows.edgar.client import PoliteTransport, RetryPolicy, build_client
from form4.flows.edgar.gate import BlockGate, classify_block
from form4.flows.edgar.rate import RateLimiter, SharedRateLimiter, make_limiter

__all__ = [
    "BlockGate",
    "PoliteTransport",
    "RateLimiter",
    "RetryPolicy",
    "SharedRateLimiter",
    "build_client",
    "classify_block",
    "make_limiter",
]
