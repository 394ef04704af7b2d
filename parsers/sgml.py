"""Full submission text files: the SGML header and the ownership XML document.

``parse_submission`` reads both layouts EDGAR serves: the ``.txt`` of
``Archives/edgar/data/{cik}/{accession}.txt`` (``<SEC-HEADER>`` with ``KEY:<tab>value`` lines)
and the EDGAR feed ``.nc`` layout (one ``<TAG>value`` per header field). It works on bytes with
compiled patterns and never decodes the whole file. Pure: bytes in, ``Submission`` out.
Neighbours: ``parsers.ownership`` parses the XML returned here; ``parsers.index`` lists the
submissions of a day.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from form4.parsers.errors import ParseError
from form4.parsers.records import Submission, SubmissionHeader

__all__ = ["OWNERSHIP_FORMS", "parse_submission"]

OWNERSHIP_FORMS = frozenset({b"3", b"3/A", b"4", b"4/A", b"5", b"5/A"})
DEFAULT_MAX_BYTES = 50 * 1024 * 1024

_HEADER_FIELDS = {
    "accession": (rb"^ACCESSION NUMBER:\s*(\S+)", rb"<ACCESSION-NUMBER>\s*([^<\r\n]+)"),
    "form_type": (rb"^CONFORMED SUBMISSION TYPE:\s*([^\r\n]+?)\s*$", rb"<TYPE>\s*([^<\r\n]+)"),
    "filed": (rb"^FILED AS OF DATE:\s*(\d{8})", rb"<FILING-DATE>\s*(\d{8})"),
    "period": (rb"^CONFORMED PERIOD OF REPORT:\s*(\d{8})", rb"<PERIOD>\s*(\d{8})"),
    "accepted": (rb"<ACCEPTANCE-DATETIME>\s*(\d{14})", rb"<ACCEPTANCE-DATETIME>\s*(\d{14})"),
}
_PATTERNS = {
    key: tuple(re.compile(p, re.MULTILINE) for p in pats) for key, pats in _HEADER_FIELDS.items()
}
_DOC_TYPE = re.compile(rb"<TYPE>\s*([^<\r\n]+)")
_DOC_END = b"</DOCUMENT>"


# The .txt layout's header lines, found with bytes.find (memchr speed) before any pattern runs.
_LINE_KEYS = {
    "accession": b"\nACCESSION NUMBER:",
    "form_type": b"\nCONFORMED SUBMISSION TYPE:",
    "filed": b"\nFILED AS OF DATE:",
    "period": b"\nCONFORMED PERIOD OF REPORT:",
}
_LINE_VALUE = {
    "accession": re.compile(rb"[ \t]*(\S+)"),
    "form_type": re.compile(rb"[ \t]*([^\r\n]+?)[ \t\r]*$", re.MULTILINE),
    "filed": re.compile(rb"[ \t]*(\d{8})"),
    "period": re.compile(rb"[ \t]*(\d{8})"),
}


def _field(head: bytes, key: str) -> str | None:
    marker = _LINE_KEYS.get(key)
    if marker is not None:  # fast path: the field's line, read where it is
        at = head.find(marker)
        if at != -1:
            match = _LINE_VALUE[key].match(head, at + len(marker))
            if match is not None:
                value = match.group(1).strip().decode("latin-1")
                if value:
                    return value
    for pattern in _PATTERNS[key]:
        match = pattern.search(head)
        if match is not None:
            value = match.group(1).strip().decode("latin-1")
            if value:
                return value
    return None


def _ymd(text: str | None, what: str) -> date | None:
    """``YYYYMMDD`` (eight digits, as the patterns capture them); None when absent;
    ``ParseError`` when the digits are not a date of the calendar (``00000000``, ``20260230``)."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:8])  # the ISO basic format, parsed in C
    except ValueError:
        raise ParseError(f"{what} {text!r} is not a date", stage="sgml") from None


def _accepted(text: str | None) -> datetime | None:
    """``YYYYMMDDhhmmss`` (fourteen digits); None when absent; ``ParseError`` when the digits
    are not a date and time."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(f"{text[:8]}T{text[8:14]}")
    except ValueError:
        raise ParseError(f"ACCEPTANCE-DATETIME {text!r} is not a time", stage="sgml") from None


def _header_block(data: bytes) -> bytes:
    """The header: up to ``</SEC-HEADER>``, or up to the first ``<DOCUMENT>`` (feed layout).
    The header precedes the first document, so only the .txt layout's end tag is looked for
    beyond it (it comes first there); anything else is searched before the first document."""
    at = data.find(b"</SEC-HEADER>")
    if at != -1:
        return data[:at]
    first = data.find(b"<DOCUMENT>")
    stop = first if first != -1 else min(len(data), 65536)
    at = data.find(b"</IMS-HEADER>", 0, stop)
    return data[: at if at != -1 else stop]


def _ownership_xml(data: bytes) -> bytes:
    """The ``<XML>`` body of the ownership document (3/4/5 and amendments).

    Positions are searched within ``data`` so each document is scanned about once: the part
    before its ``<XML>``, then on to ``</DOCUMENT>``; ``</XML>`` is found backwards from there."""
    fallback: bytes | None = None
    pos = 0
    while True:
        start = data.find(b"<DOCUMENT>", pos)
        if start == -1:
            break
        xml_start = data.find(b"<XML>", start)
        closes = data.find(_DOC_END, start, xml_start if xml_start != -1 else len(data))
        if xml_start == -1 or closes != -1:  # this document has no XML: go to the next one
            if closes == -1:
                raise ParseError("truncated submission: a <DOCUMENT> never closes", stage="sgml")
            pos = closes + len(_DOC_END)
            continue
        end = data.find(_DOC_END, xml_start)
        if end == -1:
            raise ParseError("truncated submission: a <DOCUMENT> never closes", stage="sgml")
        xml_end = data.rfind(b"</XML>", xml_start, end)  # a few bytes before `end`
        if xml_end == -1:
            raise ParseError("truncated submission: <XML> never closes", stage="sgml")
        pos = end + len(_DOC_END)
        body = data[xml_start + 5 : xml_end].strip()
        doc_type = _DOC_TYPE.search(data, start, xml_start)
        if doc_type is not None and doc_type.group(1).strip().upper() in OWNERSHIP_FORMS:
            return body
        if fallback is None and b"ownershipDocument" in body[:4096]:
            fallback = body
    if fallback is not None:
        return fallback
    raise ParseError("no ownership XML document in the submission", stage="sgml")


# The top of an EDGAR .txt header, read in one match: the acceptance time, then the lines
# every ownership filing has, in EDGAR's order. Whatever differs goes field by field.
_TOP = re.compile(
    rb"<ACCEPTANCE-DATETIME>(\d{14})[ \t\r]*\n"
    rb"ACCESSION NUMBER:[ \t]*(\S+)[ \t\r]*\n"
    rb"CONFORMED SUBMISSION TYPE:[ \t]*([^\r\n]+?)[ \t\r]*\n"
    rb"PUBLIC DOCUMENT COUNT:[^\n]*\n"
    rb"(?:CONFORMED PERIOD OF REPORT:[ \t]*(\d{8})[ \t\r]*\n)?"
    rb"FILED AS OF DATE:[ \t]*(\d{8})"
)
_MARKER_LINE = re.compile(
    rb"\n(?:ACCESSION NUMBER|CONFORMED SUBMISSION TYPE|CONFORMED PERIOD OF REPORT"
    rb"|FILED AS OF DATE):"
)


# (accession, form type, filing date, period, acceptance time) as header text
_Fields = tuple[str | None, str | None, str | None, str | None, str | None]


def _fields_at_top(head: bytes) -> _Fields | None:
    """The fields from the top of a .txt header in one match, or None if it is laid out
    otherwise. Each is then the first of its lines, as field by field: no marker line comes
    before the acceptance time, and the matched lines follow it."""
    at = head.find(b"<ACCEPTANCE-DATETIME>")
    top = _TOP.match(head, at) if 0 <= at < 512 else None
    if top is None or _MARKER_LINE.search(head, 0, at) is not None:
        return None
    accepted, accession, form_type, period, filed = top.groups()
    return (
        accession.decode("latin-1"),
        form_type.strip().decode("latin-1") or _field(head, "form_type"),
        filed.decode("latin-1"),
        # a period line elsewhere in the header counts, as field by field
        period.decode("latin-1") if period else _field(head, "period"),
        accepted.decode("latin-1"),
    )


def _fields_one_by_one(head: bytes) -> _Fields:
    return (
        _field(head, "accession"),
        _field(head, "form_type"),
        _field(head, "filed"),
        _field(head, "period"),
        _field(head, "accepted"),
    )


def _header(head: bytes) -> SubmissionHeader:
    """The header fields: each is the first of its lines (or tags) in the header."""
    accession, form_type, filed, period, accepted = _fields_at_top(head) or _fields_one_by_one(head)
    if accession is None:
        raise ParseError("no accession number in the submission header", stage="sgml")
    if form_type is None:
        raise ParseError("no submission type in the submission header", stage="sgml")
    return SubmissionHeader(
        accession_number=accession,
        form_type=form_type.upper(),
        filing_date=_ymd(filed, "FILED AS OF DATE"),
        accepted_at=_accepted(accepted),
        period_of_report=_ymd(period, "CONFORMED PERIOD OF REPORT"),
    )


def parse_submission(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Submission:
    """The header and ownership XML of a full submission (``.txt`` or feed ``.nc``)."""
    if len(data) > max_bytes:
        raise ParseError(
            f"submission of {len(data)} bytes is over the {max_bytes}-byte limit", stage="sgml"
        )
    return Submission(header=_header(_header_block(data)), xml=_ownership_xml(data))
