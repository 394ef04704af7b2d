"""What footnotes say about a transaction: sell-to-cover, Rule 10b5-1, price range, kind.

Pure functions over the texts linked to one row (its footnotes, and the filing's remarks),
used by ``parsers.ownership`` for every transaction:

- ``is_sell_to_cover``: an S whose texts say the shares were sold to pay the tax due on the
  vesting or settlement of an award (RSUs, PSUs, restricted stock). A sentence qualifies when
  it says "sell to cover" (not "to cover the exercise price"), or names a tax obligation, a
  verb of paying it (cover, satisfy, pay, fund, meet), a sale and a vesting or settlement
  event; a negation in the sentence ("not ... to cover") disqualifies it. Tax *planning*,
  estate tax and tax-exempt trusts are not tax obligations. Every other code is False: F is
  shares withheld by the issuer, not a sale in the market.
- ``is_10b5_1``: a linked text says the row was made under a Rule 10b5-1 plan (not negated);
  otherwise, when the filing's aff10b5One box is checked and no text of the filing names a
  plan, its open-market rows (P and S) are taken to be under the plan.
- ``price_range``: "prices ranging from $1.75 to $1.86" and its variants; None when no range
  or when the texts give several different ones.
- ``security_kind``: option, rsu, psu, warrant, convertible or other, for derivative rows,
  from the title first and the texts when the title says nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from functools import lru_cache

__all__ = [
    "is_10b5_1",
    "is_sell_to_cover",
    "mentions_10b5_1",
    "price_range",
    "security_kind",
    "sell_to_cover_reason",
]

_FOLD = str.maketrans(
    {
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u00a0": " ",
    }
)
_SENTENCE = re.compile(r"(?<=[.;!?])\s+(?=[A-Z(\"'])")


def _norm(text: str) -> str:
    if not text.isascii():  # _FOLD maps only non-ASCII characters
        text = text.translate(_FOLD)
    return " ".join(text.split())


@lru_cache(maxsize=4096)
def _split(text: str) -> tuple[str, ...]:
    """A footnote's sentences, normalised and lower-cased (cached: one footnote serves many
    rows, and boilerplate footnotes recur across filings)."""
    return tuple(s.lower() for s in _SENTENCE.split(_norm(text)) if s)


def _sentences(texts: Sequence[str]) -> list[str]:
    out: list[str] = []
    for text in texts:
        if text:
            out.extend(_split(text))
    return out


# ------------------------------------------------------------------ sell to cover

_NOT_TAX = re.compile(
    r"tax[- ](?:planning|exempt|free|efficient|deferred)|estate tax|gift tax|tax purposes"
)
_STRONG = re.compile(
    r"\bsell[- ]to[- ]cover\b|\bsold to cover\b|\bsale to cover\b|\bsales to cover\b"
)
_EXERCISE_PRICE = re.compile(r"(?:exercise|strike|purchase) price|cashless exercise|exercise cost")
_TAX = re.compile(
    r"\btax(?:es)?\b[^.;]{0,40}?\b(?:withholding|obligations?|liabilit(?:y|ies)|due|owed|"
    r"requirements?)\b|\bwithholding (?:tax|taxes|obligations?|requirements?)\b|"
    r"\btax(?:es)? (?:withholding|liabilit)|\btaxes\b"
)
_PAY = re.compile(
    r"\b(?:cover|covering|satisfy|satisfying|satisfaction|pay|paying|payment|fund|"
    r"funding|meet|discharge|remit)\b"
)
_SALE = re.compile(r"\b(?:sold|sale|sales|sell|sells|selling|disposed|disposition)\b")
_EVENT = re.compile(
    r"\bvest(?:s|ed|ing)?\b|\bsettle(?:d|ment|s)?\b|\brelease[sd]?\b|restricted stock|"
    r"\brsus?\b|\bpsus?\b|stock units?|share units?|\baward(?:s|ed)?\b|\bdelivery of shares"
)
_NEGATION = re.compile(
    r"\b(?:not|no|neither|nor)\b[^.;]{0,50}\b(?:to cover|sell[- ]to[- ]cover|to satisfy|"
    r"to pay|for (?:the )?payment|tax)"
)


def sell_to_cover_reason(code: str | None, texts: Sequence[str]) -> str | None:
    """The sentence that makes an S a sell-to-cover sale, or None."""
    if (code or "").strip().upper() != "S":
        return None
    return _cover_sentence(tuple(texts))


@lru_cache(maxsize=4096)
def _cover_sentence(texts: tuple[str, ...]) -> str | None:
    """Cached by footnote texts: the rows of a filing mostly share their footnotes."""
    for sentence in _sentences(texts):
        # every way below to qualify needs _STRONG ("cover") or _TAX ("tax", "withholding")
        if "cover" not in sentence and "tax" not in sentence and "withholding" not in sentence:
            continue
        if _NEGATION.search(sentence):
            continue
        cleaned = _NOT_TAX.sub(" ", sentence)
        strong = _STRONG.search(cleaned)
        if strong and not _EXERCISE_PRICE.search(cleaned[strong.end() : strong.end() + 40]):
            if _TAX.search(cleaned) or _EVENT.search(cleaned) or "sell" in strong.group():
                return sentence
        if (
            _TAX.search(cleaned)
            and _PAY.search(cleaned)
            and _SALE.search(cleaned)
            and _EVENT.search(cleaned)
            and not (_EXERCISE_PRICE.search(cleaned) and "vest" not in cleaned)
        ):
            return sentence
    return None


def is_sell_to_cover(code: str | None, texts: Sequence[str]) -> bool:
    return sell_to_cover_reason(code, texts) is not None


# ------------------------------------------------------------------ Rule 10b5-1

_PLAN = re.compile(r"\b10b-?5-?1\b|\b10b5 1\b|rule 10b5|10b5-1\(c\)")
_PLAN_NEGATED = re.compile(r"\bnot\b[^.;]{0,60}(?:10b-?5-?1|trading plan)")


def mentions_10b5_1(texts: Sequence[str]) -> bool:
    """Some sentence says a Rule 10b5-1 plan applies (and does not deny it)."""
    return _mentions_plan(tuple(texts))


@lru_cache(maxsize=4096)
def _mentions_plan(texts: tuple[str, ...]) -> bool:
    # every _PLAN alternative contains "10b" (the sentences are lower-cased)
    if not any("10b" in t or "10B" in t for t in texts):
        return False
    return any(
        "10b" in s and _PLAN.search(s) is not None and _PLAN_NEGATED.search(s) is None
        for s in _sentences(texts)
    )


def is_10b5_1(
    code: str | None, texts: Sequence[str], aff10b5_one: bool | None, filing_mentions_plan: bool
) -> bool:
    if mentions_10b5_1(texts):
        return True
    if aff10b5_one and not filing_mentions_plan:
        return (code or "").strip().upper() in ("P", "S")
    return False


# ------------------------------------------------------------------ price range

_NUMBER = r"\$?\s?(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_RANGES = (
    re.compile(rf"from a low of {_NUMBER} to a high of {_NUMBER}"),
    re.compile(rf"rang(?:e|es|ed|ing) (?:from )?{_NUMBER}\s?(?:to|-|through|and)\s?{_NUMBER}"),
    re.compile(rf"prices? (?:of|from) {_NUMBER}\s?(?:to|-|through)\s?{_NUMBER}"),
    re.compile(rf"between {_NUMBER} and {_NUMBER}"),
)


_RANGE_LIMIT = Decimal(10) ** 30  # DECIMAL(38,8) holds 30 integer digits


def _decimal(text: str) -> Decimal | None:
    """A price of a range footnote; None (no range) when DECIMAL(38,8) could not hold it, so
    a footnote's text never rejects its filing."""
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None
    return value if value < _RANGE_LIMIT else None


def price_range(texts: Sequence[str]) -> tuple[Decimal, Decimal] | None:
    """The (low, high) of a weighted-average price footnote; None if absent or ambiguous."""
    return _price_range(tuple(texts))


@lru_cache(maxsize=4096)
def _price_range(texts: tuple[str, ...]) -> tuple[Decimal, Decimal] | None:
    found: set[tuple[Decimal, Decimal]] = set()
    for text in texts:
        if not text:
            continue
        lowered = text.lower()
        # each of _RANGES needs one of these words ("from a low of", "rang", "price", "between")
        if not (
            "low" in lowered or "rang" in lowered or "price" in lowered or "between" in lowered
        ):
            continue
        norm = _norm(lowered)
        for pattern in _RANGES:
            for match in pattern.finditer(norm):
                low, high = _decimal(match.group(1)), _decimal(match.group(2))
                if low is None or high is None:
                    continue
                found.add((min(low, high), max(low, high)))
            if found:
                break
    return found.pop() if len(found) == 1 else None


# ------------------------------------------------------------------ security kind

_KINDS = (
    (
        "psu",
        re.compile(
            r"performance[- ](?:based )?(?:restricted )?(?:stock|share)? ?units?|"
            r"\bpsus?\b|performance shares?|\bpsrsus?\b"
        ),
    ),
    (
        "rsu",
        re.compile(
            r"restricted (?:stock|share) units?|\brsus?\b|deferred (?:stock|share) "
            r"units?|\bdsus?\b|(?:stock|share) units?"
        ),
    ),
    ("warrant", re.compile(r"\bwarrants?\b")),
    ("option", re.compile(r"\boptions?\b|right to buy|\bisos?\b|\bnqsos?\b|\bnsos?\b")),
    (
        "convertible",
        re.compile(
            r"convertible|preferred|\bnotes?\b|debentures?|"
            r"class [a-z] (?:common|ordinary)|exchangeable"
        ),
    ),
)


def _kind(text: str) -> str | None:
    norm = _norm(text).lower()
    for kind, pattern in _KINDS:
        if pattern.search(norm):
            return kind
    return None


def security_kind(title: str | None, texts: Sequence[str]) -> str:
    """The kind of a derivative security: title first, then its footnotes, else ``other``."""
    return _security_kind(title, tuple(texts))


@lru_cache(maxsize=4096)
def _security_kind(title: str | None, texts: tuple[str, ...]) -> str:
    if title:
        kind = _kind(title)
        if kind is not None:
            return kind
    for text in texts:
        kind = _kind(text) if text else None
        if kind is not None:
            return kind
    return "other"
