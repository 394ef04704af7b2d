"""The traps of real ownership XML, each pinned by a small document, plus safe-XML refusals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from form4.parsers.errors import BadValue, ParseError
from form4.parsers.ownership import parse_ownership
from form4.parsers.xmlutil import as_bool, as_date, as_decimal


def doc(
    body: str, *, root: str = "<ownershipDocument>", decl: str = '<?xml version="1.0"?>'
) -> bytes:
    return (
        f"{decl}{root}<schemaVersion>X0508</schemaVersion><documentType>4</documentType>"
        "<periodOfReport>2026-02-02</periodOfReport>"
        "<issuer><issuerCik>1750</issuerCik><issuerName>AAR CORP</issuerName>"
        "<issuerTradingSymbol>AIR</issuerTradingSymbol></issuer>"
        "<reportingOwner><reportingOwnerId><rptOwnerCik>1806647</rptOwnerCik>"
        "<rptOwnerName>Doe Jane</rptOwnerName></reportingOwnerId>"
        "<reportingOwnerRelationship><isOfficer>1</isOfficer>"
        "<officerTitle>SVP, CLO &amp; Secretary</officerTitle></reportingOwnerRelationship>"
        f"</reportingOwner>{body}</ownershipDocument>"
    ).encode()


def sale(inner: str = "", price: str = "<value>1.80</value>", coding: str | None = None) -> str:
    coding = (
        coding
        if coding is not None
        else "<transactionCoding><transactionFormType>4</transactionFormType>"
        "<transactionCode>S</transactionCode><equitySwapInvolved>0</equitySwapInvolved>"
        "</transactionCoding>"
    )
    return (
        "<nonDerivativeTable><nonDerivativeTransaction>"
        "<securityTitle><value>Common Stock</value></securityTitle>"
        "<transactionDate><value>2026-02-02</value></transactionDate>"
        f"{coding}<transactionAmounts><transactionShares><value>1,000.5</value></transactionShares>"
        f"<transactionPricePerShare>{price}</transactionPricePerShare>"
        "<transactionAcquiredDisposedCode><value>D</value></transactionAcquiredDisposedCode>"
        "</transactionAmounts><postTransactionAmounts><sharesOwnedFollowingTransaction>"
        "<value>99.25</value></sharesOwnedFollowingTransaction></postTransactionAmounts>"
        "<ownershipNature><directOrIndirectOwnership><value>D</value></directOrIndirectOwnership>"
        f"</ownershipNature>{inner}</nonDerivativeTransaction></nonDerivativeTable>"
    )


def test_a_price_given_only_as_a_footnote_is_null_and_linked() -> None:
    """Guards against footnote-only prices read as 0 or as the footnote id."""
    d = parse_ownership(doc(sale(price='<footnoteId id="F1"/>')))
    t = d.transactions[0]
    assert t.price_per_share is None and t.value is None
    assert ("price_per_share", "F1") in {(x.field, x.footnote_id) for x in t.field_footnotes}
    assert t.footnote_ids == ("F1",)


def test_empty_elements_read_as_null() -> None:
    """Guards against '' stored instead of NULL for <value/> and empty titles."""
    body = sale(price="<value/>").replace(
        "<officerTitle>SVP, CLO &amp; Secretary</officerTitle>", "<officerTitle></officerTitle>"
    )
    d = parse_ownership(doc(body))
    assert d.transactions[0].price_per_share is None
    assert d.transactions[0].deemed_execution_date is None


def test_a_missing_transaction_coding_still_gives_a_row() -> None:
    """Guards against a crash (or a dropped row) when <transactionCoding> is absent."""
    d = parse_ownership(doc(sale(coding="")))
    t = d.transactions[0]
    assert t.transaction_code is None and t.category is None
    assert t.shares_delta == Decimal("-1000.5")  # the D flag still signs it


def test_fractional_shares_and_thousands_separators_are_exact() -> None:
    """Guards against float rounding or a comma making a number NULL."""
    t = parse_ownership(doc(sale())).transactions[0]
    assert t.shares == Decimal("1000.5") and t.shares_owned_after == Decimal("99.25")
    assert t.value == Decimal("1800.90")


def test_dates_with_a_time_zone_suffix_are_read() -> None:
    """Guards against '2026-06-30-05:00' becoming NULL."""
    body = sale().replace("<value>2026-02-02</value>", "<value>2026-06-30-05:00</value>")
    assert parse_ownership(doc(body)).transactions[0].transaction_date == date(2026, 6, 30)


def test_a_namespaced_root_parses_like_a_plain_one() -> None:
    """Guards against an xmlns on the root hiding every element from the parser."""
    d = parse_ownership(doc(sale(), root='<ownershipDocument xmlns="http://www.sec.gov/x">'))
    assert d.issuer.ticker == "AIR" and len(d.transactions) == 1


def test_no_declaration_and_latin1_bytes_parse() -> None:
    """Guards against a Latin-1 filing without an XML declaration being rejected."""
    body = doc(sale(), decl="").replace(b"Doe Jane", "Doe Jos\u00e9".encode("latin-1"))
    d = parse_ownership(body)
    assert d.reporting_owners[0].owner_name == "Doe Jos\u00e9"
    declared = doc(sale(), decl='<?xml version="1.0" encoding="ISO-8859-1"?>').replace(
        b"Doe Jane", "M\u00fcller".encode("latin-1")
    )
    assert parse_ownership(declared).reporting_owners[0].owner_name == "M\u00fcller"


def test_entities_and_markup_in_footnotes_and_titles_are_decoded_and_removed() -> None:
    """Guards against '&amp;' or '<b>' reaching analysts, or footnote text cut at markup."""
    body = sale(price='<value>1.80</value><footnoteId id="F1"/>') + (
        '<footnotes><footnote id="F1">Weighted <b>average</b> price &amp; range\n'
        "   $1.75 to $1.86.</footnote></footnotes><remarks>See &lt;remarks&gt;</remarks>"
    )
    d = parse_ownership(doc(body))
    assert d.reporting_owners[0].officer_title == "SVP, CLO & Secretary"
    assert d.footnotes[0].text == "Weighted average price & range $1.75 to $1.86."
    assert d.remarks == "See <remarks>"


def test_whitespace_is_folded_in_leaves_as_in_markup_and_in_any_script() -> None:
    """Guards the leaf fast path against keeping what the full fold removes: a no-break space
    (&#160;), a tab, a line break or a double space, in ASCII or accented text."""
    body = (
        '<footnotes><footnote id="F1">Sold&#160;at $1.80</footnote>'
        '<footnote id="F2">M\u00fcller  &amp;\nCo.</footnote>'
        '<footnote id="F3">M\u00fcller &amp; <b>Co.</b>&#160;</footnote>'
        '<footnote id="F4">Tax\twithheld</footnote></footnotes>'
    )
    notes = parse_ownership(doc(body)).footnotes
    assert [n.text for n in notes] == [
        "Sold at $1.80",
        "M\u00fcller & Co.",
        "M\u00fcller & Co.",
        "Tax withheld",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", True),
        ("0", False),
        ("true", True),
        ("FALSE", False),
        (" 1 ", True),
        ("", None),
        (None, None),
    ],
)
def test_booleans_accept_the_spellings_filers_use(text: str | None, expected: bool | None) -> None:
    """Guards against 'true' read as False, or an empty flag read as False."""
    assert as_bool(text) is expected


def test_value_readers_refuse_garbage_instead_of_reading_it_as_absent() -> None:
    """Guards against a value that cannot be read stored as NULL, as if the filer left it out
    (the readers' refusals are turned into rejects or data issues by the parser)."""
    assert as_decimal("$1,234.50") == Decimal("1234.50")
    assert as_decimal("") is None and as_decimal("  ") is None and as_date(" ") is None
    for text in ("n/a", "NaN", "Infinity"):
        with pytest.raises(BadValue):
            as_decimal(text)
    for text in ("2026-02-30", "02/02/2026"):
        with pytest.raises(BadValue):
            as_date(text)
    assert as_date("2026-02-02Z") == date(2026, 2, 2)


def test_unknown_schema_versions_parse_best_effort() -> None:
    """Guards against a new SEC schema version stopping the pipeline."""
    d = parse_ownership(doc(sale()).replace(b"X0508", b"X0999"))
    assert d.schema_version == "X0999" and len(d.transactions) == 1


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<ownershipDocument><remarks>&lol3;</remarks></ownershipDocument>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ownershipDocument><remarks>&xxe;</remarks></ownershipDocument>"""


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_entity_expansion_and_external_entities_are_refused(payload: bytes) -> None:
    """Guards against memory blow-up or local files leaking into remarks."""
    with pytest.raises(ParseError) as info:
        parse_ownership(payload)
    assert info.value.stage == "xml"
    assert "root:" not in str(info.value)


def test_oversized_and_malformed_and_foreign_documents_are_parse_errors() -> None:
    """Guards against anything but ParseError escaping the parser on bad input."""
    good = doc(sale())
    with pytest.raises(ParseError, match="limit"):
        parse_ownership(good, max_bytes=len(good) - 1)
    with pytest.raises(ParseError, match="malformed"):
        parse_ownership(good[:-30])
    with pytest.raises(ParseError, match="not an ownership document"):
        parse_ownership(b"<html><body>hi</body></html>")
    with pytest.raises(ParseError, match="issuerCik"):
        parse_ownership(good.replace(b"<issuerCik>1750</issuerCik>", b""))
