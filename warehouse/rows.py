"""Parsed records -> Arrow tables, column by column (no pandas, no row-by-row SQL).

``filings_to_arrow`` turns a batch of ``ParsedFiling`` into one ``pyarrow.Table`` per data
table, typed by ``warehouse.schema.arrow_schema``. ``check_filing`` is run per filing before
a batch is built, so one filing with an unstorable value (a share count beyond DECIMAL(38,8))
is rejected alone instead of failing its whole batch. Neighbours: ``warehouse.schema``
(names and types), ``warehouse.db`` (writes these tables).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from parsers.errors import ParseError
from parsers.records import Holding, ParsedFiling, Transaction
from warehouse.schema import (
    DATA_TABLES,
    DECIMAL,
    DECIMAL_PRECISION,
    DECIMAL_SCALE,
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


def _table(name: str, columns: dict[str, list[Any]]) -> pa.Table:
    schema = arrow_schema(name)
    arrays = []
    for field in schema:
        values = columns[field.name]
        if pa.types.is_decimal(field.type):
            try:
                arrays.append(pa.array(values, type=field.type))
            except pa.ArrowInvalid:  # more than 8 decimal places somewhere: round half-even
                arrays.append(pa.array([_quantize(v) for v in values], type=field.type))
        else:
            arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _empty(name: str) -> dict[str, list[Any]]:
    return {c.name: [] for c in TABLES[name]}


def _link_rows(out: dict[str, list[Any]], accession: str, row: Transaction | Holding) -> None:
    for link in row.field_footnotes:
        out["accession_number"].append(accession)
        out["line_no"].append(row.line_no)
        out["is_derivative"].append(row.is_derivative)
        out["field"].append(link.field)
        out["footnote_id"].append(link.footnote_id)


def filings_to_arrow(
    filings: Sequence[ParsedFiling], *, loaded_at: datetime | None = None
) -> dict[str, pa.Table]:
    """One Arrow table per data table for a batch of parsed filings."""
    now = (loaded_at or datetime.now(UTC)).replace(tzinfo=None)
    cols = {name: _empty(name) for name in DATA_TABLES}
    f = cols["filings"]
    owners = cols["reporting_owners"]
    tx = cols["transactions"]
    hold = cols["holdings"]
    notes = cols["footnotes"]
    tx_notes = cols["transaction_footnotes"]
    hold_notes = cols["holding_footnotes"]
    sigs = cols["owner_signatures"]
    for filing in filings:
        h, d = filing.header, filing.document
        acc = h.accession_number
        header_values: tuple[tuple[str, object], ...] = (
            ("accession_number", acc),
            ("form_type", h.form_type),
            ("filing_date", h.filing_date),
            ("accepted_at", h.accepted_at),
            ("period_of_report", d.period_of_report or h.period_of_report),
            ("issuer_cik", d.issuer.cik),
            ("issuer_name", d.issuer.name),
            ("issuer_ticker", d.issuer.ticker),
            ("aff10b5_one", d.aff10b5_one),
            ("date_of_original_submission", d.date_of_original_submission),
            ("remarks", d.remarks),
            ("schema_version", d.schema_version),
            ("document_type", d.document_type),
            ("not_subject_to_section16", d.not_subject_to_section16),
            ("no_securities_owned", d.no_securities_owned),
            ("issuer_foreign_trading_symbol", d.issuer.foreign_trading_symbol),
            ("amends_accession", None),  # linked by warehouse.db after the load
            ("loaded_at", now),
        )
        for key, value in header_values:
            f[key].append(value)
        for owner in d.reporting_owners:
            owners["accession_number"].append(acc)
            for key in _OWNER_COLUMNS:
                owners[key].append(getattr(owner, key))
        for t in d.transactions:
            tx["accession_number"].append(acc)
            for key in _TX_COLUMNS:
                tx[key].append(getattr(t, key))
            _link_rows(tx_notes, acc, t)
        for hd in d.holdings:
            hold["accession_number"].append(acc)
            for key in _HOLD_COLUMNS:
                hold[key].append(getattr(hd, key))
            _link_rows(hold_notes, acc, hd)
        for note in d.footnotes:
            notes["accession_number"].append(acc)
            notes["footnote_id"].append(note.footnote_id)
            notes["text"].append(note.text)
        for no, sig in enumerate(d.signatures, start=1):
            sigs["accession_number"].append(acc)
            sigs["signature_no"].append(no)
            sigs["signature_name"].append(sig.name)
            sigs["signature_date"].append(sig.signed_on)
    for rows in (tx, hold):
        rows["footnote_ids"] = [list(ids) for ids in rows["footnote_ids"]]
    return {name: _table(name, cols[name]) for name in DATA_TABLES}


_OWNER_COLUMNS = tuple(c.name for c in TABLES["reporting_owners"] if c.name != "accession_number")
