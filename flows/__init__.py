"""EDGAR access and orchestration: settings, the polite HTTP client, the Prefect flow, the CLI.

Modules: ``config`` (settings), ``http`` (client factory, rate limiter, block gate),
``edgar`` (index and submission fetches), ``ingest`` (plain ingest functions),
``ingest_flow`` (the Prefect flow and tasks), ``cli`` (the ``form4`` command), ``demo`` and
``mirror`` (offline demo on a loopback EDGAR mirror), ``output`` (what the CLI prints).
Prefect is imported only by ``ingest_flow``, so the CLI starts fast.
"""

from flows.config import Settings

__all__ = ["Settings"]
