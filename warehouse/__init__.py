"""The warehouse: DuckDB tables, idempotent Arrow loads, raw-document store, ingest state.

Modules: ``schema`` (tables and column docs, the single source of truth), ``rows`` (parsed
records -> Arrow), ``batch`` (a batch's Arrow tables and keys, made without the database),
``db`` (the ``Warehouse`` connection: loads and state), ``lock`` (waiting for a busy file,
the single-writer lock), ``raw`` (gzip copies of every fetched submission), ``datasets`` (a
quarterly data set ZIP into the same tables, through ``dataset_stage`` and ``dataset_rows``)
and ``dataset_audit`` (the data set compared with the XML rows). Imports ``parsers`` records;
never imports ``flows``.
"""

from form4.warehouse.batch import PreparedBatch, RawDocument, Reject, prepare_batch
from form4.warehouse.db import FailedFetch, Warehouse
from form4.warehouse.raw import RawStore
from form4.warehouse.schema import TABLES, create_all

__all__ = [
    "TABLES",
    "FailedFetch",
    "PreparedBatch",
    "RawDocument",
    "RawStore",
    "Reject",
    "Warehouse",
    "create_all",
    "prepare_batch",
]
