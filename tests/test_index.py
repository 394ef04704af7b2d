"""EDGAR index files: fixed-width rows read right, each filing kept once."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from form4.parsers.errors import ParseError
from form4.parsers.index import ownership_entries, parse_index


def test_the_real_daily_form_index_yields_every_distinct_form4_once(corpus: Path) -> None:
    """Guards against a filing fetched once per CIK listed (issuer and each owner)."""
    data = (corpus / "index/form.20200318.idx").read_bytes()
    entries = parse_index(data)
    rows = [
        line
        for line in data.decode("latin-1").splitlines()
        if re.match(r"edgar/data", line.split()[-1] if line.split() else "")
    ]
    assert len(entries) == len(rows)
    # an independent count: accession numbers on lines whose first column is exactly "4"
    expected = {
        m.group(1)
        for line in data.decode("latin-1").splitlines()
        if line[:12].strip() == "4"
        for m in [re.search(r"(\d{10}-\d{2}-\d{6})\.txt", line)]
        if m
    }
    form4 = ownership_entries(entries, ["4"])
    assert len(form4) == len(expected) == 974
    assert {e.accession_number for e in form4} == expected
    first = form4[0]
    assert first.form_type == "4" and first.date_filed == date(2020, 3, 18)
    assert first.cik == "0001770787" and first.company_name == "10x Genomics, Inc."
    assert first.filename == "edgar/data/1770787/0000899243-20-008928.txt"


def test_form_types_with_spaces_and_amendments_are_read_whole(corpus: Path) -> None:
    """Guards against '1-A POS' or '4/A' being cut at the first space or slash."""
    entries = parse_index((corpus / "index/form.20200318.idx").read_bytes())
    types = {e.form_type for e in entries}
    assert {"1-A POS", "4/A", "SC 13G/A"} <= types
    amendments = ownership_entries(entries, ["4/A"])
    assert amendments and all(e.form_type == "4/A" for e in amendments)


def test_the_company_layout_with_a_two_line_header_is_read(corpus: Path) -> None:
    """Guards against the company index (name first, header split over two lines) failing."""
    entries = parse_index((corpus / "index/company.20221003.idx").read_bytes())
    assert entries[0].company_name == "1st stREIT Office Inc."
    assert entries[0].form_type == "1-A POS"
    assert entries[0].cik == "0001700461"
    lines = (corpus / "index/company.20221003.idx").read_bytes().decode("latin-1").splitlines()
    dates = [re.search(r"\s(\d{8})\s+edgar/", line) for line in lines]
    filed = [m.group(1) for m in dates if m]
    assert [e.date_filed.strftime("%Y%m%d") for e in entries] == filed
    assert len(entries) == len(filed) > 4000


def test_quarterly_index_dates_with_dashes_are_read(corpus: Path) -> None:
    """Guards against the full-index layout (YYYY-MM-DD dates) being refused."""
    entries = parse_index((corpus / "index/form.2021QTR1-excerpt.idx").read_bytes())
    assert entries[0].date_filed == date(2021, 2, 5)
    assert entries[-1].company_name == "UOB GLOBAL EQUITY SALES LLC"


def test_a_header_only_index_has_no_entries(corpus: Path) -> None:
    """Guards against an empty day being treated as an error."""
    assert parse_index((corpus / "index/empty-form.idx").read_bytes()) == []


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>Request Rate Threshold Exceeded</body></html>",
        b'<?xml version="1.0"?><Error><Code>NoSuchKey</Code></Error>',
        b"",
    ],
)
def test_something_that_is_not_an_index_is_refused(body: bytes) -> None:
    """Guards against a block page or S3 error parsed as a day with no filings."""
    with pytest.raises(ParseError) as info:
        parse_index(body)
    assert info.value.stage == "index"


def test_a_garbled_row_is_refused_with_its_line_number(corpus: Path) -> None:
    """Guards against silently skipping rows the parser does not understand."""
    data = (
        corpus / "index/form.2021QTR1-excerpt.idx"
    ).read_bytes() + b"\n4           garbage row\n"
    with pytest.raises(ParseError, match="line"):
        parse_index(data)


def test_dedup_keeps_the_first_row_and_filters_forms() -> None:
    """Guards against duplicate accessions or other forms slipping into the fetch list."""
    header = (
        b"Form Type   Company Name"
        + b" " * 54
        + b"CIK         Date Filed  File Name\n"
        + b"-" * 80
        + b"\n"
    )
    rows = [
        ("4", "Issuer Inc", "1750", "0001127602-25-001055"),
        ("4", "Owner Jane", "1806647", "0001127602-25-001055"),
        ("10-K", "Issuer Inc", "1750", "0000001750-25-000001"),
        ("4/A", "Issuer Inc", "1750", "0001127602-25-001056"),
    ]
    body = b"".join(
        f"{f:<12}{n:<62}{c:<12}{'20250110':<12}edgar/data/{c}/{a}.txt\n".encode()
        for f, n, c, a in rows
    )
    entries = parse_index(header + body)
    kept = ownership_entries(entries, ("4", "4/A"))
    assert [(e.accession_number, e.company_name) for e in kept] == [
        ("0001127602-25-001055", "Issuer Inc"),
        ("0001127602-25-001056", "Issuer Inc"),
    ]
