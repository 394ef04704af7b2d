"""Transaction codes of Forms 3, 4 and 5: official description, category, default direction.

Descriptions follow the SEC's Ownership XML technical specification and the Form 4 general
instructions. ``category`` is form4's normalised grouping; ``default_direction`` is used only
when a row has no acquired/disposed flag (``signed_delta``). Pure data. Neighbours:
``parsers.ownership`` attaches ``code_info`` to every transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

__all__ = ["CODES", "UNKNOWN_CATEGORY", "CodeInfo", "code_info", "signed_delta"]

UNKNOWN_CATEGORY = "unknown"


@dataclass(frozen=True, slots=True)
class CodeInfo:
    code: str
    description: str | None
    category: str
    default_direction: str | None  # "A", "D", or None where the code goes either way


_TABLE: tuple[tuple[str, str, str, str | None], ...] = (
    (
        "P",
        "Open market or private purchase of non-derivative or derivative security",
        "purchase",
        "A",
    ),
    ("S", "Open market or private sale of non-derivative or derivative security", "sale", "D"),
    ("V", "Transaction voluntarily reported earlier than required", "voluntary", None),
    ("A", "Grant, award or other acquisition pursuant to Rule 16b-3(d)", "award", "A"),
    (
        "D",
        "Disposition to the issuer of issuer equity securities pursuant to Rule 16b-3(e)",
        "disposition_to_issuer",
        "D",
    ),
    (
        "F",
        "Payment of exercise price or tax liability by delivering or withholding securities "
        "incident to the receipt, exercise or vesting of a security issued in accordance with "
        "Rule 16b-3",
        "tax_withholding",
        "D",
    ),
    (
        "I",
        "Discretionary transaction in accordance with Rule 16b-3(f) resulting in acquisition or "
        "disposition of issuer securities",
        "discretionary",
        None,
    ),
    (
        "M",
        "Exercise or conversion of derivative security exempted pursuant to Rule 16b-3",
        "exercise",
        None,
    ),
    ("C", "Conversion of derivative security", "conversion", None),
    ("E", "Expiration of short derivative position", "expiration", "D"),
    (
        "H",
        "Expiration (or cancellation) of long derivative position with value received",
        "expiration",
        "D",
    ),
    ("O", "Exercise of out-of-the-money derivative security", "exercise", None),
    ("X", "Exercise of in-the-money or at-the-money derivative security", "exercise", None),
    ("G", "Bona fide gift", "gift", None),
    ("L", "Small acquisition under Rule 16a-6", "small_acquisition", "A"),
    (
        "W",
        "Acquisition or disposition by will or the laws of descent and distribution",
        "inheritance",
        None,
    ),
    ("Z", "Deposit into or withdrawal from voting trust", "voting_trust", None),
    ("J", "Other acquisition or disposition (describe transaction)", "other", None),
    (
        "K",
        "Transaction in equity swap or instrument with similar characteristics",
        "equity_swap",
        None,
    ),
    (
        "U",
        "Disposition pursuant to a tender of shares in a change of control transaction",
        "tender",
        "D",
    ),
)

CODES: Mapping[str, CodeInfo] = MappingProxyType(
    {code: CodeInfo(code, desc, cat, direction) for code, desc, cat, direction in _TABLE}
)


def code_info(code: str | None) -> CodeInfo | None:
    """The code's info; an unofficial code is kept as filed with category ``unknown``."""
    if code is None:
        return None
    found = CODES.get(code)  # the usual code, already clean
    if found is not None:
        return found
    code = code.strip().upper()
    if not code:
        return None
    return CODES.get(code) or CodeInfo(code, None, UNKNOWN_CATEGORY, None)


def signed_delta(
    shares: Decimal | None, acquired_disposed: str | None, code: str | None
) -> Decimal | None:
    """+shares when acquired, -shares when disposed; the code's direction if the flag is absent."""
    if shares is None:
        return None
    direction = acquired_disposed
    if direction not in ("A", "D"):  # the usual flag, already clean, skips this
        direction = (acquired_disposed or "").strip().upper()
    if direction not in ("A", "D"):
        info = code_info(code)
        direction = (info.default_direction if info else None) or ""
    if direction == "A":
        return shares
    if direction == "D":
        return -shares
    return None
