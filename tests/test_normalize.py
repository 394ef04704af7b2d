"""Footnote normalisation: sell-to-cover, Rule 10b5-1, price ranges, derivative kinds.

The phrasings below are real (from the corpus and the sample filings, read at test time) or
modelled closely on wording seen in real Form 4 footnotes.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from form4.flows.cli.demo import SAMPLE_DATA
from form4.parsers.normalize import (
    _KINDS,
    _at_word,
    is_10b5_1,
    is_sell_to_cover,
    mentions_10b5_1,
    price_range,
    row_price_range,
    security_kind,
    sell_to_cover_reason,
)

SELL_TO_COVER = [
    "The shares were sold to cover tax withholding obligations in connection with the vesting "
    "of restricted stock units.",
    "Represents shares sold to satisfy tax withholding obligations in connection with the "
    "vesting of restricted stock units.",
    "This sale was mandated by the Issuer's election under its equity incentive plans to "
    'require the satisfaction of tax withholding obligations to be funded by a "sell to cover" '
    "transaction and does not represent a discretionary trade by the Reporting Person.",
    "Shares sold pursuant to a sell-to-cover arrangement upon the vesting of RSUs.",
    "The reported sale was effected to cover taxes upon the vesting of restricted stock.",
    "Non-discretionary sale of shares to satisfy tax withholding obligations arising from the "
    "settlement of performance stock units.",
    "Represents an automatic sale of shares by the Issuer's broker on behalf of the Reporting "
    "Person to cover the Reporting Person's tax liability upon the vesting of RSUs.",
    "Shares were sold by the Issuer's agent to pay the tax withholding due upon the release of "
    "restricted stock units.",
    "Sale of shares to cover withholding taxes due upon the vesting of a restricted stock award.",
    "The Reporting Person sold these shares solely to satisfy tax obligations arising from the "
    "vesting of PSUs.",
    "Reflects shares sold in a sell to cover transaction to fund tax withholding on RSU vesting.",
    "These shares were sold to meet the tax withholding requirements triggered by the "
    "settlement of restricted stock units granted on March 1, 2023.",
    "The sale was made to cover tax withholding obligations related to the vesting of "
    "restricted stock units and was required by the Issuer's equity plan.",
    "Sales to cover the Reporting Person\u2019s tax withholding obligations upon vesting of RSUs.",
    "Shares sold to satisfy the Reporting Person's tax withholding obligation in connection "
    "with the vesting and settlement of restricted share units.",
    "This transaction represents shares sold to cover taxes in connection with the vesting of "
    "an equity award.",
    "Represents a sale of shares required to satisfy tax withholding obligations upon the "
    "release of restricted stock units.",
    "The sale reported in this row was a sell-to-cover transaction.",
    "Shares were sold in a broker-assisted transaction to pay withholding taxes due on the "
    "vesting of performance share units.",
    "The shares were disposed of to satisfy tax liabilities incurred on the settlement of "
    "deferred stock units.",
]

NOT_SELL_TO_COVER = [
    "The sale reported on this line was effected pursuant to a Rule 10b5-1 trading plan "
    "adopted by the Reporting Person on August 14, 2025.",
    "Shares were sold pursuant to a Rule 10b5-1 trading plan following the exercise of stock "
    "options.",
    "The price reported is a weighted average price. These shares were sold in multiple "
    "transactions at prices ranging from $1.75 to $1.86, inclusive.",
    "The sales reported in this Form 4 were effected for financial and tax planning purposes.",
    "This sale was not made to cover tax withholding obligations.",
    "Bona fide gift to a donor-advised fund for estate tax planning purposes.",
    "The shares are held in a tax-exempt trust for the benefit of the Reporting Person's children.",
    "Shares sold to cover the exercise price of stock options exercised on the same day.",
    "Represents a discretionary sale by the Reporting Person.",
    "Shares sold in a cashless exercise to pay the exercise price and taxes due upon exercise "
    "of the option.",
    "The Reporting Person sold shares to diversify holdings.",
    "Each restricted stock unit represents a contingent right to receive one share of common "
    "stock.",
    "The restricted stock units vest in four equal annual installments.",
    "Represents shares withheld by the Issuer to satisfy tax withholding obligations upon the "
    "vesting of restricted stock units.",
    "The shares were sold by the trust; the Reporting Person disclaims beneficial ownership "
    "except to the extent of his pecuniary interest.",
]


@pytest.mark.parametrize("text", SELL_TO_COVER, ids=lambda t: t[:50])
def test_sell_to_cover_wordings_are_recognised_on_sales(text: str) -> None:
    """Guards against tax-driven sales counted as discretionary selling."""
    assert is_sell_to_cover("S", [text]), text
    assert sell_to_cover_reason("S", ["Unrelated first note.", text]) is not None


@pytest.mark.parametrize("text", NOT_SELL_TO_COVER, ids=lambda t: t[:50])
def test_other_footnotes_never_make_a_sale_sell_to_cover(text: str) -> None:
    """Guards against discretionary or plan sales hidden as tax-driven ones."""
    assert not is_sell_to_cover("S", [text]), text


@pytest.mark.parametrize("code", ["F", "A", "M", "P", "G", None])
def test_only_s_rows_can_be_sell_to_cover(code: str | None) -> None:
    """Guards against F (shares withheld by the issuer) being reported as a market sale."""
    assert not is_sell_to_cover(code, [SELL_TO_COVER[0]])


def test_the_sample_filings_sell_to_cover_footnotes_are_recognised() -> None:
    """Guards against the classifier drifting away from the wording of the bundled filings."""
    texts = []
    for path in sorted(SAMPLE_DATA.rglob("*.txt")):
        texts += re.findall(r'<footnote id="F\d+">(.*?)</footnote>', path.read_text(), re.S)
    positives = [t for t in texts if is_sell_to_cover("S", [t])]
    assert positives and all("tax withholding" in t for t in positives)
    assert any("does not represent a discretionary trade" in t for t in positives)


def test_corpus_footnotes_contain_no_sell_to_cover(corpus: Path) -> None:
    """Guards against false positives on real weighted-average and plan footnotes."""
    texts: list[str] = []
    for path in [*corpus.glob("txt/*.txt"), *corpus.glob("feed/*.nc"), *corpus.glob("xml/*.xml")]:
        texts += re.findall(r'<footnote id="F\d+">(.*?)</footnote>', path.read_text(), re.S)
    assert len(texts) > 20
    assert [t for t in texts if is_sell_to_cover("S", [t])] == []


@pytest.mark.parametrize(
    ("texts", "box", "mentioned", "code", "expected"),
    [
        (
            ["Effected pursuant to a Rule 10b5-1 trading plan adopted on May 1, 2025."],
            None,
            True,
            "S",
            True,
        ),
        (["Made under a 10b5\u20111 plan."], False, True, "S", True),
        (["Pursuant to a trading plan under Rule 10b5-1(c)."], None, True, "P", True),
        (
            ["This sale was not made pursuant to a Rule 10b5-1 trading plan."],
            None,
            False,
            "S",
            False,
        ),
        (["Weighted average price."], True, False, "S", True),  # box checked, no plan footnote
        (["Weighted average price."], True, False, "A", False),  # the box covers P/S only
        (["Weighted average price."], True, True, "S", False),  # other rows name the plan
        ([], None, False, "S", False),
    ],
)
def test_rule_10b5_1_comes_from_footnotes_or_the_checkbox(
    texts: list[str], box: bool | None, mentioned: bool, code: str, expected: bool
) -> None:
    """Guards against plan trades reported as discretionary (or the reverse)."""
    assert is_10b5_1(code, texts, box, mentioned) is expected


def test_plan_mentions_are_found_in_real_apple_footnotes(corpus: Path) -> None:
    """Guards against the pre-checkbox (2022) per-transaction plan footnotes being missed."""
    text = (corpus / "txt/0000320193-22-000061.txt").read_text()
    notes = re.findall(r'<footnote id="F\d+">(.*?)</footnote>', text, re.S)
    assert mentions_10b5_1(notes)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("at prices ranging from $1.75 to $1.86, inclusive", ("1.75", "1.86")),
        (
            "executed in multiple trades at prices ranging from $159.42 to $160.41;",
            ("159.42", "160.41"),
        ),
        ("prices ranging from $66.8350 to $66.9800 inclusive", ("66.8350", "66.9800")),
        ("at prices ranging from $1.75 - $1.86", ("1.75", "1.86")),
        ("sold at prices between $10.00 and $10.50", ("10.00", "10.50")),
        ("from a low of $1,234.50 to a high of $1,240", ("1234.50", "1240")),
        ("prices ranging from 12.10 to 11.90", None),  # low above high: not a range
        ("The price reported is a weighted average price.", None),
        ("ranging from $1.00 to $2.00 (first lot) and ranging from $3.00 to $4.00", None),
    ],
)
def test_price_ranges_are_read_from_weighted_average_footnotes(
    text: str, expected: tuple[str, str] | None
) -> None:
    """Guards against missing or wrong low/high prices (or guessing between two ranges)."""
    result = price_range([text])
    assert result == (tuple(Decimal(x) for x in expected) if expected else None)


@pytest.mark.parametrize(
    ("text", "price", "expected", "usable"),
    [
        # real wordings (the 16 filings of one issuer, the typo of another)
        (
            "The price reported in Column 4 is a weighted average sale price of the shares sold "
            "from $150.95 to $151.94 per share.",
            "151.42",
            ("150.95", "151.94"),
            True,
        ),
        (
            "These shares were sold in multiple transactions at prices ranging from $1,139.920 "
            "to $1,1140.890, inclusive.",
            "1140.52",
            None,
            False,
        ),
        (
            "The shares were sold at prices that ranged from $20.01 to $20.65.",
            "20.3",
            ("20.01", "20.65"),
            True,
        ),  # noqa: E501
        (
            "Sold in multiple trades at prices between $5.10 and $5.40.",
            "5.2",
            ("5.10", "5.40"),
            True,
        ),  # noqa: E501
        (
            "The sales were made at a high of $33.50 and a low of $32.75.",
            "33",
            ("32.75", "33.50"),
            True,
        ),  # noqa: E501
        ("at prices ranging from a low of $7.00 to a high of $7.45", "7.2", ("7.00", "7.45"), True),
        ("prices ranging from $66.8350 to $66.9800 inclusive", None, ("66.8350", "66.9800"), True),
        # one footnote for several rows: each row gets the range that holds its price
        (
            "Weighted average prices: line 1 at prices ranging from $10.00 to $10.99; line 2 at "
            "prices ranging from $11.00 to $11.45.",
            "11.2",
            ("11.00", "11.45"),
            True,
        ),
        # a range that does not hold the row's own price is not the row's range
        ("prices ranging from $1.75 to $1.86, inclusive", "1.90", None, False),
        ("prices ranging from $1.86 to $1.75, inclusive", "1.80", None, False),  # reversed
        ("ranging from $1.00 to $2.00 and ranging from $3.00 to $4.00", None, None, False),
        ("The price reported is a weighted average price.", "2", None, None),
        ("The option was issued in lieu of retainer fees of $18,750.", None, None, None),
    ],
)
def test_a_price_range_is_published_only_if_it_holds_the_rows_price(
    text: str, price: str | None, expected: tuple[str, str] | None, usable: bool | None
) -> None:
    """Guards against empty ranges for common wordings, and against publishing a range that
    a typo made (1,114 to 1,139.92 for a row at 1,140.52) or that belongs to another row."""
    row_price = Decimal(price) if price is not None else None
    found = row_price_range([text], row_price)
    assert (found.usable if found is not None else None) is usable
    want = tuple(Decimal(x) for x in expected) if expected else None
    assert price_range([text], row_price) == want


def test_every_range_in_the_real_corpus_holds_its_rows_price(corpus: Path) -> None:
    """Guards against real weighted-average footnotes (36 filings of one wording, 20 of
    another, ...) losing their range, or ranges published for the wrong row."""
    from form4.parsers.ownership import parse_ownership

    published = unusable = 0
    for path in sorted(corpus.glob("real/xml/*.xml")):
        for t in parse_ownership(path.read_bytes()).transactions:
            if t.price_range_low is not None and t.price_range_high is not None:
                published += 1
                assert t.price_range_low <= t.price_range_high
                if t.price_per_share is not None:
                    assert t.price_range_low <= t.price_per_share <= t.price_range_high
            unusable += t.price_range_unusable
    assert published > 100
    assert unusable == 0  # every range the corpus gives is its row's


@pytest.mark.parametrize(
    ("title", "texts", "kind"),
    [
        ("Stock Option (Right to Buy)", [], "option"),
        ("Employee Stock Option", [], "option"),
        ("Non-Qualified Stock Option (right to buy)", [], "option"),
        ("Restricted Stock Units", [], "rsu"),
        ("RSU", [], "rsu"),
        ("Restricted Share Units", [], "rsu"),
        ("Performance Stock Units", [], "psu"),
        ("Performance-based Restricted Stock Units", [], "psu"),
        ("PSUs", [], "psu"),
        ("Warrants (right to buy)", [], "warrant"),
        ("Series E Preferred Stock", [], "convertible"),
        ("Convertible Senior Notes", [], "convertible"),
        ("Class B Common Stock", [], "convertible"),
        (
            "Units",
            ["Each restricted stock unit represents a contingent right to receive one share."],
            "rsu",
        ),
        ("Stock Appreciation Rights", [], "other"),
        (None, [], "other"),
    ],
)
def test_derivative_kinds_come_from_the_title_then_the_footnotes(
    title: str | None, texts: list[str], kind: str
) -> None:
    """Guards against RSU grants counted as options (or PSUs as RSUs) in award totals."""
    assert security_kind(title, texts) == kind


@given(
    st.lists(
        st.sampled_from(["rang", "e", "price", "s", "from $", "low of", "x", "_", " ", "-", "1"]),
        max_size=12,
    ).map("".join),
    st.sampled_from(["rang", "price", "from $", "low of", "between"]),
)
@settings(max_examples=300, deadline=None)
def test_a_word_written_literal_first_matches_as_a_leading_word_boundary(
    text: str, words: str
) -> None:
    """Guards the range patterns' fast form (``_at_word``: the literal, then the boundary
    looked behind): the same matches, at the same places, as ``\\b`` before the words."""
    fast = re.compile(_at_word(words) + r"[a-z$ ]*")
    plain = re.compile(r"\b" + re.escape(words) + r"[a-z$ ]*")
    assert [m.span() for m in fast.finditer(text)] == [m.span() for m in plain.finditer(text)]


_KIND_WORDS = [
    "performance", "based", "restricted", "stock", "share", "shares", "unit", "units", "psu",
    "psus", "psrsu", "rsu", "rsus", "deferred", "dsu", "warrant", "warrants", "option",
    "options", "right to buy", "iso", "isos", "nqso", "nso", "convertible", "preferred",
    "note", "notes", "debenture", "class a", "class b", "common", "ordinary", "exchangeable",
    "stock unit", "share units", "restricted stock units", "deferred share unit",
    "performance shares", "performance-based stock units", "class a common", "stock options",
]  # fmt: skip


@given(
    st.lists(
        st.sampled_from(_KIND_WORDS) | st.sampled_from([" ", "-", "s", "x", "\u00a0", "N"]),
        max_size=10,
    ).map("".join)
)
@example("NQSO")
@example("psrsus")
@example("deferred stock units")
@example("class b ordinary")
@example("right to buy")
@settings(max_examples=400, deadline=None)
def test_the_words_before_each_kind_pattern_never_change_its_answer(text: str) -> None:
    """Guards the word check before each security-kind pattern: a text is not searched with a
    pattern whose words it lacks, and the answer is that of searching with every pattern."""
    norm = " ".join(text.split()).lower().replace("\u00a0", " ")
    searched = next((kind for kind, pattern, _ in _KINDS if pattern.search(norm)), None)
    assert security_kind(None, [text]) == (searched or "other")
