"""Parsed records -> Arrow tables, column by column (no pandas, no row-by-row SQL).

``filings_to_arrow`` turns a batch of ``ParsedFiling`` into one ``pyarrow.Table`` per data
table, typed by ``warehouse.schema.arrow_schema``. ``check_filing`` is run per filing before
a batch is built, so one filing with an unstorable value (a share count beyond DECIMAL(38,8))
is rejected alone instead of failing its whole batch. Neighbours: ``warehouse.schema``
(names and types), ``warehouse.db`` (writes these tables).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from operator import attrgetter
from typing import Any

import pyarrow as pa

from parsers.errors import ParseError
from parsers.records import Holding, OwnershipDocument, ParsedFiling, Transaction
from warehouse.schema import (
    DATA_TABLES,
    DECIMAL,
    DECIMAL_PRECISION,
    DECIMAL_SCALE,
    FILING_KEYS,
    TABLES,
    arrow_schema,
)

__all__ = ["check_filing", "filings_to_arrow"]

_QUANTUM = Decimal(1).scaleb(-DECIMAL_SCALE)
_LIMIT = Decimal(10) ** (DECIMAL_PRECISION - DECIMAL_SCALE)

_TX_COLUMNS = tuple(c.name for c in TABLES["transactions"] if c.name != "accession_number")
_HOLD_COLUMNS = tuple(c.name for c in TABLES["holdings"] if c.name != "accession_number")
_TX_DECIMALS = tuple(c.name for c in TABLES["transactions"] if c.sql_type == DECIMAL)
_HOLD_DECIMALS = tuple(c.name for c in TABLES["holdings"] if c.sql_type == DECIMAL)


def _quantize(value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    return value.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)


def check_filing(filing: ParsedFiling) -> None:
    """Raise ``ParseError(stage="load")`` when a value cannot be stored exactly enough."""
    rows: Iterable[Transaction | Holding] = (
        *filing.document.transactions,
        *filing.document.holdings,
    )
    for row in rows:
        names = _TX_DECIMALS if isinstance(row, Transaction) else _HOLD_DECIMALS
        for name in names:
            value = getattr(row, name)
            if value is None:
                continue
            try:
                if not value.is_finite() or abs(value) >= _LIMIT:
                    raise ParseError(
                        f"{name}={value} on line {row.line_no} is outside DECIMAL(38,8)",
                        stage="load",
                    )
            except InvalidOperation:  # pragma: no cover - is_finite/abs do not raise
                raise ParseError(f"{name}={value!r} is not a number", stage="load") from None


def _table(name: str, columns: Sequence[Sequence[Any]]) -> pa.Table:
    """Columns in ``TABLES[name]`` order -> an Arrow table of ``arrow_schema(name)``."""
    schema = arrow_schema(name)
    arrays = []
    for field, values in zip(schema, columns, strict=True):
        if pa.types.is_decimal(field.type):
            try:
                arrays.append(pa.array(values, type=field.type))
            except pa.ArrowInvalid:  # more than 8 decimal places somewhere: round half-even
                arrays.append(pa.array([_quantize(v) for v in values], type=field.type))
        else:
            arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


# Tables whose last two columns repeat the filing's issuer_cik and filing_date.
_KEYED = frozenset(name for name, cols in TABLES.items() if cols[-2:] == FILING_KEYS)
_KEY_NAMES = ("accession_number", *(c.name for c in FILING_KEYS))
Keys = tuple[str, str, date | None]  # accession_number, issuer_cik, filing_date


def _transpose(name: str, keys: list[Keys], rows: list[tuple[Any, ...]]) -> list[Sequence[Any]]:
    """Each row's filing keys plus its tuple of the other columns, in order -> columns; the
    transpose runs in C (``zip``)."""
    if not rows:
        return [[] for _ in TABLES[name]]
    accessions, issuers, dates = zip(*keys, strict=True)
    columns: list[Sequence[Any]] = [accessions, *zip(*rows, strict=True)]
    if name in _KEYED:
        columns += [issuers, dates]
    return columns


def _getter(table: str) -> Callable[[Any], tuple[Any, ...]]:
    """attrgetter of the record's own columns (at least two, so it returns a tuple)."""
    names = [c.name for c in TABLES[table] if c.name not in _KEY_NAMES]
    assert len(names) > 1, table
    return attrgetter(*names)


_GET_OWNER = _getter("reporting_owners")
_GET_TX = _getter("transactions")
_GET_HOLD = _getter("holdings")
_GET_NOTE = _getter("footnotes")
_FOOTNOTE_IDS = {
    name: [c.name for c in TABLES[name]].index("footnote_ids")
    for name in ("transactions", "holdings")
}


_FILING_COLUMNS = tuple(c.name for c in TABLES["filings"])


def _filing_row(filing: ParsedFiling, now: datetime) -> dict[str, Any]:
    h, d = filing.header, filing.document
    return {
        "accession_number": h.accession_number,
        "form_type": h.form_type,
        "filing_date": h.filing_date,
        "accepted_at": h.accepted_at,
        "period_of_report": d.period_of_report or h.period_of_report,
        "issuer_cik": d.issuer.cik,
        "issuer_name": d.issuer.name,
        "issuer_ticker": d.issuer.ticker,
        "aff10b5_one": d.aff10b5_one,
        "date_of_original_submission": d.date_of_original_submission,
        "remarks": d.remarks,
        "schema_version": d.schema_version,
        "document_type": d.document_type,
        "not_subject_to_section16": d.not_subject_to_section16,
        "no_securities_owned": d.no_securities_owned,
        "issuer_foreign_trading_symbol": d.issuer.foreign_trading_symbol,
        "amends_accession": None,  # linked by warehouse.db after the load
        "loaded_at": now,
    }


def _links(docs: list[tuple[Keys, OwnershipDocument]], table: str) -> list[Sequence[Any]]:
    keys: list[Keys] = []
    rows: list[tuple[Any, ...]] = []
    for k, d in docs:
        for row in d.transactions if table == "transaction_footnotes" else d.holdings:
            for link in row.field_footnotes:
                keys.append(k)
                rows.append((row.line_no, row.is_derivative, link.field, link.footnote_id))
    return _transpose(table, keys, rows)


def filings_to_arrow(
    filings: Sequence[ParsedFiling], *, loaded_at: datetime | None = None
) -> dict[str, pa.Table]:
    """One Arrow table per data table for a batch of parsed filings.

    Each table's rows are gathered over the whole batch as tuples (``operator.attrgetter``),
    transposed into columns by ``zip`` and turned into Arrow arrays column by column, so the
    per-value work runs in C.
    """
    now = (loaded_at or datetime.now(UTC)).replace(tzinfo=None)
    filing_rows = [_filing_row(f, now) for f in filings]  # by name: one row per filing
    docs = [
        ((f.header.accession_number, f.document.issuer.cik, f.header.filing_date), f.document)
        for f in filings
    ]
    owners = [(k, o) for k, d in docs for o in d.reporting_owners]
    txs = [(k, t) for k, d in docs for t in d.transactions]
    holds = [(k, x) for k, d in docs for x in d.holdings]
    notes = [(k, n) for k, d in docs for n in d.footnotes]
    cols: dict[str, list[Sequence[Any]]] = {
        "filings": [[row[name] for row in filing_rows] for name in _FILING_COLUMNS],
        "reporting_owners": _transpose(
            "reporting_owners", [k for k, _ in owners], [_GET_OWNER(o) for _, o in owners]
        ),
        "transactions": _transpose(
            "transactions", [k for k, _ in txs], [_GET_TX(t) for _, t in txs]
        ),
        "holdings": _transpose("holdings", [k for k, _ in holds], [_GET_HOLD(x) for _, x in holds]),
        "footnotes": _transpose(
            "footnotes", [k for k, _ in notes], [_GET_NOTE(n) for _, n in notes]
        ),
        "transaction_footnotes": _links(docs, "transaction_footnotes"),
        "holding_footnotes": _links(docs, "holding_footnotes"),
        "owner_signatures": _transpose(
            "owner_signatures",
            [k for k, d in docs for _ in d.signatures],
            [
                (no, sig.name, sig.signed_on)
                for _, d in docs
                for no, sig in enumerate(d.signatures, start=1)
            ],
        ),
    }
    for name, at in _FOOTNOTE_IDS.items():
        cols[name][at] = [list(ids) for ids in cols[name][at]]
    return {name: _table(name, cols[name]) for name in DATA_TABLES}
