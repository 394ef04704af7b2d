"""EDGAR access: the polite client and everything it talks to EDGAR with.

Modules: ``client`` (the one ``httpx.Client`` factory and its retrying transport), ``rate``
(the per-process and machine-wide rate limits), ``gate`` (block pages and the pause they
impose, shared by every form4 process of the user), ``wire`` (the per-request deadline and the
capped, streamed body), ``endpoints`` (EDGAR's paths, built from validated identifiers, and the
fetches form4 makes, ``fetch_to_file`` for large downloads), ``feed`` (the latest-filings Atom
feed and its paging), ``datasets`` (the data sets' index page and streamed ZIP downloads).
Orchestration (``flows.pipeline``) calls these; nothing here imports it.
"""

from form4.flows.edgar.client import PoliteTransport, RetryPolicy, build_client
from form4.flows.edgar.endpoints import fetch_to_file
from form4.flows.edgar.gate import BlockGate, classify_block, make_gate
from form4.flows.edgar.rate import RateLimiter, SharedRateLimiter, make_limiter

__all__ = [
    "BlockGate",
    "PoliteTransport",
    "RateLimiter",
    "RetryPolicy",
    "SharedRateLimiter",
    "build_client",
    "classify_block",
    "fetch_to_file",
    "make_gate",
    "make_limiter",
]
