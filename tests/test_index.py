"""EDGAR index files: fixed-width rows read right, each filing kept once."""

from __future__ import annotations

import json
import re
import time
from datetime import date
from pathlib import Path

import pytest

from form4.parsers.errors import ParseError
from form4.parsers.index import ownership_entries, parse_index, read_index
from form4.parsers.submissions import read_submissions_json


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


def test_a_garbled_row_is_recorded_with_its_line_number_and_the_rest_is_read(
    corpus: Path,
) -> None:
    """Guards against one unreadable line failing the whole index (and the day) on every run,
    or being skipped without a trace."""
    good = (corpus / "index/form.2021QTR1-excerpt.idx").read_bytes()
    data = good + b"\n4           garbage row\n"
    entries, problems = read_index(data)
    assert entries == parse_index(good)
    assert [p.line for p in problems] == ["4           garbage row"]
    assert problems[0].line_no == len(data.decode("latin-1").splitlines())
    assert "layout" in problems[0].problem


HEADER = (
    b"Form Type   Company Name"
    + b" " * 54
    + b"CIK         Date Filed  File Name\n"
    + b"-" * 80
    + b"\n"
)


def _row(form: str, name: str, cik: str, filed: str, filename: str) -> bytes:
    return f"{form:<12}{name:<62}{cik:<12}{filed:<12}{filename}\n".encode()


GOOD_ROW = _row("4", "Issuer Inc", "1750", "20250110", "edgar/data/1750/0001127602-25-001055.txt")


@pytest.mark.parametrize(
    ("row", "why"),
    [
        (_row("4", "No Accession", "1750", "20250110", "edgar/data/1750/notes.txt"), "accession"),
        (_row("4", "Bad Cik", "12345678901", "20250110", "edgar/data/1/0001-x.txt"), "CIK"),
        (
            _row("4", "Letters", "17a0", "20250110", "edgar/data/1750/0001127602-25-000001.txt"),
            "CIK",
        ),
        (
            _row("4", "Bad Date", "1750", "20250230", "edgar/data/1750/0001127602-25-000002.txt"),
            "date",
        ),
        (
            _row("4", "Traversal", "1750", "20250110", "edgar/data/../../0001127602-25-000003.txt"),
            "edgar/data/{cik}/{accession}.txt",
        ),
        (
            _row("4", "Other Folder", "1750", "20250110", "edgar/data/99/0001127602-25-000004.txt"),
            "folder",
        ),
        (
            _row("4", "Query", "1750", "20250110", "edgar/data/1750/0001127602-25-000005.txt?x=1"),
            "edgar/data/{cik}/{accession}.txt",
        ),
    ],
    ids=[
        "no-accession",
        "11-digit-cik",
        "letters-in-cik",
        "impossible-date",
        "traversal",
        "other-folder",
        "query",
    ],  # fmt: skip
)
def test_each_kind_of_unreadable_line_is_a_problem_and_good_lines_still_load(
    row: bytes, why: str
) -> None:
    """Guards against a hostile index line becoming a fetch outside edgar/data/{cik}/, or
    stopping the day."""
    entries, problems = read_index(HEADER + GOOD_ROW + row + GOOD_ROW.replace(b"055", b"056"))
    assert [e.accession_number for e in entries] == ["0001127602-25-001055", "0001127602-25-001056"]
    assert len(problems) == 1 and why in problems[0].problem, problems
    assert problems[0].line_no == 4


def test_index_lines_are_read_in_linear_time_even_a_megabyte_of_padding() -> None:
    """Guards against the backtracking pattern that took 8 s for a 40k-character line (hours
    for a megabyte): work must grow with the input, not its square."""

    def cost(width: int) -> float:
        padded = b"4           Padded" + b" " * width + b"1750 20250110 nowhere\n"
        data = HEADER + GOOD_ROW + padded * 4
        started = time.process_time()
        entries, problems = read_index(data)
        spent = time.process_time() - started
        assert len(entries) == 1 and len(problems) == 4
        assert problems[0].line_length == len(padded) - 1 and len(problems[0].line) == 300
        return spent

    cost(1000)  # warm up
    small, large = cost(100_000), cost(1_000_000)
    assert large < 1.0, large  # the quadratic reader needed hours here
    assert large < 30 * max(small, 1e-4), (small, large)


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


def test_submissions_json_rows_that_are_not_filings_are_skipped_never_made_into_paths() -> None:
    """Guards against a hostile accession number in data.sec.gov's JSON becoming a path
    outside edgar/data/{cik}/, or one bad date failing a whole CIK backfill."""
    doc = {
        "name": "Issuer Inc",
        "filings": {
            "recent": {
                "accessionNumber": [
                    "0002900002-26-000099",
                    "../../../etc/passwd",
                    "0002900002-26-000100",
                ],
                "form": ["4", "4", "4"],
                "filingDate": ["2026-02-03", "2026-02-03", "2026-02-30"],
            }
        },
    }
    entries, pages, problems = read_submissions_json(
        json.dumps(doc).encode(), cik="2900002", forms=("4",)
    )
    assert [e.filename for e in entries] == ["edgar/data/2900002/0002900002-26-000099.txt"]
    assert pages == []
    assert [(p.line_no, p.problem.split()[0]) for p in problems] == [
        (2, "accessionNumber"),
        (3, "filingDate"),
    ]
