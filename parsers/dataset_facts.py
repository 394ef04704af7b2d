"""What footnotes say about data set rows: the XML path's normalisation, once per distinct key.

A data set row gives its footnotes as ids (``F1, F2``) and the texts sit in FOOTNOTES, so the
warehouse (``warehouse.dataset_rows``) gathers, for each transaction, the texts the XML reader
would pass to ``parsers.normalize`` (the row's footnotes in order, then the filing's remarks),
keeps each distinct combination once (far fewer than rows: most rows share their filing's
footnotes, and rows without any collapse to a handful), and joins the answers back. The
functions here are pure: an Arrow table of distinct keys in, the same rows with the answers
appended out; the per-key work is the very functions ``parsers.ownership`` calls.

``transaction_facts`` is the ONE place where a new per-transaction classification of the XML
path is added for data set rows (e.g. a sale-reason classifier: one call on ``texts`` in its
loop, its results as new columns of ``FACT_SCHEMA``; ``warehouse.dataset_rows`` then selects them
by name from ``_ds_tx_facts`` in the ``transactions`` SELECT of ``_select``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pyarrow as pa

from form4.parsers.normalize import (
    classify_sale,
    has_price_range,
    is_10b5_1,
    mentions_10b5_1,
    row_price_range,
    security_kind,
)

__all__ = [
    "FACT_SCHEMA",
    "KEY_SCHEMA",
    "RANGE_KEY_SCHEMA",
    "RANGE_SCHEMA",
    "filing_plan_mentions",
    "holding_kinds",
    "price_ranges",
    "transaction_facts",
]

_DECIMAL = pa.decimal128(38, 8)
_QUANTUM = Decimal(1).scaleb(-8)

# The key of a transaction's normalisation, as warehouse.dataset_rows selects it (DISTINCT).
KEY_SCHEMA = pa.schema(
    [
        pa.field("fact_id", pa.int64()),
        pa.field("code", pa.string()),
        pa.field("texts", pa.list_(pa.string())),
        pa.field("price_texts", pa.list_(pa.string())),
        pa.field("title", pa.string()),
        pa.field("is_derivative", pa.bool_()),
        pa.field("aff10b5_one", pa.bool_()),
        pa.field("plan_mentioned", pa.bool_()),
    ]
)
FACT_SCHEMA = pa.schema(
    [
        pa.field("fact_id", pa.int64()),
        pa.field("sale_reason", pa.string()),
        pa.field("sale_reason_text", pa.string()),
        pa.field("is_10b5_1", pa.bool_()),
        pa.field("has_range", pa.bool_()),
        pa.field("security_kind", pa.string()),
    ]
)
# A row's price range depends on its price too (it must contain it; one footnote may give a
# range per row): keyed apart, only for the rows whose texts give a range.
RANGE_KEY_SCHEMA = pa.schema(
    [
        pa.field("range_id", pa.int64()),
        pa.field("range_texts", pa.list_(pa.string())),
        pa.field("price", _DECIMAL),
    ]
)
RANGE_SCHEMA = pa.schema(
    [
        pa.field("range_id", pa.int64()),
        pa.field("price_range_low", _DECIMAL),
        pa.field("price_range_high", _DECIMAL),
        pa.field("price_range_unusable", pa.bool_()),
    ]
)


def _q(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)


def transaction_facts(keys: Any) -> pa.Table:
    """For each distinct key (``KEY_SCHEMA``): why a sale happened, 10b5-1, whether the texts
    give a price range, and the kind, exactly as ``parsers.ownership._Context.facts`` computes
    them for an XML row (the range itself: ``price_ranges``)."""
    cols = {name: keys.column(name).to_pylist() for name in KEY_SCHEMA.names}
    reasons: list[str | None] = []
    sentences: list[str | None] = []
    plan: list[bool] = []
    ranged: list[bool] = []
    kind: list[str | None] = []
    for code, texts, price_texts, title, derivative, aff, mentioned in zip(
        cols["code"],
        cols["texts"],
        cols["price_texts"],
        cols["title"],
        cols["is_derivative"],
        cols["aff10b5_one"],
        cols["plan_mentioned"],
        strict=True,
    ):
        texts = texts or []
        reason, sentence = classify_sale(texts) if code == "S" else (None, None)
        reasons.append(reason)
        sentences.append(sentence)
        plan.append(is_10b5_1(code, texts, aff, bool(mentioned)))
        ranged.append(has_price_range(price_texts or texts))
        kind.append(security_kind(title, texts) if derivative else None)
    return pa.table(
        [
            keys.column("fact_id"),
            pa.array(reasons, pa.string()),
            pa.array(sentences, pa.string()),
            pa.array(plan, pa.bool_()),
            pa.array(ranged, pa.bool_()),
            pa.array(kind, pa.string()),
        ],
        schema=FACT_SCHEMA,
    )


def price_ranges(keys: Any) -> pa.Table:
    """For each distinct ``(range_texts, price)`` (``RANGE_KEY_SCHEMA``): the range to publish
    and whether it was unusable, as ``parsers.ownership`` decides it for an XML row."""
    texts = keys.column("range_texts").to_pylist()
    prices = keys.column("price").to_pylist()
    low: list[Decimal | None] = []
    high: list[Decimal | None] = []
    unusable: list[bool] = []
    for row_texts, price in zip(texts, prices, strict=True):
        found = row_price_range(row_texts or [], price)
        usable = found is not None and found.usable
        low.append(_q(found.low) if found is not None and usable else None)
        high.append(_q(found.high) if found is not None and usable else None)
        unusable.append(found is not None and not usable)
    return pa.table(
        [
            keys.column("range_id"),
            pa.array(low, _DECIMAL),
            pa.array(high, _DECIMAL),
            pa.array(unusable, pa.bool_()),
        ],
        schema=RANGE_SCHEMA,
    )


def holding_kinds(keys: Any) -> pa.Table:
    """``(kind_id, title, texts)`` -> ``(kind_id, security_kind)`` for derivative holdings."""
    titles = keys.column("title").to_pylist()
    texts = keys.column("texts").to_pylist()
    kinds = [security_kind(t, x or []) for t, x in zip(titles, texts, strict=True)]
    return pa.table({"kind_id": keys.column("kind_id"), "security_kind": pa.array(kinds)})


def filing_plan_mentions(keys: Any) -> pa.Table:
    """``(accession_number, texts)`` -> ``(accession_number, plan_mentioned)``: does any of a
    filing's footnotes or its remarks name a Rule 10b5-1 plan (``mentions_10b5_1``)."""
    texts = keys.column("texts").to_pylist()
    return pa.table(
        {
            "accession_number": keys.column("accession_number"),
            "plan_mentioned": pa.array([mentions_10b5_1(t or []) for t in texts], pa.bool_()),
        }
    )
