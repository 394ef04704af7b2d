"""Full submission text files: header fields and the ownership XML, or a clear ParseError."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import pytest

from form4.parsers import sgml
from form4.parsers.errors import ParseError
from form4.parsers.sgml import parse_submission
from tests.conftest import corpus_files

SUBMISSIONS = corpus_files("txt", "*.txt") + corpus_files("feed", "*.nc")


@pytest.mark.parametrize("path", SUBMISSIONS, ids=lambda p: p.name)
def test_every_corpus_submission_yields_its_accession_and_ownership_xml(
    path: Path, corpus: Path
) -> None:
    """Guards against the header or the XML being missed in either layout (.txt or feed .nc)."""
    sub = parse_submission(path.read_bytes())
    assert sub.header.accession_number == path.stem
    assert sub.header.form_type == "4"
    assert sub.xml.startswith(b"<?xml") or sub.xml.startswith(b"<ownershipDocument")
    assert sub.xml.rstrip().endswith(b"</ownershipDocument>")


def test_the_txt_header_gives_dates_and_the_acceptance_time(corpus: Path) -> None:
    """Guards against filing date or acceptance time read from the wrong header line."""
    header = parse_submission((corpus / "txt/0001127602-25-001055.txt").read_bytes()).header
    assert header.filing_date == date(2025, 1, 10)
    assert header.accepted_at == datetime(2025, 1, 10, 16, 7, 30)
    assert header.period_of_report == date(2025, 1, 10)


def test_the_feed_layout_header_is_read_tag_by_tag(corpus: Path) -> None:
    """Guards against the one-tag-per-field .nc header being ignored."""
    header = parse_submission((corpus / "feed/0001562180-25-000280.nc").read_bytes()).header
    assert header.accession_number == "0001562180-25-000280"
    assert header.filing_date == date(2025, 1, 8)
    assert header.period_of_report == date(2025, 1, 6)
    assert header.accepted_at is None


def test_a_document_that_never_closes_is_a_truncated_submission(corpus: Path) -> None:
    """Guards against parsing half a filing as if it were whole."""
    data = (corpus / "txt/0001127602-25-001055.txt").read_bytes()
    cut = data[: data.index(b"</XML>") - 200]
    with pytest.raises(ParseError, match="truncated") as info:
        parse_submission(cut)
    assert info.value.stage == "sgml"


def test_a_submission_without_ownership_xml_is_refused(corpus: Path) -> None:
    """Guards against a 10-K or an HTML page loaded as an empty ownership filing."""
    data = (corpus / "txt/0001127602-25-001055.txt").read_bytes()
    head = data[: data.index(b"<DOCUMENT>")]
    other = head + b"<DOCUMENT>\n<TYPE>EX-99\n<TEXT>\nhello\n</TEXT>\n</DOCUMENT>\n"
    with pytest.raises(ParseError, match="no ownership XML"):
        parse_submission(other)
    with pytest.raises(ParseError, match="accession"):
        parse_submission(b"<html>Request Rate Threshold Exceeded</html>")


def test_an_oversized_submission_is_refused_before_any_work(corpus: Path) -> None:
    """Guards against unbounded memory on a huge or hostile document."""
    data = (corpus / "txt/0001127602-25-001055.txt").read_bytes()
    with pytest.raises(ParseError, match="limit"):
        parse_submission(data, max_bytes=len(data) - 1)
    assert parse_submission(data, max_bytes=len(data)).header.form_type == "4"


SAMPLES = Path(__file__).resolve().parent.parent / "flows" / "sample_data"
TXT = corpus_files("txt", "*.txt") + sorted(SAMPLES.rglob("*.txt"))


def _variants(head: bytes) -> list[bytes]:
    """The header as filed, and laid out in ways the one-match reading must leave to the
    field-by-field one or read the same: no period line, the period after the filing date, a
    marker line before the acceptance time, padded or empty values, CRLF line ends."""
    period = re.search(rb"CONFORMED PERIOD OF REPORT:[^\n]*\n", head)
    assert period is not None
    without = head.replace(period.group(), b"")
    return [
        head,
        without,
        without.replace(b"DATE AS OF CHANGE:", period.group() + b"DATE AS OF CHANGE:"),
        head.replace(
            b"<ACCEPTANCE-DATETIME>", b"\nFILED AS OF DATE:\t20010101\n<ACCEPTANCE-DATETIME>"
        ),
        head.replace(b"CONFORMED SUBMISSION TYPE:\t", b"CONFORMED SUBMISSION TYPE:\t   "),
        re.sub(rb"CONFORMED SUBMISSION TYPE:[^\n]*", b"CONFORMED SUBMISSION TYPE:  ", head),
        head.replace(b"\n", b"\r\n"),
        head.replace(b"<ACCEPTANCE-DATETIME>", b"<ACCEPTANCE-DATETIME> "),
    ]


@pytest.mark.parametrize("path", TXT, ids=lambda p: p.name)
def test_the_one_match_header_reading_agrees_with_field_by_field(path: Path, corpus: Path) -> None:
    """Guards the fast path of the .txt header against reading any field differently from
    the field-by-field reading it replaces (first line of each marker), and checks that real
    headers do take it."""
    head = sgml._header_block(path.read_bytes())
    assert sgml._fields_at_top(head) is not None  # EDGAR's layout takes the one match
    for variant in _variants(head):
        fast = sgml._fields_at_top(variant)
        assert fast is None or fast == sgml._fields_one_by_one(variant), variant[:400]
