"""Ownership XML over the real corpus: every document parses, nothing is lost or invented."""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from form4.parsers.ownership import parse_ownership
from form4.parsers.records import OwnershipDocument
from form4.parsers.sgml import parse_submission
from tests.conftest import corpus_files

XML_FILES = corpus_files("xml", "*.xml") + corpus_files("real/xml", "*.xml")
SUBMISSIONS = (
    corpus_files("txt", "*.txt") + corpus_files("feed", "*.nc") + corpus_files("real/txt", "*.txt")
)
ALL = [*XML_FILES, *SUBMISSIONS]


def corpus_id(path: Path) -> str:
    """The file's path inside the corpus (two folders may hold the same file name)."""
    return "/".join(path.parts[-3:]) if path.parent.parent.name == "real" else path.name


def ownership_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return data if path.suffix == ".xml" else parse_submission(data).xml


def by_name(name: str, corpus: Path) -> OwnershipDocument:
    matches = [p for p in ALL if p.name == name]
    assert matches, name
    return parse_ownership(ownership_bytes(matches[0]))


def count(pattern: str, text: str) -> int:
    return len(re.findall(rf"<{pattern}[\s>]", text))


@pytest.mark.parametrize("path", ALL, ids=corpus_id)
def test_every_corpus_document_parses_with_row_counts_matching_the_xml(
    path: Path, corpus: Path
) -> None:
    """Guards against rows silently dropped or duplicated (an independent regex count)."""
    xml = ownership_bytes(path)
    text = xml.decode("utf-8", "replace")
    doc = parse_ownership(xml)
    tx = [t for t in doc.transactions if not t.is_derivative]
    dtx = [t for t in doc.transactions if t.is_derivative]
    hold = [h for h in doc.holdings if not h.is_derivative]
    dhold = [h for h in doc.holdings if h.is_derivative]
    assert len(tx) == count("nonDerivativeTransaction", text)
    assert len(dtx) == count("derivativeTransaction", text)
    assert len(hold) == count("nonDerivativeHolding", text)
    assert len(dhold) == count("derivativeHolding", text)
    assert len(doc.reporting_owners) == count("reportingOwner", text)
    assert len(doc.footnotes) == count("footnote", text)
    assert [t.line_no for t in tx] == list(range(1, len(tx) + 1))
    assert doc.issuer.cik.isdigit() and len(doc.issuer.cik) == 10
    assert all(len(o.owner_cik) == 10 for o in doc.reporting_owners)


@pytest.mark.parametrize("path", ALL, ids=corpus_id)
def test_no_value_text_in_a_corpus_document_is_lost(path: Path, corpus: Path) -> None:
    """Guards against a field the parser never reads: every non-empty <value> must surface."""
    xml = ownership_bytes(path)
    doc = parse_ownership(xml)
    found: set[str] = set()
    for row in (*doc.transactions, *doc.holdings):
        for name in row.__slots__:
            value = getattr(row, name)
            if value is not None and not isinstance(value, tuple):
                found.add(_norm(value))
    for value in re.findall(rb"<value>\s*([^<]*?)\s*</value>", xml):
        text = value.decode("utf-8", "replace")
        if text:
            assert _norm(text) in found or _norm_text(text) in found, text


def _norm(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return _norm_text(str(value))


def _norm_text(text: str) -> str:
    try:
        return format(Decimal(text.replace(",", "")).normalize(), "f")
    except ArithmeticError:
        pass
    if re.match(r"\d{4}-\d{2}-\d{2}", text):
        return text[:10]
    return " ".join(text.split()).upper() if len(text) == 1 else " ".join(text.split())


def test_snowflake_form4_has_two_exercises_and_five_sales_with_weighted_prices(
    corpus: Path,
) -> None:
    """Guards against code normalisation or signed deltas going wrong on a real M+S filing."""
    doc = by_name("form4.snow.xml", corpus)
    codes = [t.transaction_code for t in doc.transactions]
    assert codes.count("M") == 2 and codes.count("S") == 5
    sales = [t for t in doc.transactions if t.transaction_code == "S"]
    assert all(t.category == "sale" and t.shares_delta is not None for t in sales)
    assert all(t.shares_delta < 0 for t in sales if t.shares_delta is not None)
    first = sales[0]
    assert first.shares == Decimal("73170") and first.price_per_share == Decimal("150.841")
    assert first.value == Decimal("73170") * Decimal("150.841")
    assert any(link.field == "price_per_share" for link in first.field_footnotes)
    exercise = next(t for t in doc.transactions if t.transaction_code == "M" and t.is_derivative)
    # this filer marked the derivative leg "A": the filed flag, not the code, gives the sign
    assert exercise.category == "exercise" and exercise.acquired_disposed == "A"
    assert exercise.shares == Decimal("200000") and exercise.shares_delta == Decimal("200000")
    assert exercise.underlying_security_title == "Class A Common Stock"
    assert exercise.expiration_date == date(2029, 8, 26)


def test_aar_officer_title_entities_are_decoded_and_weighted_price_is_footnoted(
    corpus: Path,
) -> None:
    """Guards against '&amp;' leaking into titles and footnotes losing their field link."""
    doc = by_name("0001127602-25-001055.txt", corpus)
    assert doc.reporting_owners[0].officer_title == "Senior VP, GC, CAO & Secretary"
    assert doc.reporting_owners[0].is_officer is True
    assert doc.reporting_owners[0].is_director is False
    sale = doc.transactions[0]
    assert sale.transaction_code == "S" and sale.category == "sale"
    note_ids = {
        link.footnote_id for link in sale.field_footnotes if link.field == "price_per_share"
    }
    texts = {f.footnote_id: f.text for f in doc.footnotes}
    assert note_ids and all("weighted average" in texts[i].lower() for i in note_ids)
    assert doc.aff10b5_one is False


def test_arrow_feed_filing_has_an_award_and_a_tax_withholding(corpus: Path) -> None:
    """Guards against F being treated as a market sale (it is shares withheld by the issuer)."""
    doc = by_name("0001127602-25-004598.nc", corpus)
    by_code = {t.transaction_code: t for t in doc.transactions}
    assert set(by_code) == {"A", "F"}
    assert by_code["F"].category == "tax_withholding"
    assert by_code["F"].shares_delta is not None and by_code["F"].shares_delta < 0
    assert by_code["A"].category == "award"
    assert by_code["A"].shares_delta is not None and by_code["A"].shares_delta > 0
    assert doc.reporting_owners[0].officer_title == "SVP, CLO & Secretary"


def test_footnote_only_exercise_date_is_null_and_linked(corpus: Path) -> None:
    """Guards against a footnote-only field read as text, or its footnote dropped."""
    doc = by_name("0001562180-25-000280.nc", corpus)
    option = next(t for t in doc.transactions if t.is_derivative)
    assert option.exercise_date is None
    assert ("exercise_date", "F2") in {(x.field, x.footnote_id) for x in option.field_footnotes}
    assert option.expiration_date == date(2035, 1, 6)
    assert option.conversion_or_exercise_price == Decimal("2.64")
    assert option.underlying_shares == Decimal("70750.00")
    owner = doc.reporting_owners[0]
    assert (owner.is_director, owner.is_officer, owner.officer_title) == (
        False,
        True,
        "See Remarks",
    )
    assert doc.not_subject_to_section16 is False and doc.aff10b5_one is False
    assert doc.remarks == "Title: Senior Vice President of Quality and Enabling Functions"
    assert doc.signatures[0].signed_on == date(2025, 1, 8)


def test_form3_without_securities_has_no_rows_and_says_so(corpus: Path) -> None:
    """Guards against a Form 3 with no tables being rejected or given phantom rows."""
    doc = by_name("form3.nosecurities.xml", corpus)
    assert doc.document_type == "3"
    assert doc.transactions == () and doc.holdings == ()
    assert doc.no_securities_owned is True


def test_form5_gift_is_a_disposition_in_the_gift_category(corpus: Path) -> None:
    """Guards against gifts being counted as sales."""
    doc = by_name("form5.snow.xml", corpus)
    gift = doc.transactions[0]
    assert doc.document_type == "5"
    assert (gift.transaction_code, gift.category, gift.acquired_disposed) == ("G", "gift", "D")


def _sample(accession: str) -> OwnershipDocument:
    from form4.flows.cli.demo import SAMPLE_DATA

    (path,) = SAMPLE_DATA.rglob(f"{accession}.txt")
    return parse_ownership(parse_submission(path.read_bytes()).xml)


def test_sample_sell_to_cover_sales_and_awards_are_normalised() -> None:
    """Guards against the headline case (tax sale plus option and RSU grants) misread."""
    ceo = _sample("0002900001-26-000011")
    sale = next(t for t in ceo.transactions if t.transaction_code == "S")
    assert sale.is_sell_to_cover and not sale.is_10b5_1
    assert (sale.shares, sale.price_per_share) == (Decimal("95269"), Decimal("1.80"))
    kinds = {t.security_kind: t.shares for t in ceo.transactions if t.is_derivative}
    assert kinds == {"option": Decimal("1387931"), "rsu": Decimal("392586")}
    assert all(t.security_kind is None for t in ceo.transactions if not t.is_derivative)
    cfo = _sample("0002900001-26-000012")
    cfo_sale = next(t for t in cfo.transactions if t.transaction_code == "S")
    assert (cfo_sale.price_range_low, cfo_sale.price_range_high) == (
        Decimal("1.75"),
        Decimal("1.86"),
    )


def test_sample_plan_sale_is_10b5_1_and_the_withholding_is_not_a_sale() -> None:
    """Guards against plan sales counted as discretionary, or F counted as selling."""
    doc = _sample("0002900002-26-000006")
    by_code = {(t.transaction_code, t.is_derivative): t for t in doc.transactions}
    assert by_code[("S", False)].is_10b5_1 and not by_code[("S", False)].is_sell_to_cover
    assert by_code[("F", False)].category == "tax_withholding"
    assert not by_code[("F", False)].is_sell_to_cover
    assert not by_code[("M", False)].is_10b5_1  # the exercise leg is not a plan sale
    assert by_code[("M", True)].security_kind == "option"


def test_pre_checkbox_plan_sales_are_found_from_their_footnotes(corpus: Path) -> None:
    """Guards against 2022-era filings (no aff10b5One box) losing their 10b5-1 flag."""
    doc = by_name("0000320193-22-000061.txt", corpus)
    assert doc.aff10b5_one is None
    sales = [t for t in doc.transactions if t.transaction_code == "S"]
    assert sales and all(t.is_10b5_1 for t in sales)
    assert all(t.price_range_low is not None for t in sales)


def test_a_value_belongs_only_to_the_field_that_encloses_it() -> None:
    """Guards the one-pass row reader against giving a stray <value> to the field before it."""
    doc = parse_ownership(
        b"<ownershipDocument><documentType>4</documentType>"
        b"<issuer><issuerCik>1</issuerCik></issuer><nonDerivativeTable>"
        b"<nonDerivativeTransaction><transactionCoding><transactionCode>S</transactionCode>"
        b"</transactionCoding><value>7</value>"
        b"<transactionAmounts><transactionShares><value>10</value></transactionShares>"
        b'<transactionPricePerShare><footnoteId id="F1"/></transactionPricePerShare>'
        b"<value>99</value></transactionAmounts>"
        b"</nonDerivativeTransaction></nonDerivativeTable></ownershipDocument>"
    )
    (row,) = doc.transactions
    assert (row.transaction_code, row.shares, row.price_per_share) == ("S", Decimal(10), None)
    assert [(f.field, f.footnote_id) for f in row.field_footnotes] == [("price_per_share", "F1")]


EVERY_FIELD = (
    b'<?xml version="1.0"?><ownershipDocument><schemaVersion>X0508</schemaVersion>'
    b"<documentType>4/A</documentType><periodOfReport>2026-01-02</periodOfReport>"
    b"<dateOfOriginalSubmission>2026-01-06</dateOfOriginalSubmission>"
    b"<notSubjectToSection16>0</notSubjectToSection16><noSecuritiesOwned>1</noSecuritiesOwned>"
    b"<issuer><issuerCik>1750</issuerCik><issuerName>AAR CORP</issuerName>"
    b"<issuerTradingSymbol>AIR</issuerTradingSymbol>"
    b"<issuerForeignTradingSymbol>AIR.L</issuerForeignTradingSymbol></issuer>"
    b"<reportingOwner><reportingOwnerId><rptOwnerCik>1806647</rptOwnerCik>"
    b"<rptOwnerName>Doe Jane</rptOwnerName></reportingOwnerId><reportingOwnerAddress>"
    b"<rptOwnerStreet1>1 Main St</rptOwnerStreet1><rptOwnerStreet2>Suite 2</rptOwnerStreet2>"
    b"<rptOwnerCity>Wood Dale</rptOwnerCity><rptOwnerState>IL</rptOwnerState>"
    b"<rptOwnerZipCode>60191</rptOwnerZipCode>"
    b"<rptOwnerStateDescription>Illinois</rptOwnerStateDescription></reportingOwnerAddress>"
    b"<reportingOwnerRelationship><isDirector>1</isDirector><isOfficer>0</isOfficer>"
    b"<isTenPercentOwner>1</isTenPercentOwner><isOther>0</isOther>"
    b"<officerTitle>Chair</officerTitle><otherText>Trustee</otherText>"
    b"</reportingOwnerRelationship></reportingOwner><aff10b5One>0</aff10b5One>"
    b"<derivativeTable><derivativeTransaction>"
    b"<securityTitle><value>Stock Option (Right to Buy)</value></securityTitle>"
    b"<conversionOrExercisePrice><value>5.5</value></conversionOrExercisePrice>"
    b"<transactionDate><value>2026-01-02</value></transactionDate>"
    b"<deemedExecutionDate><value>2026-01-03</value></deemedExecutionDate>"
    b"<transactionCoding><transactionFormType>4</transactionFormType>"
    b"<transactionCode>M</transactionCode><equitySwapInvolved>1</equitySwapInvolved>"
    b"</transactionCoding><transactionTimeliness><value>L</value></transactionTimeliness>"
    b"<transactionAmounts><transactionShares><value>101</value></transactionShares>"
    b'<transactionPricePerShare><value>2.5</value><footnoteId id="F1"/>'
    b"</transactionPricePerShare><transactionAcquiredDisposedCode><value>D</value>"
    b"</transactionAcquiredDisposedCode></transactionAmounts>"
    b"<exerciseDate><value>2026-01-04</value></exerciseDate>"
    b"<expirationDate><value>2030-01-05</value></expirationDate>"
    b"<underlyingSecurity><underlyingSecurityTitle><value>Common Stock</value>"
    b"</underlyingSecurityTitle><underlyingSecurityShares><value>606</value>"
    b"</underlyingSecurityShares></underlyingSecurity><postTransactionAmounts>"
    b"<sharesOwnedFollowingTransaction><value>303</value></sharesOwnedFollowingTransaction>"
    b"<valueOwnedFollowingTransaction><value>404</value></valueOwnedFollowingTransaction>"
    b"</postTransactionAmounts><ownershipNature><directOrIndirectOwnership><value>I</value>"
    b"</directOrIndirectOwnership><natureOfOwnership><value>By Trust</value>"
    b'</natureOfOwnership></ownershipNature><footnoteId id="F2"/></derivativeTransaction>'
    b"<derivativeHolding><securityTitle><value>Restricted Stock Units</value></securityTitle>"
    b"<conversionOrExercisePrice><value>0.25</value></conversionOrExercisePrice>"
    b"<exerciseDate><value>2027-02-03</value></exerciseDate>"
    b"<expirationDate><value>2031-04-05</value></expirationDate>"
    b"<underlyingSecurity><underlyingSecurityTitle><value>Class A Shares</value>"
    b"</underlyingSecurityTitle><underlyingSecurityShares><value>707</value>"
    b"</underlyingSecurityShares></underlyingSecurity><postTransactionAmounts>"
    b"<sharesOwnedFollowingTransaction><value>808</value></sharesOwnedFollowingTransaction>"
    b"<valueOwnedFollowingTransaction><value>909</value></valueOwnedFollowingTransaction>"
    b"</postTransactionAmounts><ownershipNature><directOrIndirectOwnership><value>D</value>"
    b"</directOrIndirectOwnership><natureOfOwnership><value>Held jointly</value>"
    b'</natureOfOwnership></ownershipNature><footnoteId id="F2"/></derivativeHolding>'
    b'</derivativeTable><footnotes><footnote id="F1">A weighted average price; prices ranged'
    b' from $2.00 to $3.00.</footnote><footnote id="F2">Made under a Rule 10b5-1 trading'
    b" plan.</footnote></footnotes><remarks>Remarked.</remarks><ownerSignature>"
    b"<signatureName>/s/ Jane Doe</signatureName><signatureDate>2026-01-07</signatureDate>"
    b"</ownerSignature></ownershipDocument>"
)


def test_every_field_lands_in_its_own_column() -> None:
    """Guards the records' positional construction (fast_constructor) against two fields
    swapped: every field of the document, owner, transaction and holding has its own value."""
    doc = parse_ownership(EVERY_FIELD)
    assert (doc.schema_version, doc.document_type, doc.remarks) == ("X0508", "4/A", "Remarked.")
    assert (doc.period_of_report, doc.date_of_original_submission) == (
        date(2026, 1, 2),
        date(2026, 1, 6),
    )
    assert (doc.not_subject_to_section16, doc.no_securities_owned, doc.aff10b5_one) == (
        False,
        True,
        False,
    )
    issuer = doc.issuer
    assert (issuer.cik, issuer.name, issuer.ticker, issuer.foreign_trading_symbol) == (
        "0000001750",
        "AAR CORP",
        "AIR",
        "AIR.L",
    )
    (owner,) = doc.reporting_owners
    assert dataclasses.asdict(owner) == {
        "owner_cik": "0001806647",
        "owner_name": "Doe Jane",
        "is_director": True,
        "is_officer": False,
        "is_ten_percent_owner": True,
        "is_other": False,
        "officer_title": "Chair",
        "other_text": "Trustee",
        "street1": "1 Main St",
        "street2": "Suite 2",
        "city": "Wood Dale",
        "state": "IL",
        "zip_code": "60191",
        "state_description": "Illinois",
    }
    (tx,) = doc.transactions
    got = dataclasses.asdict(tx)
    assert got.pop("code_description", "").startswith("Exercise or conversion")
    assert got == {
        "line_no": 1,
        "is_derivative": True,
        "security_title": "Stock Option (Right to Buy)",
        "transaction_date": date(2026, 1, 2),
        "deemed_execution_date": date(2026, 1, 3),
        "transaction_form_type": "4",
        "transaction_code": "M",
        "category": "exercise",
        "equity_swap_involved": True,
        "acquired_disposed": "D",
        "shares": Decimal(101),
        "price_per_share": Decimal("2.5"),
        "shares_delta": Decimal(-101),
        "value": Decimal("252.5"),
        "shares_owned_after": Decimal(303),
        "value_owned_after": Decimal(404),
        "direct_or_indirect": "I",
        "nature_of_ownership": "By Trust",
        "conversion_or_exercise_price": Decimal("5.5"),
        "exercise_date": date(2026, 1, 4),
        "expiration_date": date(2030, 1, 5),
        "underlying_security_title": "Common Stock",
        "underlying_shares": Decimal(606),
        "timeliness": "L",
        "footnote_ids": ("F1", "F2"),
        "field_footnotes": (
            {"field": "price_per_share", "footnote_id": "F1"},
            {"field": "row", "footnote_id": "F2"},
        ),
        "is_sell_to_cover": False,
        "is_10b5_1": True,
        "price_range_low": Decimal("2.00"),
        "price_range_high": Decimal("3.00"),
        "security_kind": "option",
        "sale_reason": None,
        "sale_reason_text": None,
        "price_range_unusable": False,
    }
    (holding,) = doc.holdings
    assert dataclasses.asdict(holding) == {
        "line_no": 1,
        "is_derivative": True,
        "security_title": "Restricted Stock Units",
        "shares_owned_after": Decimal(808),
        "value_owned_after": Decimal(909),
        "direct_or_indirect": "D",
        "nature_of_ownership": "Held jointly",
        "conversion_or_exercise_price": Decimal("0.25"),
        "exercise_date": date(2027, 2, 3),
        "expiration_date": date(2031, 4, 5),
        "underlying_security_title": "Class A Shares",
        "underlying_shares": Decimal(707),
        "footnote_ids": ("F2",),
        "field_footnotes": ({"field": "row", "footnote_id": "F2"},),
        "security_kind": "rsu",
    }
