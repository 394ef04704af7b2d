"""What footnotes say about a transaction: sell-to-cover, Rule 10b5-1, price range, kind.

Pure functions over the texts linked to one row (its footnotes, and the filing's remarks),
used by ``parsers.ownership`` for every transaction:

- ``classify_sale(texts) -> (reason, sentence)``: why a sale (code S) happened, one of
  ``SALE_REASONS``. Each sentence is read on its own (cheap word checks first, each distinct
  footnote memoised), the first that gives a reason decides, and a negation in it ("not ...
  to cover") or the wording of the Rule 16b-3 exemption itself disqualifies it:
  ``exercise_cost`` when shares were sold to pay an exercise price (cashless, net or
  same-day exercise and sale, "to cover the exercise price"); ``exercise_tax`` when a sale
  paid a tax obligation and the event named is an option or warrant exercise;
  ``sell_to_cover`` when it paid the tax due on the vesting, settlement or release of an award
  (RSUs, PSUs, restricted stock), or says "sell to cover", issuer-mandated sales included;
  ``discretionary`` otherwise: plan sales, taxes paid with no award or exercise named, tax
  *planning*, estate and gift tax, shares *withheld* (that is code F, not a sale).
  ``is_sell_to_cover`` and ``sell_to_cover_reason`` are that reason for S rows.
- ``is_10b5_1``: a linked text says the row was made under a Rule 10b5-1 plan (not negated);
  otherwise, when the filing's aff10b5One box is checked and no text of the filing names a
  plan, its open-market rows (P and S) are taken to be under the plan.
- ``row_price_range(texts, price)`` / ``price_range(texts, price)``: a weighted-average range
  in any common wording ("prices ranging from $1.75 to $1.86", "ranged from", "sold from $X to
  $Y", "between $X and $Y", "a low of / a high of"), published only when low <= high and the
  row's price lies within it; of several ranges in one footnote, the one holding the price.
  Its two halves, ``price_ranges(texts)`` and ``pick_price_range(ranges, price)`` (or
  ``price_range_columns``, the same as a row stores it), let rows that share their texts
  read them once (``parsers.ownership`` does, per filing).
- ``security_kind``: option, rsu, psu, warrant, convertible or other, for derivative rows,
  from the title first and the texts when the title says nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import NamedTuple

__all__ = [
    "KIND_CUES",
    "PLAN_CUES",
    "RANGE_CUES",
    "SALE_CUES",
    "SALE_REASONS",
    "PriceRange",
    "classify_sale",
    "has_price_range",
    "is_10b5_1",
    "is_sell_to_cover",
    "mentions_10b5_1",
    "pick_price_range",
    "price_range",
    "price_range_columns",
    "price_ranges",
    "row_price_range",
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


# ------------------------------------------------------------------ why a sale happened

SALE_REASONS = ("sell_to_cover", "exercise_tax", "exercise_cost", "discretionary")

_NOT_TAX = re.compile(
    r"tax[- ](?:planning|exempt|free|efficient|deferred|advantaged)|estate tax|gift tax|"
    r"tax purposes|tax[- ]loss|tax advice|tax[- ]qualified"
)
# words one of which every deciding sentence holds (checked before any regex): weighted-
# average, plan and ownership footnotes, most of a filing's, hold none of them
_CUES = ("tax", "withh", "cover", "cashless", "exercis", "strike", "purchase price")
_STRONG = re.compile(r"\bs(?:ell|old|ale|ales)[- ]to[- ]cover\b")
_EXERCISE_COST = re.compile(
    r"\bcashless\b|\bnet exercise|\bbroker[- ]assisted exercise|"
    r"\bsame[- ]day (?:exercise and )?sales?\b|\bexercise[- ]and[- ]s(?:ell|ale)\b|"
    r"\bexercise and same[- ]day sale|\bexercise costs?\b|\bcosts? of (?:the )?exercis|"
    r"\b(?:pay|paying|payment of|pay for|cover|covering|satisfy|satisfying|fund|funding|"
    r"finance|financing)\s+(?:the\s+|such\s+|its\s+|their\s+|his\s+|her\s+)?"
    r"(?:aggregate\s+|applicable\s+|total\s+)?(?:option\s+|warrant\s+)?"
    r"(?:exercise|strike|purchase) prices?\b"
)
_TAX = re.compile(
    r"\btax(?:es)?\b[^.;]{0,40}?\b(?:withholding|obligations?|liabilit(?:y|ies)|due|owed|"
    r"requirements?|payable|arising|incurred|triggered)\b|\bwithholding (?:tax|taxes|"
    r"obligations?|requirements?|liabilit(?:y|ies)|amounts?)\b|\btax(?:es)? (?:withholding|"
    r"liabilit)|\b(?:income|payroll|employment) tax(?:es)?\b|\bwithholding\b|\btaxes\b"
)
_PAY = re.compile(
    r"\b(?:cover|covering|covers|satisfy|satisfying|satisfaction|pay|paying|payment|fund|"
    r"funding|meet|discharge|remit|settle the)\b"
)
_SALE = re.compile(r"\b(?:sold|sale|sales|sell|sells|selling|disposed|disposition|dispose)\b")
_VEST = re.compile(
    r"\bvest(?:s|ed|ing)?\b|\bsettle(?:d|ment|s)?\b|\brelease[sd]?\b|restricted stock|"
    r"restricted shares?|\b[pr]?rsus?\b|\bpsus?\b|stock units?|share units?|"
    r"\baward(?:s|ed)?\b|\bdelivery of (?:the )?shares|\blapse\b"
)
_OPTION_EXERCISE = re.compile(
    r"\bexercis(?:e|ed|es|ing)\b(?! price)|\b(?:stock )?options?\b|\bwarrants?\b|\bsars?\b"
)
_UNIT_EVENT = re.compile(
    r"\b[pr]?rsus?\b|\bpsus?\b|stock units?|share units?|restricted stock|restricted shares?|"
    r"\bsettle(?:d|ment|s)?\b|\brelease[sd]?\b"
)
_NEGATION = re.compile(
    r"\b(?:not|no|neither|nor|never)\b[^.;]{0,50}\b(?:to cover|s(?:ell|old|ale)[- ]to[- ]cover|"
    r"to satisfy|to pay|for (?:the )?payment|to fund|tax|exercise price)"
)
# "not a discretionary trade", "did not have discretion over the sale": about who decided,
# not a denial of the reason; taken out before negations are looked for
_NOT_DISCRETION = re.compile(
    r"\b(?:not|no)\b[^.;,]{0,40}?\bdiscretion\w*(?: (?:of|over|by) the \w+)?"
)
_RULE_TEXT = re.compile(r"\b16b-3\b|\brule 16b")  # the exemption's own wording, not a reason


def classify_sale(texts: Sequence[str]) -> tuple[str, str | None]:
    """Why a sale (code S) happened, from the texts linked to its row (its footnotes, then the
    filing's remarks): ``(reason, sentence)`` with ``reason`` one of ``SALE_REASONS`` and
    ``sentence`` the one that decided it (None for ``discretionary``). The first text that
    gives a reason wins. Pure and memoised per distinct text; usable on any footnote texts."""
    for text in texts:
        if text:
            found = _text_reason(text)
            if found is not None:
                return found
    return "discretionary", None


@lru_cache(maxsize=8192)
def _text_reason(text: str) -> tuple[str, str] | None:
    """The reason one footnote gives, with its sentence, or None (cached: footnotes recur)."""
    lowered = text.lower()
    if not any(cue in lowered for cue in _CUES):
        return None
    for sentence in _split(text):
        reason = _sentence_reason(sentence)
        if reason is not None:
            return reason, _original_sentence(text, sentence)
    return None


def _sentence_reason(sentence: str) -> str | None:
    taxed = "tax" in sentence or "withh" in sentence
    cost = "cashless" in sentence or "strike" in sentence or "purchase price" in sentence
    cost = cost or ("exercis" in sentence and ("price" in sentence or "cost" in sentence
                                               or "net" in sentence or "sale" in sentence
                                               or "sell" in sentence))  # fmt: skip
    if not (taxed or cost or "cover" in sentence):
        return None
    denial = _NOT_DISCRETION.sub(" ", sentence) if "discretion" in sentence else sentence
    if _NEGATION.search(denial) or _RULE_TEXT.search(sentence):
        return None
    cleaned = _NOT_TAX.sub(" ", sentence) if "tax" in sentence else sentence
    sale = _SALE.search(cleaned) is not None
    if (
        cost
        and _EXERCISE_COST.search(cleaned)
        and (sale or "cashless" in cleaned or "net exercise" in cleaned)
    ):
        return "exercise_cost"
    tax = ("tax" in cleaned or "withh" in cleaned) and _TAX.search(cleaned) is not None
    vest = _VEST.search(cleaned) is not None
    strong = _STRONG.search(cleaned)
    # "sold to cover" needs a tax or an award to be about tax ("to cover a margin call" is
    # not); "sell-to-cover" is the term itself
    if strong is not None and (tax or vest or strong.group().startswith("sell")):
        pass
    elif not (tax and sale and _PAY.search(cleaned)):
        return None
    option = _OPTION_EXERCISE.search(cleaned) is not None
    if option and _UNIT_EVENT.search(cleaned) is None:
        return "exercise_tax"
    if vest or strong is not None or "withholding" in cleaned:
        return "sell_to_cover"
    return None  # taxes paid from a sale, with no award or exercise: the seller's own choice


def _original_sentence(text: str, lowered: str) -> str:
    """The sentence as filed (whitespace, dashes and quotes folded), for ``sale_reason_text``."""
    for sentence in _SENTENCE.split(_norm(text)):
        if sentence.lower() == lowered:
            return sentence
    return lowered  # pragma: no cover - _split uses the same split


def sell_to_cover_reason(code: str | None, texts: Sequence[str]) -> str | None:
    """The sentence that makes an S a sell-to-cover sale, or None."""
    if (code or "").strip().upper() != "S":
        return None
    reason, sentence = classify_sale(texts)
    return sentence if reason == "sell_to_cover" else None


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

# A number as filed: "1,139.920", "66.8350", "12"; never the head of a longer number (so the
# typo "1,1140.890" is not read as 1,114).
_NUMBER = r"\$?\s?(\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|\d+(?:\.\d+)?(?!\d))"
_TO = r"\s?(?:to|-|through|and)\s?"


def _at_word(words: str) -> str:
    """``words`` where a word starts: the same matches as a leading ``\\b``, but written as the
    literal first and the boundary looked behind it, so that Python's matcher finds the
    candidates with its fast literal search instead of trying the pattern at every position
    (a leading ``\\b`` disables that search)."""
    literal = re.escape(words)
    return rf"{literal}(?<=\b{literal})"


# (pattern, whether the high is given first, the words the pattern starts with: a text
# without them is not searched with it)
_RANGES: tuple[tuple[re.Pattern[str], bool, str], ...] = (
    (re.compile(rf"{_at_word('low of')} {_NUMBER}{_TO}(?:a )?high of {_NUMBER}"), False, "low of"),
    (re.compile(rf"{_at_word('high of')} {_NUMBER}{_TO}(?:a )?low of {_NUMBER}"), True, "high of"),
    (
        re.compile(
            rf"{_at_word('rang')}(?:e|es|ed|ing) (?:from )?(?:approximately )?"
            rf"{_NUMBER}{_TO}{_NUMBER}"
        ),
        False,
        "rang",
    ),
    (
        re.compile(rf"{_at_word('price')}s? (?:of|from) {_NUMBER}\s?(?:to|-|through)\s?{_NUMBER}"),
        False,
        "price",
    ),
    (re.compile(rf"{_at_word('between')} {_NUMBER} and {_NUMBER}"), False, "between"),
    (re.compile(rf"{_at_word('from $')}{_NUMBER}\s?(?:to|-|through)\s?{_NUMBER}"), False, "from $"),
)
# each pattern needs one of these words
_RANGE_CUES = ("low", "high", "rang", "price", "between", "from $")


class PriceRange(NamedTuple):
    """A weighted-average price range as a footnote gives it, and whether it can be published:
    low <= high and, when the row has a price, the price lies within it."""

    low: Decimal
    high: Decimal
    usable: bool


_RANGE_LIMIT = Decimal(10) ** 30  # DECIMAL(38,8) holds 30 integer digits


def _decimal(text: str) -> Decimal | None:
    """A price of a range footnote; None (no range) when DECIMAL(38,8) could not hold it, so
    a footnote's text never rejects its filing."""
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() and value < _RANGE_LIMIT else None


@lru_cache(maxsize=8192)
def _text_ranges(text: str) -> tuple[tuple[Decimal, Decimal], ...]:
    """Every (low, high) one footnote gives, as written (a reversed one stays reversed), in
    order, once each (cached per distinct text)."""
    lowered = text.lower()
    if not any(cue in lowered for cue in _RANGE_CUES):
        return ()
    norm = _norm(lowered)
    found: dict[tuple[Decimal, Decimal], None] = {}
    for pattern, high_first, words in _RANGES:
        if words not in norm:
            continue
        for match in pattern.finditer(norm):
            first, second = _decimal(match.group(1)), _decimal(match.group(2))
            if first is None or second is None:
                continue
            found.setdefault((second, first) if high_first else (first, second), None)
    return tuple(found)


def has_price_range(texts: Sequence[str]) -> bool:
    """Some text gives a price range (usable or not)."""
    return any(_text_ranges(text) for text in texts if text)


def price_ranges(texts: Sequence[str]) -> tuple[tuple[Decimal, Decimal], ...]:
    """Every (low, high) the texts give, as written, in order, once each: the candidates
    ``pick_price_range`` chooses a row's range from. Empty when they give none. Rows of a
    filing share their texts, so a caller reads them once and picks per row's price."""
    ranges: dict[tuple[Decimal, Decimal], None] = {}
    for text in texts:
        if text:
            for found in _text_ranges(text):
                ranges.setdefault(found, None)
    return tuple(ranges)


def row_price_range(texts: Sequence[str], price: Decimal | None) -> PriceRange | None:
    """The weighted-average price range of a row, from the texts linked to it (the footnotes
    on its price if it has any, else all of its own), given its price (None when only
    footnoted). None: the texts give no range. When they give several (one footnote for
    several rows), the one that contains the row's price is the row's. Not ``usable``: low >
    high, the price lies outside it, or no single range can be told to be the row's."""
    return pick_price_range(price_ranges(texts), price)


def pick_price_range(
    candidates: Sequence[tuple[Decimal, Decimal]], price: Decimal | None
) -> PriceRange | None:
    """``row_price_range`` given the texts' ``price_ranges``: None when there are none."""
    if not candidates:
        return None
    return PriceRange(*_pick(candidates, price))


def price_range_columns(
    candidates: Sequence[tuple[Decimal, Decimal]], price: Decimal | None
) -> tuple[Decimal | None, Decimal | None, bool]:
    """``pick_price_range`` as a row stores it: ``(low, high, unusable)``, the range only
    when it is usable, ``unusable`` when a range was given but cannot be the row's."""
    if not candidates:
        return None, None, False
    low, high, usable = _pick(candidates, price)
    return (low, high, False) if usable else (None, None, True)


def _pick(
    candidates: Sequence[tuple[Decimal, Decimal]], price: Decimal | None
) -> tuple[Decimal, Decimal, bool]:
    if price is not None and len(candidates) > 1:
        containing = [(lo, hi) for lo, hi in candidates if lo <= price <= hi]
        if len(containing) == 1:
            return containing[0][0], containing[0][1], True
    low, high = candidates[0]
    usable = len(candidates) == 1 and low <= high and (price is None or low <= price <= high)
    return low, high, usable


def price_range(
    texts: Sequence[str], price: Decimal | None = None
) -> tuple[Decimal, Decimal] | None:
    """The (low, high) to publish for a row of price ``price``, or None when the texts give
    no range or none that is usable (see ``row_price_range``)."""
    found = row_price_range(texts, price)
    return (found.low, found.high) if found is not None and found.usable else None


# ------------------------------------------------------------------ security kind

# (kind, pattern, words: the pattern matches only a text holding one of them, so a text
# holding none is not searched with it; most texts hold the words of one kind at most)
_KINDS: tuple[tuple[str, re.Pattern[str], tuple[str, ...]], ...] = (
    (
        "psu",
        re.compile(
            r"performance[- ](?:based )?(?:restricted )?(?:stock|share)? ?units?|"
            r"\bpsus?\b|performance shares?|\bpsrsus?\b"
        ),
        ("performance", "psu", "psrsu"),
    ),
    (
        "rsu",
        re.compile(
            r"restricted (?:stock|share) units?|\brsus?\b|deferred (?:stock|share) "
            r"units?|\bdsus?\b|(?:stock|share) units?"
        ),
        ("unit", "rsu", "dsu"),
    ),
    ("warrant", re.compile(r"\bwarrants?\b"), ("warrant",)),
    (
        "option",
        re.compile(r"\boptions?\b|right to buy|\bisos?\b|\bnqsos?\b|\bnsos?\b"),
        ("option", "right to buy", "iso", "nqso", "nso"),
    ),
    (
        "convertible",
        re.compile(
            r"convertible|preferred|\bnotes?\b|debentures?|"
            r"class [a-z] (?:common|ordinary)|exchangeable"
        ),
        ("convertible", "preferred", "note", "debenture", "class ", "exchangeable"),
    ),
)

# each _KINDS alternative holds one of these words (a text holding none gives no kind)
_KIND_CUES = (
    "performance",
    "psu",
    "rsu",
    "dsu",
    "unit",
    "warrant",
    "option",
    "right to buy",
    "iso",
    "qso",
    "nso",
    "convertible",
    "preferred",
    "note",
    "debenture",
    "class ",
    "exchangeable",
)


def _kind(text: str) -> str | None:
    norm = _norm(text).lower()
    for kind, pattern, words in _KINDS:
        if any(word in norm for word in words) and pattern.search(norm):
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


# ------------------------------------------------------------------ what a text can give

# The words that open each classifier's door. An ASCII text (no character folding applies to
# one) holding none of a classifier's words gives that classifier nothing: ``classify_sale``,
# ``has_price_range``, ``row_price_range``, ``mentions_10b5_1`` and ``security_kind`` answer
# the same with or without it in their list. A caller holding many texts may so pass only
# those that hold a word (``warehouse.dataset_rows`` picks them in SQL) and any non-ASCII
# text. Sale, range and kind words are looked for in the lower-cased text, plan words in the
# text as written; ``security_kind`` reads the texts only when the title gives no kind.
SALE_CUES: tuple[str, ...] = _CUES
RANGE_CUES: tuple[str, ...] = _RANGE_CUES
PLAN_CUES: tuple[str, ...] = ("10b", "10B")
KIND_CUES: tuple[str, ...] = _KIND_CUES
