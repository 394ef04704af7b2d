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
    is_10b5_1,
    is_sell_to_cover,
    mentions_10b5_1,
    price_range,
    security_kind,
)

__all__ = [
    "FACT_SCHEMA",
    "KEY_SCHEMA",
    "filing_plan_mentions",
    "holding_kinds",
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
        pa.field("is_sell_to_cover", pa.bool_()),
        pa.field("is_10b5_1", pa.bool_()),
        pa.field("price_range_low", _DECIMAL),
        pa.field("price_range_high", _DECIMAL),
        pa.field("security_kind", pa.string()),
    ]
)


def _q(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)


def transaction_facts(keys: Any) -> pa.Table:
    """For each distinct key (``KEY_SCHEMA``): sell-to-cover, 10b5-1, price range and kind,
    exactly as ``parsers.ownership._Context.facts`` computes them for an XML row."""
    cols = {name: keys.column(name).to_pylist() for name in KEY_SCHEMA.names}
    stc: list[bool] = []
    plan: list[bool] = []
    low: list[Decimal | None] = []
    high: list[Decimal | None] = []
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
        found = price_range(price_texts or texts)
        stc.append(is_sell_to_cover(code, texts))
        plan.append(is_10b5_1(code, texts, aff, bool(mentioned)))
        low.append(_q(found[0]) if found else None)
        high.append(_q(found[1]) if found else None)
        kind.append(security_kind(title, texts) if derivative else None)
        # a sale-reason classifier of the XML path is called here, on ``texts``
    return pa.table(
        [
            keys.column("fact_id"),
            pa.array(stc, pa.bool_()),
            pa.array(plan, pa.bool_()),
            pa.array(low, _DECIMAL),
            pa.array(high, _DECIMAL),
            pa.array(kind, pa.string()),
        ],
        schema=FACT_SCHEMA,
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
