"""Orchestration as plain functions: what to run, in which batches, and how far it got.

Modules: ``ingest`` (a day or a list of filings end to end), ``backfill`` (ranges of days, one
CIK's history), ``datasets`` (the SEC's quarterly data sets: fetch, import, verify),
``reprocess`` (stored raw copies parsed again), ``workers`` (parse processes),
``quarantine`` (filings a dead run left in flight, parsed alone in a child process),
``progress`` (bars and progress lines), ``highlights`` (the nightly digest), ``watch`` (the
latest-filings feed, polled and loaded intraday). The Prefect flows
(``flows.ingest_flow``) are thin wrappers over these; EDGAR access is
``flows.edgar``.
"""

__all__: list[str] = []
