"""What footnotes say about data set rows: the XML path's normalisation, once per distinct key.

A data set row gives its footnotes as ids (``F1, F2``) and the texts sit in FOOTNOTES, so the
warehouse (``warehouse.dataset_rows``) numbers every distinct text of the quarter once (a
*text id*: footnotes and remarks alike; boilerplate repeated across filings gets one), and
gives each transaction, per classifier, the ids of the texts the XML reader would pass to it
(the row's footnotes in order, then the filing's remarks), keeping only the texts that hold
that classifier's words (``parsers.normalize.SALE_CUES`` and the others: the others cannot
change its answer). Keys repeat (most rows have no text that matters to a classifier), so
each distinct key is answered once and joined back. The functions here are pure: an Arrow
table of distinct keys and the texts by id in, the keys' answers out; the per-key work is the
very functions ``parsers.ownership`` calls.

``transaction_facts`` is the ONE place where a new per-transaction classification of the XML
path is added for data set rows (e.g. a sale-reason classifier: one call in its loop, its
results as new columns of ``FACT_SCHEMA``; ``warehouse.dataset_rows`` then selects them by name
from ``_ds_tx_facts`` in the ``transactions`` SELECT of ``_select``, and gives the key the
texts it reads).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pyarrow as pa

from form4.parsers.normalize import (
    classify_sale,
    is_10b5_1,
    mentions_10b5_1,
    price_range_columns,
    price_ranges,
    security_kind,
)

__all__ = [
    "FACT_SCHEMA",
    "KEY_SCHEMA",
    "RANGE_KEY_SCHEMA",
    "RANGE_SCHEMA",
    "TEXT_SCHEMA",
    "filing_plan_mentions",
    "TextRanges",
    "holding_kinds",
    "range_columns",
    "text_lookup",
    "title_kinds",
    "transaction_facts",
]

_DECIMAL = pa.decimal128(38, 8)
_QUANTUM = Decimal(1).scaleb(-8)

# A text id's list -> the texts; TEXT_SCHEMA: every text a key names, by id.
TEXT_SCHEMA = pa.schema([pa.field("text_id", pa.int64()), pa.field("text", pa.string())])
_IDS = pa.list_(pa.int64())

# The key of a transaction's normalisation, as warehouse.dataset_rows selects it (DISTINCT):
# for each classifier, the ids of the texts it reads.
KEY_SCHEMA = pa.schema(
    [
        pa.field("fact_id", pa.int64()),
        pa.field("code", pa.string()),
        pa.field("sale_ids", _IDS),  # classify_sale (code S only)
        pa.field("plan_ids", _IDS),  # is_10b5_1
        pa.field("range_ids", _IDS),  # has_price_range: the price's footnotes, else all
        pa.field("kind_ids", _IDS),  # security_kind (derivatives whose title does not say)
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
        pa.field("range_ids", _IDS),
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


def text_lookup(texts: Any) -> dict[int, str]:
    """``TEXT_SCHEMA`` rows -> {text id: text}."""
    ids = texts.column("text_id").to_pylist()
    return dict(zip(ids, texts.column("text").to_pylist(), strict=True))


def _texts(ids: list[int] | None, by_id: dict[int, str]) -> list[str]:
    return [by_id[i] for i in ids] if ids else []


class TextRanges:
    """``parsers.normalize.price_ranges`` of a key's range texts, once per distinct list of
    text ids: the facts ask whether there is a range, the range keys (one per price) which it
    is, as ``parsers.ownership`` reads a filing's ranges once and picks per row's price."""

    def __init__(self, by_id: dict[int, str]) -> None:
        self.by_id = by_id
        self._seen: dict[tuple[int, ...], tuple[tuple[Decimal, Decimal], ...]] = {}

    def __call__(self, ids: list[int] | None) -> tuple[tuple[Decimal, Decimal], ...]:
        key = tuple(ids) if ids else ()
        found = self._seen.get(key)
        if found is None:
            found = self._seen[key] = price_ranges(_texts(ids, self.by_id))
        return found


def _q(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)


def transaction_facts(
    keys: Any, by_id: dict[int, str], ranges_of: TextRanges | None = None
) -> pa.Table:
    """For each distinct key (``KEY_SCHEMA``): why a sale happened, 10b5-1, whether the texts
    give a price range, and the kind, exactly as ``parsers.ownership._Context.facts`` computes
    them for an XML row (the range itself: ``range_columns``)."""
    ranges_of = ranges_of or TextRanges(by_id)
    cols = {name: keys.column(name).to_pylist() for name in KEY_SCHEMA.names}
    reasons: list[str | None] = []
    sentences: list[str | None] = []
    plan: list[bool] = []
    ranged: list[bool] = []
    kind: list[str | None] = []
    for code, sale, plans, ranges, kinds, title, derivative, aff, mentioned in zip(
        cols["code"],
        cols["sale_ids"],
        cols["plan_ids"],
        cols["range_ids"],
        cols["kind_ids"],
        cols["title"],
        cols["is_derivative"],
        cols["aff10b5_one"],
        cols["plan_mentioned"],
        strict=True,
    ):
        reason, sentence = classify_sale(_texts(sale, by_id)) if code == "S" else (None, None)
        reasons.append(reason)
        sentences.append(sentence)
        plan.append(is_10b5_1(code, _texts(plans, by_id), aff, bool(mentioned)))
        ranged.append(bool(ranges_of(ranges)))
        kind.append(security_kind(title, _texts(kinds, by_id)) if derivative else None)
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


def range_columns(
    keys: Any, by_id: dict[int, str], ranges_of: TextRanges | None = None
) -> pa.Table:
    """For each distinct ``(range_ids, price)`` (``RANGE_KEY_SCHEMA``): the range to publish
    and whether it was unusable, as ``parsers.ownership`` decides it for an XML row
    (``price_range_columns`` of the texts' ranges and the row's price)."""
    ranges_of = ranges_of or TextRanges(by_id)
    ids = keys.column("range_ids").to_pylist()
    prices = keys.column("price").to_pylist()
    low: list[Decimal | None] = []
    high: list[Decimal | None] = []
    unusable: list[bool] = []
    for row_ids, price in zip(ids, prices, strict=True):
        lo, hi, bad = price_range_columns(ranges_of(row_ids), price)
        low.append(_q(lo))
        high.append(_q(hi))
        unusable.append(bad)
    return pa.table(
        [
            keys.column("range_id"),
            pa.array(low, _DECIMAL),
            pa.array(high, _DECIMAL),
            pa.array(unusable, pa.bool_()),
        ],
        schema=RANGE_SCHEMA,
    )


def title_kinds(titles: Any) -> pa.Table:
    """``(title)`` -> ``(title, title_kind)``: the kind a derivative's title alone gives
    (``security_kind`` reads the title first; None: the texts must be read)."""
    names = titles.column("title").to_pylist()
    kinds = [security_kind(t, []) for t in names]
    return pa.table(
        {
            "title": titles.column("title"),
            "title_kind": pa.array([None if k == "other" else k for k in kinds], pa.string()),
        }
    )


def holding_kinds(keys: Any, by_id: dict[int, str]) -> pa.Table:
    """``(kind_id, title, kind_ids)`` -> ``(kind_id, security_kind)`` for derivative
    holdings."""
    titles = keys.column("title").to_pylist()
    ids = keys.column("kind_ids").to_pylist()
    kinds = [security_kind(t, _texts(x, by_id)) for t, x in zip(titles, ids, strict=True)]
    return pa.table({"kind_id": keys.column("kind_id"), "security_kind": pa.array(kinds)})


def filing_plan_mentions(keys: Any, by_id: dict[int, str]) -> pa.Table:
    """``(plan_ids)`` -> ``(plan_ids, plan_mentioned)``: does any of a filing's footnotes or
    its remarks (those holding ``PLAN_CUES``) name a Rule 10b5-1 plan (``mentions_10b5_1``)."""
    ids = keys.column("plan_ids").to_pylist()
    return pa.table(
        {
            "plan_ids": keys.column("plan_ids"),
            "plan_mentioned": pa.array(
                [mentions_10b5_1(_texts(x, by_id)) for x in ids], pa.bool_()
            ),
        }
    )
