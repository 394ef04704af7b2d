"""Ownership XML (``<ownershipDocument>``, Forms 3, 4, 5 and amendments) -> ``OwnershipDocument``.

``parse_ownership`` is pure (bytes in, records out) and uses lxml directly through the readers
of ``parsers.xmlutil``. It reads everything in the document: issuer, up to ten reporting owners
with address and relationship, Table I and II transactions and holdings with derivative terms
and underlying, footnotes (whole text) linked to the field they annotate, remarks, signatures
and the Rule 10b5-1 checkbox. Codes get their description, category and signed share delta
from ``parsers.codes``. Unknown schema versions are parsed on a best-effort basis.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple, TypeVar

from form4.parsers.codes import code_info, signed_delta
from form4.parsers.errors import BadValue, Inexact, ParseError
from form4.parsers.normalize import (
    classify_sale,
    is_10b5_1,
    mentions_10b5_1,
    price_range_columns,
    price_ranges,
    security_kind,
)
from form4.parsers.records import (
    DataIssue,
    FieldFootnote,
    Footnote,
    Holding,
    Issuer,
    OwnershipDocument,
    ReportingOwner,
    Signature,
    Transaction,
    fast_constructor,
)
from form4.parsers.xmlutil import (
    DEFAULT_MAX_XML_BYTES,
    EXACT,
    MAX_DECIMAL,
    Element,
    as_bool,
    as_date,
    as_decimal,
    children,
    clean,
    safe_fromstring,
    text_of,
    value_of,
)

__all__ = [
    "FIELD_OF_ELEMENT",
    "KNOWN_SCHEMA_VERSIONS",
    "SCHEMA_VERSIONS",
    "is_known_schema_version",
    "parse_ownership",
]

# Schema versions of the ownership document EDGAR has published, by form (amendments use
# their form's). Forms 4 and 5 share one series (X0201-X0203, X0301-X0306, then X0407 with the
# Rule 10b5-1 checkbox in 2023, X0508 and X0609); Form 3 has its own, X0201-X0206 (X0204 to
# X0206 came out while Forms 4 and 5 were at X0304-X0306; a Form 3 of 2024 in the corpus is
# still X0206). The releases from X0407 on are accepted for Form 3 too. The technical
# specification (../shared/reference, v3 of April 2010) lists no version numbers (EDGAR writes
# the current one into every disseminated document), so the list comes from the documents.
# Documents of any other version are parsed best-effort and counted by the ingest summary.
_LATER = ("X0407", "X0508", "X0609")
SCHEMA_VERSIONS: dict[str, frozenset[str]] = {
    "3": frozenset({"X0201", "X0202", "X0203", "X0204", "X0205", "X0206", *_LATER}),
    "4": frozenset(
        {"X0201", "X0202", "X0203", "X0301", "X0302", "X0303", "X0304", "X0305", "X0306", *_LATER}
    ),
}
SCHEMA_VERSIONS["5"] = SCHEMA_VERSIONS["4"]
KNOWN_SCHEMA_VERSIONS = frozenset().union(*SCHEMA_VERSIONS.values())


def is_known_schema_version(document_type: str | None, version: str | None) -> bool:
    """``version`` is one EDGAR has published for this form ("4/A" is a Form 4)."""
    form = (document_type or "").strip().upper().removesuffix("/A")
    return version in SCHEMA_VERSIONS.get(form, KNOWN_SCHEMA_VERSIONS)


# Which column a footnote annotates, by the element it sits in (nearest ancestor wins).
FIELD_OF_ELEMENT: dict[str, str] = {
    "securityTitle": "security_title",
    "transactionDate": "transaction_date",
    "deemedExecutionDate": "deemed_execution_date",
    "transactionCoding": "transaction_code",
    "transactionTimeliness": "timeliness",
    "transactionShares": "shares",
    "transactionTotalValue": "value",
    "transactionPricePerShare": "price_per_share",
    "transactionAcquiredDisposedCode": "acquired_disposed",
    "sharesOwnedFollowingTransaction": "shares_owned_after",
    "valueOwnedFollowingTransaction": "value_owned_after",
    "directOrIndirectOwnership": "direct_or_indirect",
    "natureOfOwnership": "nature_of_ownership",
    "conversionOrExercisePrice": "conversion_or_exercise_price",
    "exerciseDate": "exercise_date",
    "expirationDate": "expiration_date",
    "underlyingSecurityTitle": "underlying_security_title",
    "underlyingSecurityShares": "underlying_shares",
    "underlyingSecurityValue": "underlying_value",
}


def _cik(text: str | None, what: str) -> str | None:
    """A CIK as 10 digits, zero-padded; None when absent; rejected unless 1-10 ASCII digits."""
    if text is None:
        return None
    digits = text.strip()
    if not (digits.isdigit() and digits.isascii() and len(digits) <= 10):
        raise ParseError(f"{what} {text[:40]!r} is not a CIK of 1 to 10 digits", stage="validate")
    return digits.zfill(10)


# Every field element a table row may hold, at any depth (grouping elements such as
# transactionAmounts and postTransactionAmounts are walked through), and its slot in
# the fields of ``_read_row``.
_ROW_FIELDS = (
    "securityTitle",
    "conversionOrExercisePrice",
    "transactionDate",
    "deemedExecutionDate",
    "transactionFormType",
    "transactionCode",
    "equitySwapInvolved",
    "transactionTimeliness",
    "transactionShares",
    "transactionPricePerShare",
    "transactionTotalValue",
    "transactionAcquiredDisposedCode",
    "exerciseDate",
    "expirationDate",
    "underlyingSecurityTitle",
    "underlyingSecurityShares",
    "sharesOwnedFollowingTransaction",
    "valueOwnedFollowingTransaction",
    "directOrIndirectOwnership",
    "natureOfOwnership",
)
_SLOT = {name: slot for slot, name in enumerate(_ROW_FIELDS)}
_TITLE = _SLOT["securityTitle"]
_CONVERSION = _SLOT["conversionOrExercisePrice"]
_DATE = _SLOT["transactionDate"]
_DEEMED = _SLOT["deemedExecutionDate"]
_FORM = _SLOT["transactionFormType"]
_CODE = _SLOT["transactionCode"]
_SWAP = _SLOT["equitySwapInvolved"]
_TIMELINESS = _SLOT["transactionTimeliness"]
_SHARES = _SLOT["transactionShares"]
_PRICE = _SLOT["transactionPricePerShare"]
_TOTAL = _SLOT["transactionTotalValue"]
_AD = _SLOT["transactionAcquiredDisposedCode"]
_EXERCISE = _SLOT["exerciseDate"]
_EXPIRATION = _SLOT["expirationDate"]
_UNDERLYING = _SLOT["underlyingSecurityTitle"]
_UNDERLYING_SHARES = _SLOT["underlyingSecurityShares"]
_OWNED = _SLOT["sharesOwnedFollowingTransaction"]
_OWNED_VALUE = _SLOT["valueOwnedFollowingTransaction"]
_DIRECT = _SLOT["directOrIndirectOwnership"]
_NATURE = _SLOT["natureOfOwnership"]


# A table row as _read_row gives it: (fields, ids, links, price_ids).
_RowRead = tuple[list[str | None], tuple[str, ...], tuple[FieldFootnote, ...], tuple[str, ...]]


def _read_row(row: Element) -> _RowRead:
    """The field values and footnote references of one table row, read in one pass over the
    row's subtree: ``(fields, ids, links, price_ids)``.

    ``fields`` holds, in the slot of each field name (``_SLOT``: a list indexed by constants
    reads faster than a dictionary), the text of its first element's ``<value>`` child, else
    its own text, *raw* (not stripped or folded: ``clean`` it, or read it with a
    converter such as ``as_decimal``, which ignores the same whitespace); None when empty or
    only footnoted. Only a value holding markup, or text beside footnote ids, is read
    through ``text_of``/``value_of`` (cleaned).
    ``ids`` are the footnote ids referenced anywhere in the row, in document order, and
    ``links`` each (field, id) once, the field being the nearest enclosing field element
    (``FIELD_OF_ELEMENT``) or "row"; ``price_ids`` are the ids linked to the price. One
    ``iter()`` walk replaces a dictionary of children per grouping element, a
    ``find("value")`` per field and a second walk for the footnotes.
    """
    elements: list[Element | None] = [None] * len(_ROW_FIELDS)
    fields: list[str | None] = [None] * len(_ROW_FIELDS)
    ids: list[str] = []
    links: list[FieldFootnote] = []
    price_ids: list[str] = []
    seen: set[tuple[str, str]] = set()
    unvalued = 0  # fields with children still without a <value>
    # The walk is in document order, so a field's <value> comes right after the field's
    # start tag (footnote ids may sit between): `current` is the slot of the field with
    # children that a <value> met now belongs to, -1 after anything else. Only when footnote
    # ids came between is the parent looked up to be sure.
    current = -1  # no field
    check_parent = False
    for el in row.iterdescendants():  # the row's own tag is none of these
        tag = el.tag
        if tag == "value":
            if current >= 0:
                if not check_parent or el.getparent() is elements[current]:
                    fields[current] = text_of(el) if len(el) else el.text
                    unvalued -= 1
                current = -1
            continue
        slot = _SLOT.get(tag)
        if slot is not None:
            if elements[slot] is not None:  # only the first element of a field counts
                current = -1
            else:
                elements[slot] = el
                if len(el):
                    current, check_parent = slot, False
                    unvalued += 1
                else:  # a leaf field has no <value>: what comes next is not inside it
                    fields[slot] = el.text
                    current = -1
        elif tag == "footnoteId":
            check_parent = True
            ref = (el.get("id") or "").strip()
            if not ref:
                continue
            if ref not in ids:
                ids.append(ref)
            field = "row"
            up = el.getparent()
            while up is not None and up is not row:
                known = FIELD_OF_ELEMENT.get(up.tag)  # each ancestor's tag read once
                if known is not None:
                    field = known
                    break
                up = up.getparent()
            if (field, ref) not in seen:
                seen.add((field, ref))
                links.append(_link(field, ref))
                if field == "price_per_share":
                    price_ids.append(ref)
        else:
            current = -1
    if unvalued:  # a field given only by footnote, or with text beside its footnote ids
        for slot, found in enumerate(elements):
            if found is not None and len(found) and fields[slot] is None:
                fields[slot] = value_of(found)
    return fields, tuple(ids), tuple(links), tuple(price_ids)


_new_transaction = fast_constructor(Transaction)
_new_holding = fast_constructor(Holding)
_new_owner = fast_constructor(ReportingOwner)
_new_issuer = fast_constructor(Issuer)
_new_document = fast_constructor(OwnershipDocument)
_new_link = fast_constructor(FieldFootnote)
_new_footnote = fast_constructor(Footnote)
_new_signature = fast_constructor(Signature)


@lru_cache(maxsize=4096)
def _link(field: str, ref: str) -> FieldFootnote:
    """The record linking footnote ``ref`` to ``field``: immutable, so one per pair serves
    every row that makes it (the rows of a filing mostly link the same few)."""
    return _new_link(field, ref)


# One ASCII letter, as a code or flag is usually given, and what ``_upper`` makes of it.
_LETTER: dict[str | None, str] = {c: c.upper() for c in string.ascii_letters}


def _upper(text: str | None) -> str | None:
    """A code or flag, cleaned and upper-cased; the usual single letter without a detour."""
    if text is not None and len(text) == 1 and text.isalpha():
        return text.upper()
    text = clean(text)
    return text.upper() if text is not None else None


_FactsKey = tuple[str | None, tuple[str, ...], tuple[str, ...], str | None, bool]


class _Context:
    """What every row's normalisation needs from the whole filing, and its results so far:
    rows of a filing mostly share their code and footnotes, so each combination is looked
    up once per filing (``facts``), and normalised once per distinct texts (``_facts_of``)."""

    __slots__ = ("aff10b5_one", "issues", "known", "notes", "plan_mentioned", "remarks")

    def __init__(self, notes: dict[str, str], remarks: str | None, aff10b5_one: bool | None):
        self.notes = notes
        self.remarks = remarks
        self.aff10b5_one = aff10b5_one
        self.plan_mentioned = mentions_10b5_1([*notes.values(), remarks or ""])
        self.known: dict[_FactsKey, _Facts] = {}  # facts by key, this filing's so far
        self.issues: list[DataIssue] = []  # values loaded other than as filed

    def texts(self, ids: tuple[str, ...]) -> list[str]:
        """The row's footnote texts, then the filing's remarks."""
        out = [self.notes[i] for i in ids if i in self.notes]
        if self.remarks:
            out.append(self.remarks)
        return out

    def facts(self, key: _FactsKey) -> _Facts:
        """Why a sale happened, 10b5-1, the weighted-average price ranges a row's range is
        picked from (those of the footnotes on the price if there are any, else of all the
        row's) and the derivative's kind, for ``key``: (code, footnote ids, ids on the price,
        derivative title, is_derivative). Rows look in ``known`` first, then call this."""
        code, ids, price_ids, derivative_title, is_derivative = key
        notes = self.notes
        facts = _facts_of(
            code,
            tuple(self.texts(ids)),
            tuple([notes[i] for i in price_ids if i in notes]),
            derivative_title,
            is_derivative,
            self.aff10b5_one,
            self.plan_mentioned,
        )
        self.known[key] = facts
        return facts


@lru_cache(maxsize=4096)
def _facts_of(
    code: str | None,
    texts: tuple[str, ...],
    price_notes: tuple[str, ...],
    derivative_title: str | None,
    is_derivative: bool,
    aff10b5_one: bool | None,
    plan_mentioned: bool,
) -> _Facts:
    """``_Context.facts`` from the texts themselves: pure, so memoised across filings (the
    normaliser's own caches are per text; this saves putting their results together again
    for each filing that repeats a combination of boilerplate footnotes)."""
    reason, reason_text = classify_sale(texts) if code == "S" else (None, None)
    return _Facts(
        reason,
        reason_text,
        is_10b5_1(code, texts, aff10b5_one, plan_mentioned),
        price_ranges(price_notes or texts),
        security_kind(derivative_title, texts) if is_derivative else None,
    )


class _Facts(NamedTuple):
    sale_reason: str | None
    sale_reason_text: str | None
    plan: bool
    ranges: tuple[tuple[Decimal, Decimal], ...]  # empty when the texts give none
    kind: str | None


def _position(
    f: list[str | None],
) -> tuple[
    Decimal | None,
    Decimal | None,
    str | None,
    str | None,
    Decimal | None,
    date | None,
    date | None,
    str | None,
    Decimal | None,
]:
    """The position columns, shares_owned_after to underlying_shares, in the order both
    ``Transaction`` and ``Holding`` declare them."""
    return (
        as_decimal(f[_OWNED]),
        as_decimal(f[_OWNED_VALUE]),
        _upper(f[_DIRECT]),
        clean(f[_NATURE]),
        as_decimal(f[_CONVERSION]),
        as_date(f[_EXERCISE]),
        as_date(f[_EXPIRATION]),
        clean(f[_UNDERLYING]),
        as_decimal(f[_UNDERLYING_SHARES]),
    )


# The row fields read by a converter that may refuse a value, with their column names.
_CHECKED_SLOTS: tuple[tuple[int, str, Callable[[str | None], object]], ...] = (
    *(
        (_SLOT[name], FIELD_OF_ELEMENT[name], as_decimal)
        for name in (
            "transactionShares",
            "transactionPricePerShare",
            "transactionTotalValue",
            "sharesOwnedFollowingTransaction",
            "valueOwnedFollowingTransaction",
            "conversionOrExercisePrice",
            "underlyingSecurityShares",
        )
    ),
    *(
        (_SLOT[name], FIELD_OF_ELEMENT[name], as_date)
        for name in ("transactionDate", "deemedExecutionDate", "exerciseDate", "expirationDate")
    ),
    (_SLOT["equitySwapInvolved"], "equity_swap_involved", as_bool),
)


def _where(table: str, line_no: int, is_derivative: bool) -> str:
    return f"{table} line {line_no} of Table {'II' if is_derivative else 'I'}"


def _settle(
    f: list[str | None], table: str, line_no: int, is_derivative: bool, ctx: _Context
) -> None:
    """A row whose converters refused a value (the fast path raised ``BadValue``): a value
    with more than 8 decimal places is replaced by its rounding and recorded in
    ``ctx.issues``; any other refused value rejects the filing, naming the field and line."""
    for slot, column, convert in _CHECKED_SLOTS:
        text = f[slot]
        try:
            convert(text)
        except Inexact as exc:
            assert text is not None
            ctx.issues.append(DataIssue(table, line_no, is_derivative, column, text, exc.problem))
            f[slot] = str(exc.value)
        except BadValue as exc:
            raise ParseError(
                f"{_where(table, line_no, is_derivative)}: {column}: {exc}", stage="validate"
            ) from None


def _transaction(row: Element, line_no: int, is_derivative: bool, ctx: _Context) -> Transaction:
    read = _read_row(row)
    try:
        return _transaction_of(read, line_no, is_derivative, ctx)
    except BadValue:  # rare: find the field, reject the filing or round and record it
        _settle(read[0], "transactions", line_no, is_derivative, ctx)
        return _transaction_of(read, line_no, is_derivative, ctx)


def _transaction_of(
    read: _RowRead, line_no: int, is_derivative: bool, ctx: _Context
) -> Transaction:
    # The converters are skipped for absent fields (None either way), and codes and flags
    # that are one letter already are looked up: a table row calls about thirty of them,
    # and a Python call costs as much as the usual conversion.
    f, ids, links, price_ids = read
    text = f[_CODE]
    code = _LETTER.get(text) or _upper(text)
    info = code_info(code)
    shares_text, price_text = f[_SHARES], f[_PRICE]
    shares = None if shares_text is None else as_decimal(shares_text)
    price = None if price_text is None else as_decimal(price_text)
    text = f[_AD]
    acquired_disposed = _LETTER.get(text) or _upper(text)
    value: Decimal | None = None
    if shares is not None and price is not None:
        # A value has no more digits than its text has characters: when the two texts are
        # short (the usual case), Decimal's default 28 digits hold the product exactly and it
        # is in range; otherwise it is computed exactly and checked.
        if (
            shares_text is not None
            and price_text is not None
            and (len(shares_text) + len(price_text) <= 28)
        ):
            value = shares * price
        else:
            value = EXACT.multiply(shares, price)
            if value >= MAX_DECIMAL:
                raise ParseError(
                    f"{_where('transactions', line_no, is_derivative)}: shares x price = "
                    f"{value:.3e} is beyond DECIMAL(38,8)",
                    stage="validate",
                )
    else:
        text = f[_TOTAL]
        value = None if text is None else as_decimal(text)
    title = clean(f[_TITLE])
    key = (code, ids, price_ids, title if is_derivative else None, is_derivative)
    facts = ctx.known.get(key) or ctx.facts(key)
    low, high, unusable = price_range_columns(facts.ranges, price)
    transaction_date, deemed = f[_DATE], f[_DEEMED]
    form_type, swap, direct = f[_FORM], f[_SWAP], f[_DIRECT]
    owned, owned_value = f[_OWNED], f[_OWNED_VALUE]
    conversion, exercise, expiration = f[_CONVERSION], f[_EXERCISE], f[_EXPIRATION]
    underlying, underlying_shares = f[_UNDERLYING], f[_UNDERLYING_SHARES]
    timeliness = f[_TIMELINESS]
    # Every field positionally, in declaration order (see fast_constructor); the names are
    # pinned by tests/test_ownership.py::test_every_field_lands_in_its_own_column.
    return _new_transaction(
        line_no,  # line_no
        is_derivative,  # is_derivative
        title,  # security_title
        None if transaction_date is None else as_date(transaction_date),  # transaction_date
        None if deemed is None else as_date(deemed),  # deemed_execution_date
        None if form_type is None else clean(form_type),  # transaction_form_type
        code,  # transaction_code
        info.description if info else None,  # code_description
        info.category if info else None,  # category
        None if swap is None else as_bool(swap),  # equity_swap_involved
        acquired_disposed,  # acquired_disposed
        shares,  # shares
        price,  # price_per_share
        signed_delta(shares, acquired_disposed, code),  # shares_delta
        value,  # value
        None if owned is None else as_decimal(owned),  # shares_owned_after
        None if owned_value is None else as_decimal(owned_value),  # value_owned_after
        _LETTER.get(direct) or _upper(direct),  # direct_or_indirect
        clean(f[_NATURE]),  # nature_of_ownership
        None if conversion is None else as_decimal(conversion),  # conversion_or_exercise_price
        None if exercise is None else as_date(exercise),  # exercise_date
        None if expiration is None else as_date(expiration),  # expiration_date
        None if underlying is None else clean(underlying),  # underlying_security_title
        None if underlying_shares is None else as_decimal(underlying_shares),  # underlying_shares
        None if timeliness is None else _upper(timeliness),  # timeliness
        ids,  # footnote_ids
        links,  # field_footnotes
        facts.sale_reason == "sell_to_cover",  # is_sell_to_cover
        facts.plan,  # is_10b5_1
        low,  # price_range_low
        high,  # price_range_high
        facts.kind,  # security_kind
        facts.sale_reason,  # sale_reason
        facts.sale_reason_text,  # sale_reason_text
        unusable,  # price_range_unusable
    )


def _holding(row: Element, line_no: int, is_derivative: bool, ctx: _Context) -> Holding:
    read = _read_row(row)
    try:
        return _holding_of(read, line_no, is_derivative, ctx)
    except BadValue:
        _settle(read[0], "holdings", line_no, is_derivative, ctx)
        return _holding_of(read, line_no, is_derivative, ctx)


def _holding_of(read: _RowRead, line_no: int, is_derivative: bool, ctx: _Context) -> Holding:
    f, ids, links, _ = read
    title = clean(f[_TITLE])
    return _new_holding(
        line_no,  # line_no
        is_derivative,  # is_derivative
        title,  # security_title
        *_position(f),  # shares_owned_after .. underlying_shares
        ids,  # footnote_ids
        links,  # field_footnotes
        security_kind(title, ctx.texts(ids)) if is_derivative else None,  # security_kind
    )


# The leaf elements of a <reportingOwner> (in reportingOwnerId, reportingOwnerAddress and
# reportingOwnerRelationship); each tag occurs in one group only.
_OWNER_LEAVES = frozenset(
    {
        "rptOwnerCik",
        "rptOwnerName",
        "rptOwnerStreet1",
        "rptOwnerStreet2",
        "rptOwnerCity",
        "rptOwnerState",
        "rptOwnerZipCode",
        "rptOwnerStateDescription",
        "isDirector",
        "isOfficer",
        "isTenPercentOwner",
        "isOther",
        "officerTitle",
        "otherText",
    }
)


_OWNER_FLAGS = ("isDirector", "isOfficer", "isTenPercentOwner", "isOther")


def _owner(el: Element) -> ReportingOwner:
    """One pass over the owner's subtree: the first text of each leaf, and whether the
    relationship box group is there at all."""
    leaves: dict[str, str | None] = {}
    has_relationship = False
    for child in el.iter():
        tag = child.tag
        if tag in _OWNER_LEAVES:
            if tag not in leaves:  # text_of, without its call for the usual leaf
                leaves[tag] = text_of(child) if len(child) else clean(child.text)
        elif tag == "reportingOwnerRelationship":
            has_relationship = True
    v = leaves.get
    cik = _cik(v("rptOwnerCik"), "rptOwnerCik")
    if not cik:
        raise ParseError("a reporting owner has no rptOwnerCik", stage="ownership")

    flags: list[bool | None] = []
    for name in _OWNER_FLAGS:
        try:
            value = as_bool(v(name))
        except BadValue as exc:
            raise ParseError(f"reporting owner {cik}: {name}: {exc}", stage="validate") from None
        # an empty box of a relationship group that is there: on the form, left unchecked
        flags.append(False if value is None and has_relationship else value)
    director, officer, ten_percent_owner, other = flags
    return _new_owner(
        cik,  # owner_cik
        v("rptOwnerName"),  # owner_name
        director,  # is_director
        officer,  # is_officer
        ten_percent_owner,  # is_ten_percent_owner
        other,  # is_other
        v("officerTitle"),  # officer_title
        v("otherText"),  # other_text
        v("rptOwnerStreet1"),  # street1
        v("rptOwnerStreet2"),  # street2
        v("rptOwnerCity"),  # city
        v("rptOwnerState"),  # state
        v("rptOwnerZipCode"),  # zip_code
        v("rptOwnerStateDescription"),  # state_description
    )


_T = TypeVar("_T")


def _strict(convert: Callable[[str | None], _T], text: str | None, what: str) -> _T:
    """``convert(text)``; a refused value rejects the filing, naming ``what``."""
    try:
        return convert(text)
    except BadValue as exc:
        raise ParseError(f"{what}: {exc}", stage="validate") from None


def _lenient_date(text: str | None, issue: Callable[[str, str], None]) -> date | None:
    """A date whose loss leaves the filing's rows right: unreadable, it is stored NULL and
    recorded through ``issue(raw, problem)``."""
    try:
        return as_date(text)
    except BadValue as exc:
        issue(exc.raw, f"{exc.problem}: stored NULL")
        return None


def _signature(el: Element, number: int, issues: list[DataIssue]) -> Signature:
    """One ``<ownerSignature>``; an unreadable date is stored NULL and recorded in ``issues``
    (as ``_lenient_date`` does, without a callback made per signature)."""
    parts = children(el)
    text = text_of(parts.get("signatureDate"))
    try:
        signed_on = as_date(text)
    except BadValue as exc:
        issues.append(
            DataIssue(
                "owner_signatures",
                number,
                None,
                "signature_date",
                exc.raw,
                f"{exc.problem}: stored NULL",
            )
        )
        signed_on = None
    return _new_signature(text_of(parts.get("signatureName")), signed_on)  # name, signed_on


# Footnote texts longer than this are cleaned without the cache (an entry holds its text).
_NOTE_CACHE_CHARS = 8192


def _note_text(el: Element) -> str | None:
    """``text_of`` a footnote: the usual one, a leaf, cleaned once per distinct text."""
    if len(el):
        return text_of(el)
    text = el.text
    if text is not None and len(text) <= _NOTE_CACHE_CHARS:
        return _clean_note(text)
    return clean(text)


@lru_cache(maxsize=1024)
def _clean_note(text: str) -> str | None:
    """``clean`` memoised: boilerplate footnotes recur across filings, and the whitespace
    check reads the whole text (about 1 ns a character). The text returned is the cached one,
    whose hash the normaliser's caches then find already computed."""
    return clean(text)


def _rows(table: Element | None, name: str) -> Iterable[Element]:
    if table is None:
        return ()
    return table.iterchildren(name)  # filtered by tag in C


def parse_ownership(xml: bytes, *, max_bytes: int = DEFAULT_MAX_XML_BYTES) -> OwnershipDocument:
    """Parse one ownership document; ``ParseError`` if it is malformed, unsafe or not one."""
    root = safe_fromstring(xml, max_bytes=max_bytes)
    if root.tag != "ownershipDocument":
        raise ParseError(f"not an ownership document: root element <{root.tag}>", stage="ownership")
    # One pass over the top level: the first element of each name (as ``children`` gives
    # them), and every owner and signature, in order.
    top: dict[str, Element] = {}
    owner_elements: list[Element] = []
    signature_elements: list[Element] = []
    for el in root:
        tag = el.tag
        if tag == "reportingOwner":
            owner_elements.append(el)
        elif tag == "ownerSignature":
            signature_elements.append(el)
        if isinstance(tag, str) and tag not in top:
            top[tag] = el
    document_type = text_of(top.get("documentType"))
    if document_type is None:
        raise ParseError("no documentType", stage="ownership")
    issuer_el = children(top.get("issuer"))
    issuer_cik = _cik(text_of(issuer_el.get("issuerCik")), "issuerCik")
    if not issuer_cik:
        raise ParseError("no issuerCik", stage="ownership")
    issuer = _new_issuer(
        issuer_cik,  # cik
        text_of(issuer_el.get("issuerName")),  # name
        text_of(issuer_el.get("issuerTradingSymbol")),  # ticker
        text_of(issuer_el.get("issuerForeignTradingSymbol")),  # foreign_trading_symbol
    )
    owners = tuple([_owner(el) for el in owner_elements])
    footnotes = tuple(
        [
            _new_footnote((el.get("id") or "").strip(), _note_text(el) or "")  # id, text
            for el in _rows(top.get("footnotes"), "footnote")
        ]
    )
    remarks = text_of(top.get("remarks"))
    aff10b5_one = _strict(as_bool, text_of(top.get("aff10b5One")), "aff10b5One")
    ctx = _Context({f.footnote_id: f.text for f in footnotes}, remarks, aff10b5_one)
    non_derivative = top.get("nonDerivativeTable")
    derivative = top.get("derivativeTable")
    # list comprehensions: a generator costs a frame switch per row
    transactions = (
        *[
            _transaction(row, i, False, ctx)
            for i, row in enumerate(_rows(non_derivative, "nonDerivativeTransaction"), 1)
        ],
        *[
            _transaction(row, i, True, ctx)
            for i, row in enumerate(_rows(derivative, "derivativeTransaction"), 1)
        ],
    )
    holdings = (
        *[
            _holding(row, i, False, ctx)
            for i, row in enumerate(_rows(non_derivative, "nonDerivativeHolding"), 1)
        ],
        *[
            _holding(row, i, True, ctx)
            for i, row in enumerate(_rows(derivative, "derivativeHolding"), 1)
        ],
    )
    issues = ctx.issues
    signatures = tuple([_signature(el, n, issues) for n, el in enumerate(signature_elements, 1)])

    def original_issue(raw: str, problem: str) -> None:
        issues.append(DataIssue("filings", None, None, "date_of_original_submission", raw, problem))

    return _new_document(
        text_of(top.get("schemaVersion")),  # schema_version
        document_type.upper(),  # document_type
        _strict(as_date, text_of(top.get("periodOfReport")), "periodOfReport"),
        _lenient_date(text_of(top.get("dateOfOriginalSubmission")), original_issue),
        _strict(as_bool, text_of(top.get("notSubjectToSection16")), "notSubjectToSection16"),
        _strict(as_bool, text_of(top.get("noSecuritiesOwned")), "noSecuritiesOwned"),
        aff10b5_one,  # aff10b5_one
        issuer,  # issuer
        owners,  # reporting_owners
        transactions,  # transactions
        holdings,  # holdings
        footnotes,  # footnotes
        remarks,  # remarks
        signatures,  # signatures
        tuple(issues),  # issues
    )
