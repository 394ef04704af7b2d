"""Why a sale happened (``sale_reason``): the classifier over real and modelled footnotes.

``REAL`` footnotes are quoted from the filings in ``../shared/corpus/`` and looked up there at
test time (a snippet names each one; the whole footnote is classified), so they cannot drift
from what filers wrote. ``MODELLED`` ones follow wording seen in real Form 4 footnotes for the
cases the corpus does not hold (option-exercise tax sales, cashless exercises, sales that say
they were not made to cover taxes). Each phrasing carries the reason it must get.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from form4.flows.cli.demo import SAMPLE_DATA
from form4.parsers.normalize import (
    KIND_CUES,
    PLAN_CUES,
    RANGE_CUES,
    SALE_CUES,
    SALE_REASONS,
    classify_sale,
    has_price_range,
    is_sell_to_cover,
    mentions_10b5_1,
    price_range,
    row_price_range,
    security_kind,
)
from form4.parsers.ownership import parse_ownership
from form4.parsers.records import Transaction
from form4.parsers.sgml import parse_submission
from tests.conftest import corpus_dir

STC, TAX, COST, DISC = SALE_REASONS

# (snippet of a real corpus footnote or remarks, reason)
REAL: list[tuple[str, str]] = [
    # weighted-average, plan, ownership and remarks footnotes of real S rows
    ("The sales price reported is the weighted average sale price for the number", DISC),
    ("trading plan entered into in accordance with the Issuer's insider trading policy. The plan provides for periodic", DISC),  # noqa: E501
    ("The sales reported on this Form 4 were effected pursuant to a Rule 10b5-1 trading plan adopted by the holder.", DISC),  # noqa: E501
    ("Shares were sold pursuant to a duly adopted 10b5-1 trading plan.", DISC),
    ("at prices ranging from $10.00 to $10.99. The price reported above", DISC),
    ("preexisting Rule 10b5-1 trading plan adopted by the holder on May 15, 2024", DISC),
    ("Share numbers have been adjusted to reflect changes in form of beneficial ownership", DISC),
    ("pursuant to a Rule 10b5-1 trading plan adopted by the reporting person on August 16, 2021", DISC),  # noqa: E501
    # a plan sale that mentions taxes: tax *planning* is the seller's own reason
    ("were effected for financial and tax planning purposes", DISC),
    ("pre-arranged program for selling shares of Class A Common Stock", DISC),
    ("Due to a 30 line item limitation in Table I, this is the first", DISC),
    ("This Form 4 has been compiled based on applicable requirements", DISC),
    ("Greylock 15 GP LLC (\"Greylock LLC\") is the general partner", DISC),
    ("prices ranging from $179.865 to $179.87 per share, inclusive", DISC),
    ("Reid Hoffman and Michelle Yee Living Trust", DISC),
    # "covered" and "not" in one sentence, no sale to cover anything
    ("were not subject to a particular transaction during the dates covered", DISC),
    ("The securities covered by such transaction were previously included", DISC),
    # exercises and vestings with no sale for them: a later sale is the seller's choice
    ("The option shares are fully vested and may be exercised at any time.", DISC),
    ("underlying the warrant were fully vested and exercisable as of the date of the reported", DISC),  # noqa: E501
    ("acquired in connection with the settlement of the Restricted Stock Units", DISC),
    ("Delivery of the shares to the reporting person will be made on the first anniversary", DISC),
    ("This stock option vests over a four-year period at the rate of 25%", DISC),
    ("Includes shares to be issued in connection with the vesting of one or more", DISC),
    ("The option was issued to the Reporting Person in lieu of retainer fees of $18,750 for", DISC),
    ("Includes shares acquired through quarterly dividend reinvestment.", DISC),
    ("reporting person's estate planning vehicle is a limited partner", DISC),
    ("The RSUs are fully vested on the grant date.", DISC),
    ("in lieu of quarterly retainer fees of $21,250 for service on the Issuer's Board", DISC),
    ("Each share of Class B Common Stock is convertible into one share of Class A Common Stock at the option of the holder and has no expiration date.", DISC),  # noqa: E501
    ("Represents restricted stock units granted to the Reporting Person. The shares subject to this award vest in full on the date", DISC),  # noqa: E501
    ("Each RSU represents a contingent right to receive 1 share of the Issuer's Class A", DISC),
    ("Dividend equivalent rights accrue when and as dividends are paid", DISC),
    ("earned from the vesting and settlement of a Performance Stock Unit", DISC),
    ("is being reported on Form 4 solely for purposes of compliance with Rule 16a-2(a)", DISC),
    # shares *withheld* by the issuer (code F wording): not a sale in the market
    ("Shares withheld to satisfy the Issuer's tax withholding obligation upon vesting of Restricted Share", DISC),  # noqa: E501
    ("Represents shares withheld to satisfy tax withholding obligations upon the vesting of the above-described PSUs.", DISC),  # noqa: E501
    ("Represents shares withheld by the Issuer to satisfy the tax withholding obligation in connection with the vesting", DISC),  # noqa: E501
    # the Rule 16b-3(e) wording names exercise price and tax; the next sentence decides
    ("were relinquished by the Reporting Person and cancelled by the Issuer", STC),
    # a cashless net exercise under a plan: sold (withheld) to pay the exercise price
    ("represents the cashless net exercise of a warrant", COST),
]  # fmt: skip

MODELLED: list[tuple[str, str]] = [
    # sell to cover: tax due on vesting, settlement or release of an award
    ("The shares were sold to cover tax withholding obligations in connection with the vesting of restricted stock units.", STC),  # noqa: E501
    ("Represents shares sold to satisfy tax withholding obligations in connection with the vesting of restricted stock units.", STC),  # noqa: E501
    ('This sale was mandated by the Issuer\'s election under its equity incentive plans to require the satisfaction of tax withholding obligations to be funded by a "sell to cover" transaction and does not represent a discretionary trade by the Reporting Person.', STC),  # noqa: E501
    ("Shares sold pursuant to a sell-to-cover arrangement upon the vesting of RSUs.", STC),
    ("The reported sale was effected to cover taxes upon the vesting of restricted stock.", STC),
    ("Non-discretionary sale of shares to satisfy tax withholding obligations arising from the settlement of performance stock units.", STC),  # noqa: E501
    ("Shares were sold by the Issuer's agent to pay the tax withholding due upon the release of restricted stock units.", STC),  # noqa: E501
    ("The sale reported in this row was a sell-to-cover transaction.", STC),
    ("Automatically sold to cover tax withholding obligations.", STC),
    ("Shares were sold in a broker-assisted transaction to pay withholding taxes due on the vesting of performance share units.", STC),  # noqa: E501
    ("Sales to cover the Reporting Person\u2019s tax withholding obligations upon vesting of RSUs, effected under a Rule 10b5-1 plan.", STC),  # noqa: E501
    ("The Reporting Person did not have discretion over the sale, which was made to cover tax withholding obligations upon the vesting of RSUs.", STC),  # noqa: E501
    ("Represents shares sold by the reporting person to satisfy tax withholding obligations in connection with the net settlement of restricted stock units.", STC),  # noqa: E501
    # exercise tax: taxes due on an option or warrant exercise
    ("Shares sold to cover taxes upon the exercise of vested stock options.", TAX),
    ("The shares were sold solely to satisfy the reporting person's tax withholding obligations related to the exercise of stock options.", TAX),  # noqa: E501
    ("Represents shares sold to cover the taxes due upon the exercise of stock options.", TAX),
    ("Shares sold to pay withholding taxes arising from the exercise of warrants.", TAX),
    ("The Reporting Person sold these shares to satisfy income tax obligations incurred on the exercise of non-qualified stock options.", TAX),  # noqa: E501
    ("Sale of shares to fund the tax liability triggered by the option exercise reported in Table II.", TAX),  # noqa: E501
    # exercise cost: the exercise price
    ("Shares sold to cover the exercise price of stock options exercised on the same day.", COST),
    ("Shares sold in a cashless exercise to pay the exercise price and taxes due upon exercise of the option.", COST),  # noqa: E501
    ("Represents shares sold in a same-day exercise and sale of employee stock options.", COST),
    ("The reporting person sold these shares to pay the aggregate exercise price of the options.", COST),  # noqa: E501
    ("Shares were sold through a broker-assisted cashless exercise of stock options.", COST),
    ("The sale was made to fund the purchase price of shares acquired upon exercise of the warrant.", COST),  # noqa: E501
    # discretionary: a sale after an exercise with no stated reason, exercise-and-hold
    ("Shares were sold pursuant to a Rule 10b5-1 trading plan following the exercise of stock options.", DISC),  # noqa: E501
    ("The reporting person sold shares acquired upon the exercise of stock options on the same day.", DISC),  # noqa: E501
    ("The reporting person exercised the options and held the shares acquired; no shares were sold.", DISC),  # noqa: E501
    # "not to cover", "not sold to pay"
    ("This sale was not made to cover tax withholding obligations.", DISC),
    ("These shares were sold for personal reasons and not to cover any tax obligation arising from the vesting of RSUs.", DISC),  # noqa: E501
    ("The shares were not sold to pay the exercise price of any option.", DISC),
    # gifts, estate and personal taxes, plan sales that mention taxes
    ("Bona fide gift to a donor-advised fund for estate tax planning purposes.", DISC),
    ("The shares were transferred as a gift to a family trust; gift tax was paid by the donor.", DISC),  # noqa: E501
    ("The Reporting Person sold shares to pay personal income taxes.", DISC),
    ("Shares sold under a Rule 10b5-1 plan adopted in part to provide for the payment of estimated taxes.", DISC),  # noqa: E501
    ("Shares sold by the trust to pay estate taxes.", DISC),
    ("The shares are held in a tax-exempt trust for the benefit of the Reporting Person's children.", DISC),  # noqa: E501
    # "to cover" something other than a tax
    ("Shares were sold to cover a margin call on shares pledged as collateral.", DISC),
    ("Represents a discretionary sale by the Reporting Person.", DISC),
]  # fmt: skip


@cache
def corpus_texts() -> tuple[str, ...]:
    """Every footnote and remarks text of every corpus ownership document, as parsed."""
    root = corpus_dir()
    texts: list[str] = []
    paths = [*root.glob("real/xml/*.xml"), *root.glob("real/txt/*.txt"), *root.glob("xml/*.xml")]
    paths += [*root.glob("txt/*.txt"), *root.glob("feed/*.nc")]
    for path in sorted(paths):
        data = path.read_bytes()
        doc = parse_ownership(data if path.suffix == ".xml" else parse_submission(data).xml)
        texts += [f.text for f in doc.footnotes]
        if doc.remarks:
            texts.append(doc.remarks)
    return tuple(dict.fromkeys(texts))


def real_text(snippet: str) -> str:
    found = [t for t in corpus_texts() if snippet in t]
    assert found, f"no corpus footnote holds {snippet!r}"
    return found[0]


def test_the_phrasings_cover_every_reason_both_ways_half_of_them_real() -> None:
    """Guards against a thin test set: at least 60 phrasings, half real, each reason met both
    as the answer and as a wrong answer to avoid."""
    cases = REAL + MODELLED
    assert len(cases) >= 60 and len(REAL) * 2 >= len(cases)
    assert {reason for _, reason in cases} == set(SALE_REASONS)
    assert len({text for text, _ in cases}) == len(cases)


@pytest.mark.parametrize(("snippet", "reason"), REAL, ids=lambda v: str(v)[:48])
def test_real_footnotes_get_the_reason_they_state(snippet: str, reason: str) -> None:
    """Guards against real filers' wording misread: plan sales counted as tax sales, or tax
    sales on option exercises counted as discretionary selling."""
    text = real_text(snippet)
    got, sentence = classify_sale([text])
    assert got == reason, text
    assert (sentence is None) == (reason == DISC)
    if sentence is not None:
        assert sentence in " ".join(text.split())


@pytest.mark.parametrize(("text", "reason"), MODELLED, ids=lambda v: str(v)[:48])
def test_modelled_footnotes_get_the_reason_they_state(text: str, reason: str) -> None:
    """Guards against the classifier's rules (exercise price first, then the event that made
    the tax due, negations, tax planning) drifting."""
    got, sentence = classify_sale(["Weighted average price.", text])
    assert got == reason, text
    assert (sentence is None) == (reason == DISC)
    assert is_sell_to_cover("S", [text]) == (reason == STC)


def test_the_deciding_sentence_is_given_as_filed_and_the_first_reason_wins() -> None:
    """Guards against sale_reason_text holding a lower-cased or wrong sentence."""
    texts = [
        "The price reported is a weighted average price.",
        "Shares sold to pay the exercise price.  Later sales were made to cover taxes upon "
        "the vesting of RSUs.",
        "Remarks: sold to cover tax withholding on vested RSUs.",
    ]
    assert classify_sale(texts) == ("exercise_cost", "Shares sold to pay the exercise price.")
    assert classify_sale([]) == ("discretionary", None)
    assert classify_sale(["", "Weighted average price."]) == ("discretionary", None)


def _sample(accession: str, replace: tuple[bytes, bytes] | None = None) -> list[Transaction]:
    (path,) = SAMPLE_DATA.rglob(f"{accession}.txt")
    data = path.read_bytes()
    if replace is not None:
        assert replace[0] in data
        data = data.replace(*replace)
    return list(parse_ownership(parse_submission(data).xml).transactions)


def test_the_sample_day_keeps_its_tax_sales_its_withholding_and_its_plan_sale() -> None:
    """Guards against the seed day's story changing: the officers sell to cover, one F
    withholding is not a sale, and a plan sale whose footnote mentions taxes stays
    discretionary."""
    officers = [t for n in (11, 12, 13) for t in _sample(f"0002900001-26-0000{n}")]
    sales = [t for t in officers if t.transaction_code == "S"]
    assert len(sales) == 3
    assert all(t.sale_reason == STC and t.is_sell_to_cover for t in sales)
    assert all("vesting of restricted stock units" in (t.sale_reason_text or "") for t in sales)
    plan_note = b"adopted by the Reporting Person on August 14, 2025."
    with_taxes = b"adopted by the Reporting Person on August 14, 2025, in part to pay income taxes."
    rows = _sample("0002900002-26-000006", (plan_note, with_taxes))
    sale = next(t for t in rows if t.transaction_code == "S" and not t.is_derivative)
    assert sale.sale_reason == DISC and sale.sale_reason_text is None
    assert sale.is_10b5_1 and not sale.is_sell_to_cover
    withheld = [t for t in rows if t.transaction_code == "F"]
    assert len(withheld) == 1
    assert all(t.sale_reason is None for t in rows if t.transaction_code != "S")


def test_corpus_s_rows_all_get_a_reason_and_other_rows_none(corpus: Path) -> None:
    """Guards against a NULL sale_reason on a sale (or a reason on a non-sale)."""
    for path in sorted(corpus.glob("real/xml/*.xml")):
        doc = parse_ownership(path.read_bytes())
        for t in doc.transactions:
            if t.transaction_code == "S":
                assert t.sale_reason in SALE_REASONS, path.name
                assert t.is_sell_to_cover == (t.sale_reason == STC)
            else:
                assert t.sale_reason is None and t.sale_reason_text is None, path.name


_WORDS = st.sampled_from(
    "the shares were sold sale to cover pay satisfy tax taxes withholding obligations vesting "
    "of restricted stock units rsus exercise exercised options warrant price cashless net "
    "same-day not no plan 10b5-1 estate gift planning from $1.00 $2.00 to between and ranging "
    "low high of a . ; , weighted average".split()
)
_TEXTS = st.lists(st.lists(_WORDS, max_size=30).map(" ".join), max_size=3)


@given(texts=_TEXTS)
def test_any_footnote_text_gets_one_reason_and_a_sentence_it_holds(texts: list[str]) -> None:
    """Guards against the classifier raising on odd text, inventing a reason outside the four,
    or citing a sentence the footnotes do not hold."""
    reason, sentence = classify_sale(texts)
    assert reason in SALE_REASONS
    assert (sentence is None) == (reason == DISC)
    if sentence is not None:
        assert any(sentence in " ".join(t.split()) for t in texts)


@given(texts=_TEXTS, cents=st.one_of(st.none(), st.integers(0, 500)))
def test_a_published_range_always_holds_the_rows_price(texts: list[str], cents: int | None) -> None:
    """Guards against a range with low above high, or not holding the price, being published."""
    price = None if cents is None else Decimal(cents) / 100
    found = price_range(texts, price)
    if found is not None:
        low, high = found
        assert low <= high
        assert price is None or low <= price <= high


# ----------------------------------------------------------------------------- cue words

_FRAGMENTS = (
    "tax", "withholding", "withheld", "sold", "sale", "to cover", "cashless", "exercise",
    "exercised", "strike", "purchase price", "net", "cost", "vesting", "RSUs", "shares",
    "stock", "units", "option", "options", "right to buy", "warrant", "performance",
    "preferred", "notes", "Class A common", "exchangeable", "ISOs", "NQSOs", "PSUs",
    "ranging from", "ranged", "prices of", "price from", "low of", "high of", "between",
    "and", "to", "from $", "$10.05", "10.60", "1,139.92", "-", "Rule 10b5-1", "10b5-1(c)",
    "10B5-1", "plan", "not", "trading", ".", ";", " ", "The", "were", "inclusive", "F1",
)  # fmt: skip


def _holds(text: str, cues: tuple[str, ...], lower: bool = True) -> bool:
    seen = text.lower() if lower else text
    return any(cue in seen for cue in cues)


def _cue_cases(text: str) -> None:
    if not text.isascii():  # folded characters: every classifier reads a non-ASCII text
        return
    if classify_sale([text]) != ("discretionary", None):
        assert _holds(text, SALE_CUES), text
    if has_price_range([text]) or row_price_range([text], Decimal("10.3")) is not None:
        assert _holds(text, RANGE_CUES), text
    if mentions_10b5_1([text]):
        assert _holds(text, PLAN_CUES, lower=False), text
    if security_kind(None, [text]) != "other":
        assert _holds(text, KIND_CUES), text


def test_a_real_text_without_a_classifiers_words_gives_that_classifier_nothing() -> None:
    """Guards against the data set path (which asks each classifier only about the texts
    holding its words) missing a reason, range, plan or kind the XML path finds: a pattern
    added to parsers.normalize without its cue word."""
    texts = [*corpus_texts(), *(text for text, _ in REAL + MODELLED)]
    assert len(texts) > 500
    for text in texts:
        _cue_cases(" ".join(text.split()))


@given(st.lists(st.sampled_from(_FRAGMENTS), min_size=1, max_size=14))
def test_any_text_a_classifier_answers_holds_one_of_its_cue_words(parts: list[str]) -> None:
    """Guards as above, over texts made of the classifiers' own vocabulary."""
    _cue_cases(" ".join(parts))
