"""The validation rules (README, "Validation rules"): each value form4 cannot store as given
rejects its filing, naming the field and line, or is recorded in ``data_issues``; none is
stored silently altered, and none reaches Decimal arithmetic or Arrow unbounded."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from decimal import Context, Decimal
from pathlib import Path

import pytest

from form4.flows.cli.demo import SAMPLE_DATA
from form4.flows.config import Settings
from form4.flows.pipeline.ingest import parse_raw
from form4.parsers.errors import ParseError
from form4.warehouse.batch import prepare_batch
from form4.warehouse.db import Warehouse
from tests.hostile import SAMPLE, SAMPLE_ACCESSION, accession_of, pill, with_value

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = Settings.from_env({"SEC_USER_AGENT": "form4 tests tests@form4.example"})
DAY = date(2026, 2, 2)

REJECTED = [
    ("transactionPricePerShare", "1e999999999", "exponent"),
    ("transactionPricePerShare", "-1e999999999", "negative"),
    ("transactionPricePerShare", "1e-999999999", "exponent"),
    ("transactionShares", "-100", "negative"),
    ("transactionPricePerShare", "-1.80", "negative"),
    ("transactionShares", "Infinity", "not a decimal number"),
    ("transactionShares", "NaN", "not a decimal number"),
    ("transactionShares", "0x10", "not a decimal number"),
    ("transactionShares", "12abc", "not a decimal number"),
    ("transactionShares", "1O0", "not a decimal number"),
    ("sharesOwnedFollowingTransaction", "1" + "0" * 30, "too large"),
    ("transactionPricePerShare", "0.000000001", "below"),
    ("transactionShares", "1" * 70, "characters"),
    ("transactionDate", "0000-00-00", "calendar"),
    ("transactionDate", "2026-02-30", "calendar"),
    ("transactionDate", "02/02/2026", "not a date"),
    ("issuerCik", "12345678901", "CIK"),
    ("issuerCik", "29OO001", "CIK"),
    ("rptOwnerCik", "-2900011", "CIK"),
]


@pytest.mark.parametrize(("element", "text", "why"), REJECTED)
def test_a_value_form4_cannot_store_rejects_the_filing_naming_field_and_line(
    element: str, text: str, why: str
) -> None:
    """Guards against a poison value escaping as decimal.Overflow, crashing Arrow, or being
    stored as NULL or with its sign flipped as if it were what the filer wrote."""
    with pytest.raises(ParseError) as info:
        parse_raw(with_value(SAMPLE, element, text), SETTINGS, SAMPLE_ACCESSION)
    assert info.value.stage == "validate"
    assert why in str(info.value)
    if element.startswith(("transaction", "shares")):
        assert "transactions line 1 of Table I" in str(info.value)


def test_the_product_of_shares_and_price_beyond_decimal_38_8_rejects_the_filing() -> None:
    """Guards against value = shares x price overflowing outside the parse error path (or
    being rounded to 28 digits by Decimal's default context)."""
    data = with_value(SAMPLE, "transactionShares", "99999999999999999999")
    data = with_value(data, "transactionPricePerShare", "99999999999999")
    with pytest.raises(ParseError, match="shares x price") as info:
        parse_raw(data, SETTINGS, SAMPLE_ACCESSION)
    assert info.value.stage == "validate"
    exact = with_value(SAMPLE, "transactionShares", "12345678901234.12345678")
    exact = with_value(exact, "transactionPricePerShare", "1.12345678")
    (row, *_) = parse_raw(exact, SETTINGS, SAMPLE_ACCESSION).document.transactions
    shares, price = Decimal("12345678901234.12345678"), Decimal("1.12345678")
    assert row.value == Context(prec=60).multiply(shares, price)
    assert row.value != shares * price  # Decimal's default context keeps 28 digits of 30


def test_more_than_eight_decimals_are_rounded_and_recorded_as_a_data_issue() -> None:
    """Guards against a rounded value stored without a trace (or failing its batch)."""
    data = with_value(SAMPLE, "transactionShares", "1.123456789")
    filing = parse_raw(data, SETTINGS, SAMPLE_ACCESSION)
    row = filing.document.transactions[0]
    assert row.shares == Decimal("1.12345679") and row.shares_delta == Decimal("-1.12345679")
    (issue,) = filing.document.issues
    assert (issue.table, issue.line_no, issue.is_derivative, issue.field, issue.raw_value) == (
        "transactions",
        1,
        False,
        "shares",
        "1.123456789",
    )
    assert "rounded" in issue.problem


def test_documented_normalisations_are_not_issues() -> None:
    """Guards against flagging what the README says form4 reads as filed: thousands
    separators, a dollar sign, spaces, trailing zeros, a time-zone suffix on a date."""
    data = with_value(SAMPLE, "transactionShares", " 95,269 ")
    data = with_value(data, "transactionPricePerShare", "$1.8000000000")
    data = with_value(data, "transactionDate", "2026-02-02-05:00")
    filing = parse_raw(data, SETTINGS, SAMPLE_ACCESSION)
    row = filing.document.transactions[0]
    assert (row.shares, row.price_per_share, row.transaction_date) == (
        Decimal("95269"),
        Decimal("1.8"),
        date(2026, 2, 2),
    )
    assert filing.document.issues == ()


def test_an_unreadable_signature_date_is_null_with_a_data_issue_and_the_rows_load() -> None:
    """Guards against losing a whole filing over its signature date, or a NULL that looks
    like a date left blank."""
    data = SAMPLE.replace(b"<signatureDate>2026-02-02", b"<signatureDate>2026-02-31", 1)
    assert data != SAMPLE
    filing = parse_raw(data, SETTINGS, SAMPLE_ACCESSION)
    assert filing.document.signatures[0].signed_on is None
    (issue,) = filing.document.issues
    assert (issue.table, issue.line_no, issue.field, issue.raw_value) == (
        "owner_signatures",
        1,
        "signature_date",
        "2026-02-31",
    )


def test_a_form_type_contradicting_the_index_rejects_the_filing() -> None:
    """Guards against a 4/A listed in the index stored as whatever the served file says."""
    with pytest.raises(ParseError, match="the index says 4/A") as info:
        parse_raw(SAMPLE, SETTINGS, SAMPLE_ACCESSION, "4/A")
    assert info.value.stage == "validate"
    assert parse_raw(SAMPLE, SETTINGS, SAMPLE_ACCESSION, "4").header.form_type == "4"


@pytest.mark.parametrize(
    "header", [b"FILED AS OF DATE:\t\t20260202\n", b"FILED AS OF DATE:\t\t20260230\n"]
)
def test_a_submission_without_a_readable_filing_date_is_rejected(header: bytes) -> None:
    """Guards against rows with a NULL filing_date (no partition, no pruning, no day)."""
    data = SAMPLE.replace(b"FILED AS OF DATE:\t\t20260202\n", b"", 1)
    data = data if header.endswith(b"02\n") else SAMPLE.replace(b"20260202\n", b"20260230\n")
    with pytest.raises(ParseError, match="FILED AS OF DATE") as info:
        parse_raw(data, SETTINGS, SAMPLE_ACCESSION)
    assert info.value.stage == "sgml"


def test_a_document_type_other_than_the_submission_type_is_kept_and_recorded() -> None:
    """Guards against a silent disagreement between the XML and the SGML header."""
    data = SAMPLE.replace(b"<documentType>4</documentType>", b"<documentType>4/A</documentType>")
    filing = parse_raw(data, SETTINGS, SAMPLE_ACCESSION)
    assert filing.document.document_type == "4/A" and filing.header.form_type == "4"
    assert [(i.table, i.field, i.raw_value) for i in filing.document.issues] == [
        ("filings", "document_type", "4/A")
    ]


def test_two_filings_that_load_alone_also_load_together(tmp_path: Path) -> None:
    """Guards against the batch-wide rounding that failed on 1E20 owned in one filing and
    1.123456789 in another (InvalidOperation at Decimal's 28 digits)."""
    big = pill(1, "sharesOwnedFollowingTransaction", "100000000000000000000", filed=DAY)
    fine = pill(2, "transactionShares", "1.123456789", filed=DAY)
    filings = [parse_raw(d, SETTINGS) for d in (big, fine)]
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.load_batch(filings)
        rows = wh.con.execute(
            "SELECT accession_number, shares, shares_owned_after, value FROM transactions "
            "WHERE line_no = 1 AND NOT is_derivative ORDER BY 1"
        ).fetchall()
        issues = wh.con.execute("SELECT accession_number, field FROM data_issues").fetchall()
    assert rows[0][:3] == (accession_of(1), Decimal(95269), Decimal("1E20"))
    assert rows[1][:2] == (accession_of(2), Decimal("1.12345679"))
    assert rows[1][3] == Decimal("2.02222222")  # 1.12345679 x 1.80, rounded half-even
    assert issues == [(accession_of(2), "shares")]


CHILD = """
import sys
from decimal import Context, Decimal
from form4.warehouse.rows import check_filing
from form4.warehouse.batch import prepare_batch
from tests.records_factory import filing, transaction
from dataclasses import replace
f = filing()
row = replace(transaction(), price_per_share=Decimal("1E-999999999"))
f = replace(f, document=replace(f.document, transactions=(row,)))
try:
    check_filing(f)
except Exception as exc:
    print("refused", type(exc).__name__, flush=True)
else:
    prepare_batch([f])
    print("converted", flush=True)
"""


def test_a_record_with_an_extreme_exponent_never_reaches_arrow() -> None:
    """Guards against the signal 11 in pyarrow's Decimal conversion (a price of 1e-999999999):
    the warehouse's own check refuses such a value even if a parser let it through."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.split() == ["refused", "ParseError"]
    assert prepare_batch([]).keys == ()


def test_a_price_range_footnote_beyond_decimal_38_8_is_no_range_not_a_reject() -> None:
    """Guards against a footnote's text (a derived column, not a filed value) costing the
    whole filing, or a range beyond DECIMAL(38,8) reaching the warehouse."""
    huge = b"prices ranging from $1" + b"0" * 40 + b" to $2" + b"0" * 40
    data = SAMPLE.replace(b"</footnote>", b" " + huge + b".</footnote>", 1)
    assert data != SAMPLE
    filing = parse_raw(data, SETTINGS, SAMPLE_ACCESSION)
    assert all(t.price_range_high is None for t in filing.document.transactions)
    plain = SAMPLE.replace(b"</footnote>", b" prices ranging from $1.75 to $1.86.</footnote>", 1)
    found = parse_raw(plain, SETTINGS, SAMPLE_ACCESSION).document.transactions[0]
    assert (found.price_range_low, found.price_range_high) == (Decimal("1.75"), Decimal("1.86"))


def test_an_unreadable_date_of_original_submission_is_null_with_a_data_issue() -> None:
    """Guards against losing an amendment over the date that only helps link it (it falls back
    to the period of report), or a NULL that looks like a date left out."""
    amendment = (SAMPLE_DATA / "Archives/edgar/data/2900003/0002900003-26-000005.txt").read_bytes()
    data = amendment.replace(
        b"<dateOfOriginalSubmission>2026-01-27", b"<dateOfOriginalSubmission>2026-01-32"
    )
    assert data != amendment
    filing = parse_raw(data, SETTINGS)
    assert filing.document.date_of_original_submission is None
    assert [(i.table, i.field, i.raw_value) for i in filing.document.issues] == [
        ("filings", "date_of_original_submission", "2026-01-32")
    ]
    assert parse_raw(amendment, SETTINGS).document.date_of_original_submission == date(2026, 1, 27)
