"""Typed records that the parsers return and the warehouse stores.

Every record is a frozen, slotted dataclass with real types: ``Decimal`` for share
counts and prices, ``date``/``datetime`` for dates, ``bool | None`` for flags that a
filing may leave out. Neighbours: ``parsers.index`` and ``parsers.sgml`` build
``IndexEntry`` and ``Submission``; ``parsers.ownership`` builds ``OwnershipDocument``;
``warehouse.load`` turns them into Arrow tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, make_dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar, cast

__all__ = [
    "DataIssue",
    "FieldFootnote",
    "Footnote",
    "Holding",
    "IndexEntry",
    "IndexProblem",
    "Issuer",
    "OwnershipDocument",
    "ParsedFiling",
    "ReportingOwner",
    "Signature",
    "Submission",
    "SubmissionHeader",
    "Transaction",
    "fast_constructor",
]

_P = ParamSpec("_P")
_R = TypeVar("_R")


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One row of an EDGAR daily or quarterly index (``form.YYYYMMDD.idx``)."""

    form_type: str
    company_name: str
    cik: str  # 10-digit, zero-padded
    date_filed: date
    filename: str  # e.g. "edgar/data/1750/0001127602-25-001055.txt"
    accession_number: str  # e.g. "0001127602-25-001055"


@dataclass(frozen=True, slots=True)
class IndexProblem:
    """A line of an index file that could not be read as a filing; it is skipped."""

    line_no: int  # from 1, in the file
    problem: str
    line: str  # its first 300 characters
    line_length: int


@dataclass(frozen=True, slots=True)
class SubmissionHeader:
    """The SGML header of a full submission text file (``{accession}.txt`` or ``.nc``)."""

    accession_number: str
    form_type: str
    filing_date: date | None
    accepted_at: datetime | None  # naive, US/Eastern as EDGAR gives it
    period_of_report: date | None


@dataclass(frozen=True, slots=True)
class Submission:
    """A full submission: its header and the raw bytes of its ownership XML document."""

    header: SubmissionHeader
    xml: bytes


@dataclass(frozen=True, slots=True)
class Issuer:
    cik: str  # 10-digit, zero-padded
    name: str | None
    ticker: str | None
    foreign_trading_symbol: str | None = None


@dataclass(frozen=True, slots=True)
class ReportingOwner:
    owner_cik: str  # 10-digit, zero-padded
    owner_name: str | None
    is_director: bool | None
    is_officer: bool | None
    is_ten_percent_owner: bool | None
    is_other: bool | None
    officer_title: str | None
    other_text: str | None
    street1: str | None = None
    street2: str | None = None
    city: str | None = None
    state: str | None = None
    zip_code: str | None = None
    state_description: str | None = None


@dataclass(frozen=True, slots=True)
class Footnote:
    footnote_id: str  # "F1"
    text: str  # whole text, markup removed, entities decoded, whitespace folded


@dataclass(frozen=True, slots=True)
class FieldFootnote:
    """A footnote reference attached to one field of a transaction or holding row."""

    field: str  # the column it annotates: "price_per_share", "shares", "transaction_code", ...
    footnote_id: str


@dataclass(frozen=True, slots=True)
class Signature:
    name: str | None
    signed_on: date | None


@dataclass(frozen=True, slots=True)
class Transaction:
    """One row of Table I (non-derivative) or Table II (derivative) transactions.

    ``line_no`` counts from 1 within its table; ``(is_derivative, line_no)`` is unique in
    a filing. ``shares_delta`` is signed: positive when acquired, negative when disposed.
    """

    line_no: int
    is_derivative: bool
    security_title: str | None
    transaction_date: date | None
    deemed_execution_date: date | None
    transaction_form_type: str | None
    transaction_code: str | None
    code_description: str | None
    category: str | None
    equity_swap_involved: bool | None
    acquired_disposed: str | None  # "A" or "D"
    shares: Decimal | None
    price_per_share: Decimal | None  # None when only footnoted
    shares_delta: Decimal | None
    value: Decimal | None  # shares * price_per_share
    shares_owned_after: Decimal | None
    value_owned_after: Decimal | None
    direct_or_indirect: str | None  # "D" or "I"
    nature_of_ownership: str | None
    conversion_or_exercise_price: Decimal | None
    exercise_date: date | None
    expiration_date: date | None
    underlying_security_title: str | None
    underlying_shares: Decimal | None
    timeliness: str | None  # "E" early, "L" late, None on time
    footnote_ids: tuple[str, ...]
    field_footnotes: tuple[FieldFootnote, ...]
    # Normalisation for analysts (form4.parsers.classify), from the row's footnotes and remarks:
    is_sell_to_cover: bool = False  # sale_reason == 'sell_to_cover'
    is_10b5_1: bool = False  # made under a Rule 10b5-1 plan
    price_range_low: Decimal | None = None  # from a weighted-average price footnote
    price_range_high: Decimal | None = None
    security_kind: str | None = None  # derivative rows: option, rsu, psu, warrant, ...
    # S rows: sell_to_cover, exercise_tax, exercise_cost or discretionary (None for other codes)
    sale_reason: str | None = None
    sale_reason_text: str | None = None  # the sentence that decided it (None: discretionary)
    price_range_unusable: bool = False  # a range was given but cannot be this row's


@dataclass(frozen=True, slots=True)
class Holding:
    """One row of Table I or Table II holdings (positions reported without a transaction)."""

    line_no: int
    is_derivative: bool
    security_title: str | None
    shares_owned_after: Decimal | None
    value_owned_after: Decimal | None
    direct_or_indirect: str | None
    nature_of_ownership: str | None
    conversion_or_exercise_price: Decimal | None
    exercise_date: date | None
    expiration_date: date | None
    underlying_security_title: str | None
    underlying_shares: Decimal | None
    footnote_ids: tuple[str, ...]
    field_footnotes: tuple[FieldFootnote, ...]
    security_kind: str | None = None  # derivative rows: option, rsu, psu, warrant, ...


@dataclass(frozen=True, slots=True)
class DataIssue:
    """A value loaded other than as filed, or not loaded: the filing's rows are kept and this
    says which field of which row, its text and what was done (README, "Validation rules")."""

    table: str  # the warehouse table of the row: transactions, holdings, owner_signatures, ...
    line_no: int | None  # the row's line_no (signature_no for signatures); None for filings
    is_derivative: bool | None  # Table II row; None outside transactions and holdings
    field: str  # the column
    raw_value: str  # the text as filed
    problem: str  # what is wrong and what was stored instead


@dataclass(frozen=True, slots=True)
class OwnershipDocument:
    """Everything in an ``<ownershipDocument>`` (Forms 3, 4, 5 and amendments)."""

    schema_version: str | None
    document_type: str  # "3", "4", "5", "3/A", "4/A", "5/A"
    period_of_report: date | None
    date_of_original_submission: date | None
    not_subject_to_section16: bool | None
    no_securities_owned: bool | None
    aff10b5_one: bool | None
    issuer: Issuer
    reporting_owners: tuple[ReportingOwner, ...]
    transactions: tuple[Transaction, ...]
    holdings: tuple[Holding, ...]
    footnotes: tuple[Footnote, ...]
    remarks: str | None
    signatures: tuple[Signature, ...]
    issues: tuple[DataIssue, ...] = ()  # values recorded in data_issues


@dataclass(frozen=True, slots=True)
class ParsedFiling:
    """A submission header with its parsed ownership document: the unit the warehouse loads."""

    header: SubmissionHeader
    document: OwnershipDocument


def fast_constructor(cls: Callable[_P, _R]) -> Callable[_P, _R]:
    """A constructor of ``cls``, a frozen slotted dataclass, for the parsers' hot path.

    A frozen dataclass's ``__init__`` sets every field through ``object.__setattr__`` (about
    55 ns a field), and a call with more than 15 keyword arguments is compiled into one that
    builds a dict of them: a 32-field ``Transaction`` took 3.4 us to construct, the largest
    share of a table row's parse after the tree walk. The constructor returned here is a
    mutable twin class with the same slots: its ``__init__`` fills them with plain slot
    stores and its ``__post_init__`` assigns ``__class__``, which CPython allows between
    classes of the same layout. What it returns is an ordinary, frozen instance of ``cls``:
    equal, hashed, pickled and immutable like any other. Call it with every field
    positionally, in declaration order (0.4 us for ``Transaction``); its signature is
    ``cls``'s, so mypy checks the arguments.
    """
    record = cast(type[Any], cls)

    def __post_init__(self: object) -> None:  # runs at the end of the twin's __init__
        self.__class__ = record

    twin = make_dataclass(
        f"_{record.__name__}Draft",
        [
            (f.name, f.type, field(default=f.default, default_factory=f.default_factory))
            for f in fields(record)
        ],
        namespace={"__post_init__": __post_init__},
        slots=True,
        eq=False,
        repr=False,
        match_args=False,
    )
    if (
        getattr(record, "__slots__", None) != getattr(twin, "__slots__", ())
        or record.__basicsize__ != twin.__basicsize__
        or record.__bases__ != (object,)
    ):
        raise TypeError(f"{record.__name__} is not a plain slotted dataclass")
    return cast(Callable[_P, _R], twin)
