"""Hand-built parsed filings for warehouse tests (no parser involved)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from form4.parsers.records import (
    DataIssue,
    FieldFootnote,
    Footnote,
    Holding,
    Issuer,
    OwnershipDocument,
    ParsedFiling,
    ReportingOwner,
    Signature,
    SubmissionHeader,
    Transaction,
)


def transaction(
    line_no: int = 1,
    *,
    code: str = "S",
    shares: str = "100",
    price: str | None = "1.80",
    is_derivative: bool = False,
) -> Transaction:
    qty = Decimal(shares)
    px = Decimal(price) if price is not None else None
    disposed = code in ("S", "F", "D", "G")
    return Transaction(
        line_no=line_no,
        is_derivative=is_derivative,
        security_title="Common Stock",
        transaction_date=date(2026, 2, 2),
        deemed_execution_date=None,
        transaction_form_type="4",
        transaction_code=code,
        code_description="description",
        category="sale" if code == "S" else "award",
        equity_swap_involved=False,
        acquired_disposed="D" if disposed else "A",
        shares=qty,
        price_per_share=px,
        shares_delta=-qty if disposed else qty,
        value=qty * px if px is not None else None,
        shares_owned_after=Decimal("1000.5"),
        value_owned_after=None,
        direct_or_indirect="D",
        nature_of_ownership=None,
        conversion_or_exercise_price=None,
        exercise_date=None,
        expiration_date=None,
        underlying_security_title=None,
        underlying_shares=None,
        timeliness=None,
        footnote_ids=("F1",),
        field_footnotes=(FieldFootnote("price_per_share", "F1"),),
    )


def filing(accession: str = "0002900001-26-000011", *, transactions: int = 2) -> ParsedFiling:
    holding = Holding(
        line_no=1,
        is_derivative=False,
        security_title="Common Stock",
        shares_owned_after=Decimal("250"),
        value_owned_after=None,
        direct_or_indirect="I",
        nature_of_ownership="By Trust",
        conversion_or_exercise_price=None,
        exercise_date=None,
        expiration_date=None,
        underlying_security_title=None,
        underlying_shares=None,
        footnote_ids=("F1",),
        field_footnotes=(FieldFootnote("nature_of_ownership", "F1"),),
    )
    document = OwnershipDocument(
        schema_version="X0508",
        document_type="4",
        period_of_report=date(2026, 2, 2),
        date_of_original_submission=None,
        not_subject_to_section16=False,
        no_securities_owned=None,
        aff10b5_one=False,
        issuer=Issuer("0002900001", "Northwind Therapeutics Inc", "NWTX"),
        reporting_owners=(
            ReportingOwner("0002900101", "Doe Jane", False, True, False, False, "CEO", None),
        ),
        transactions=tuple(transaction(i + 1) for i in range(transactions)),
        holdings=(holding,),
        footnotes=(Footnote("F1", "Weighted average price; prices ranging from $1.75 to $1.86."),),
        remarks=None,
        signatures=(Signature("/s/ Jane Doe", date(2026, 2, 3)),),
    )
    header = SubmissionHeader(
        accession, "4", date(2026, 2, 3), datetime(2026, 2, 3, 16, 5, 1), date(2026, 2, 2)
    )
    return ParsedFiling(header, document)


def filing_with_issue(accession: str = "0002900001-26-000011") -> ParsedFiling:
    """``filing`` with a data issue (a rounded holding), so every data table has a row."""
    plain = filing(accession)
    issue = DataIssue("holdings", 1, False, "shares_owned_after", "250.000000004", "rounded")
    return replace(plain, document=replace(plain.document, issues=(issue,)))


def owner(
    cik: str,
    name: str,
    *,
    title: str | None = None,
    director: bool = False,
    ten_percent: bool = False,
) -> ReportingOwner:
    return ReportingOwner(cik, name, director, title is not None, ten_percent, False, title, None)


def row(
    line_no: int,
    code: str,
    shares: str,
    price: str | None = None,
    *,
    derivative: bool = False,
    kind: str | None = None,
    on: date | None = None,
    cover: bool = False,
    plan: bool = False,
    after: str | None = None,
    reason: str | None = None,
) -> Transaction:
    """A transaction row with the normalisation fields set directly. An S row's sale_reason
    is ``reason``, else sell_to_cover with ``cover``, else discretionary."""
    base = transaction(line_no, code=code, shares=shares, price=price, is_derivative=derivative)
    disposed = code in ("S", "F", "D", "G") or (code in ("M", "X", "O") and derivative)
    qty = Decimal(shares)
    return replace(
        base,
        transaction_date=on or date(2026, 2, 2),
        acquired_disposed="D" if disposed else "A",
        shares_delta=-qty if disposed else qty,
        security_kind=kind,
        is_sell_to_cover=cover or reason == "sell_to_cover",
        sale_reason=(reason or ("sell_to_cover" if cover else "discretionary"))
        if code == "S"
        else None,
        is_10b5_1=plan,
        shares_owned_after=Decimal(after) if after else None,
        footnote_ids=(),
        field_footnotes=(),
    )


def make_filing(
    accession: str,
    *,
    issuer: tuple[str, str, str] = ("0002900001", "NWTX", "Northwind Therapeutics Inc"),
    owners: tuple[ReportingOwner, ...],
    rows: tuple[Transaction, ...],
    filed: date = date(2026, 2, 2),
    form_type: str = "4",
    original: date | None = None,
) -> ParsedFiling:
    cik, ticker, name = issuer
    base = filing(accession)
    document = replace(
        base.document,
        document_type=form_type,
        issuer=Issuer(cik, name, ticker),
        reporting_owners=owners,
        transactions=rows,
        holdings=(),
        footnotes=(),
        date_of_original_submission=original,
        period_of_report=filed,
    )
    header = SubmissionHeader(
        accession, form_type, filed, datetime(filed.year, filed.month, filed.day, 17), filed
    )
    return ParsedFiling(header, document)
