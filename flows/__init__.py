"""EDGAR access, orchestration and the command line, each in its own package.

- ``edgar``: the polite ``httpx`` client, rate limits, the block gate, EDGAR's endpoints;
- ``pipeline``: ingest, backfill and reprocess as plain functions, workers, progress;
- ``cli``: the ``form4`` command, what it prints, the offline demo and its loopback mirror;
- ``config``: the settings of a run; ``ingest_flow``: the Prefect flows (thin wrappers).

Prefect is imported only by ``ingest_flow``, so the CLI starts fast.
"""

from form4.flows.config import Settings

__all__ = ["Settings"]
