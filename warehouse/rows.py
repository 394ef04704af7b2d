"""Parsed records -> Arrow tables, column by column (no pandas, no row-by-row SQL).

``filings_to_arrow`` turns a batch of ``ParsedFiling`` into one ``pyarrow.Table`` per data
table, typed by ``warehouse.schema.arrow_schema``. ``check_filing`` is run per filing before
a batch is built, so one filing with an unstorable value (a share count beyond DECIMAL(38,8))
is rejected alone instead of failing its whole batch. Neighbours: ``warehouse.schema``
(names and types), ``warehouse.db`` (writes these tables).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from itertools import accumulate, chain
from operator import attrgetter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from form4.parsers.errors import ParseError
from form4.parsers.records import Holding, ParsedFiling, Transaction
from form4.warehouse.schema import (
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


# Exact for any value check_filing lets through (Decimal's default context, 28 digits, made
# the rounding of 1E20 to 8 places an InvalidOperation that failed its whole batch).
_EXACT = Context(prec=DECIMAL_PRECISION + 10)
# The smallest exponent check_filing lets through (adjusted: of the leading digit, and of a
# zero its own): pyarrow's conversion of a Decimal with an exponent of -999999999 crashes the
# process (signal 11), so none may reach it. The parser refuses such values long before.
_MIN_EXPONENT = -40


def _quantize(value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    return value.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN, context=_EXACT)


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
                if (
                    not value.is_finite()
                    or abs(value) >= _LIMIT
                    or value.adjusted() < _MIN_EXPONENT
                ):
                    raise ParseError(
                        f"{name}={value:.3e} on line {row.line_no} is outside DECIMAL(38,8)",
                        stage="load",
                    )
            except InvalidOperation:  # pragma: no cover - is_finite/abs do not raise
                raise ParseError(f"{name}={value!r} is not a number", stage="load") from None


def _table(name: str, columns: Sequence[Sequence[Any] | pa.Array]) -> pa.Table:
    """Columns in ``TABLES[name]`` order -> an Arrow table of ``arrow_schema(name)``."""
    schema = arrow_schema(name)
    arrays = []
    for field, values in zip(schema, columns, strict=True):
        if isinstance(values, pa.Array):
            arrays.append(values)
        elif pa.types.is_decimal(field.type):
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
# Per filing of a batch, as Arrow arrays: accession numbers, issuer CIKs, filing dates.
Keys = tuple[pa.Array, pa.Array, pa.Array]


def _keys(filings: Sequence[ParsedFiling]) -> Keys:
    return (
        pa.array([f.header.accession_number for f in filings], pa.string()),
        pa.array([f.document.issuer.cik for f in filings], pa.string()),
        pa.array([f.header.filing_date for f in filings], pa.date32()),
    )


def _repeated(keys: Keys, counts: Sequence[int]) -> Keys:
    """Each filing's keys repeated for its number of rows (``counts``). Arrow does it from run
    ends, in C: a fifth of the time of repeating Python values and converting them."""
    if not any(counts):
        return tuple(k[:0] for k in keys)
    ends = pa.array([e for c, e in zip(counts, accumulate(counts), strict=True) if c], pa.int32())
    mask = pa.array([c > 0 for c in counts])
    return tuple(
        pc.run_end_decode(pa.RunEndEncodedArray.from_arrays(ends, k.filter(mask))) for k in keys
    )


def _columns(
    name: str, keys: Keys, counts: Sequence[int], own: Sequence[Sequence[Any]]
) -> list[Sequence[Any] | pa.Array]:
    """Columns of ``name`` in order: the filing keys, each repeated for its filing's number of
    rows (``counts``), around the rows' own columns (``own``, in table order)."""
    accessions, issuers, dates = _repeated(keys, counts)
    columns: list[Sequence[Any] | pa.Array] = [accessions, *own]
    if name in _KEYED:
        columns += [issuers, dates]
    return columns


def _getters(table: str) -> tuple[Callable[[Any], Any], ...]:
    """One attrgetter per column of ``table`` that its record holds (all but the filing keys).
    Mapping one over a batch's records gathers a column in C; on batches of thousands of
    records this is several times faster than a tuple per record transposed with ``zip``,
    whose working set outgrows the CPU caches."""
    return tuple(attrgetter(c.name) for c in TABLES[table] if c.name not in _KEY_NAMES)


_RECORD_COLUMNS = {
    name: _getters(name) for name in ("reporting_owners", "transactions", "holdings", "footnotes")
}
# The filings columns, as gathered by _filing_columns: the header's, the period, the issuer's
# (stored as issuer_<attribute>), the document's, then the two the loader sets.
_HEADER_FIELDS = ("accession_number", "form_type", "filing_date", "accepted_at")
_ISSUER_FIELDS = ("cik", "name", "ticker", "foreign_trading_symbol")
_DOCUMENT_FIELDS = (
    "aff10b5_one",
    "date_of_original_submission",
    "remarks",
    "schema_version",
    "document_type",
    "not_subject_to_section16",
    "no_securities_owned",
)
_FILING_COLUMNS = (
    *_HEADER_FIELDS,
    "period_of_report",
    *(f"issuer_{name}" for name in _ISSUER_FIELDS),
    *_DOCUMENT_FIELDS,
    "amends_accession",
    "loaded_at",
    "source",
)
_GET_HEADER = attrgetter(*_HEADER_FIELDS)
_GET_ISSUER = attrgetter(*_ISSUER_FIELDS)
_GET_DOCUMENT = attrgetter(*_DOCUMENT_FIELDS)
assert sorted(_FILING_COLUMNS) == sorted(c.name for c in TABLES["filings"])
_FILING_ORDER = tuple(_FILING_COLUMNS.index(c.name) for c in TABLES["filings"])


def _filing_columns(filings: Sequence[ParsedFiling], now: datetime) -> list[Sequence[Any]]:
    headers = [f.header for f in filings]
    documents = [f.document for f in filings]
    gathered: list[Sequence[Any]] = [
        *zip(*map(_GET_HEADER, headers), strict=True),
        [d.period_of_report or h.period_of_report for d, h in zip(documents, headers, strict=True)],
        *zip(*(_GET_ISSUER(d.issuer) for d in documents), strict=True),
        *zip(*map(_GET_DOCUMENT, documents), strict=True),
        (None,) * len(filings),  # amends_accession: linked by form4.warehouse.db after the load
        (now,) * len(filings),
        ("xml",) * len(filings),  # source: parsed from the filing's own XML
    ]
    return [gathered[i] for i in _FILING_ORDER]


_ISSUE_ROW = attrgetter("table", "line_no", "is_derivative", "field", "raw_value", "problem")
_LINK_OF_ROW = (attrgetter("line_no"), attrgetter("is_derivative"))
_LINK_OWN = (attrgetter("field"), attrgetter("footnote_id"))


def _links(per_filing: Sequence[Sequence[Transaction | Holding]]) -> tuple[list[int], list[Any]]:
    """Per filing, how many field-footnote links its rows have; and the links' own columns
    (line_no, is_derivative, field, footnote_id), gathered like the records' columns."""
    counts = [sum(len(row.field_footnotes) for row in rows) for rows in per_filing]
    row_of_link = [row for rows in per_filing for row in rows for _ in row.field_footnotes]
    links = [link for rows in per_filing for row in rows for link in row.field_footnotes]
    own = [list(map(get, row_of_link)) for get in _LINK_OF_ROW]
    own += [list(map(get, links)) for get in _LINK_OWN]
    return counts, own


def _transposed(name: str, rows: Sequence[tuple[Any, ...]]) -> list[Sequence[Any]]:
    """Row tuples of ``name``'s own columns -> those columns."""
    width = len(TABLES[name]) - (3 if name in _KEYED else 1)
    return list(zip(*rows, strict=True)) if rows else [() for _ in range(width)]


def filings_to_arrow(
    filings: Sequence[ParsedFiling], *, loaded_at: datetime | None = None
) -> dict[str, pa.Table]:
    """One Arrow table per data table for a batch of parsed filings.

    Each column is gathered over the whole batch by mapping an ``operator.attrgetter`` over the
    records, filing keys are repeated by Arrow from run ends, and each column becomes an Arrow
    array in one call, so the per-value work runs in C.
    """
    if not filings:
        return {name: _table(name, [() for _ in TABLES[name]]) for name in DATA_TABLES}
    now = (loaded_at or datetime.now(UTC)).replace(tzinfo=None)
    documents = [f.document for f in filings]
    keys = _keys(filings)
    cols: dict[str, Sequence[Sequence[Any] | pa.Array]] = {"filings": _filing_columns(filings, now)}
    for name, getters in _RECORD_COLUMNS.items():
        per_filing = list(map(attrgetter(name), documents))
        records = list(chain.from_iterable(per_filing))
        own = [list(map(get, records)) for get in getters]
        cols[name] = _columns(name, keys, list(map(len, per_filing)), own)
    for name, attr in (
        ("transaction_footnotes", "transactions"),
        ("holding_footnotes", "holdings"),
    ):
        counts, own = _links([getattr(d, attr) for d in documents])
        cols[name] = _columns(name, keys, counts, own)
    signatures = [d.signatures for d in documents]
    numbered = [(no, s.name, s.signed_on) for sigs in signatures for no, s in enumerate(sigs, 1)]
    cols["owner_signatures"] = _columns(
        "owner_signatures",
        keys,
        list(map(len, signatures)),
        _transposed("owner_signatures", numbered),
    )
    issues = [d.issues for d in documents]
    cols["data_issues"] = _columns(
        "data_issues",
        keys,
        list(map(len, issues)),
        _transposed("data_issues", [_ISSUE_ROW(i) for each in issues for i in each]),
    )
    return {name: _table(name, cols[name]) for name in DATA_TABLES}
