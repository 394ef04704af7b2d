"""data.sec.gov submissions JSON (``CIK##########.json`` and its ``files`` pages) -> entries.

A company's or a person's submissions file lists its recent filings as parallel arrays
(``accessionNumber``, ``form``, ``filingDate``, ...) under ``filings.recent`` and names older
pages under ``filings.files``; each page holds the same arrays at its top level.
``parse_submissions_json`` returns the filings of the wanted forms as ``IndexEntry`` records
(so a CIK backfill runs through the same fetch path as a day's index) and the page names to
fetch next. A row whose accession number is not ``NNNNNNNNNN-NN-NNNNNN`` (a path, a URL) is left
out and described in ``skipped``: it never becomes a file name. Pure. Neighbours:
``parsers.index`` (the same records from daily indexes), ``parsers.identifiers``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

from form4.parsers.errors import ParseError
from form4.parsers.identifiers import is_accession
from form4.parsers.records import IndexEntry, IndexProblem

__all__ = ["parse_submissions_json", "read_submissions_json"]


_COLUMNS = ("accessionNumber", "form", "filingDate")


def _arrays(block: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    columns = [block.get(name) for name in _COLUMNS]
    if not all(isinstance(c, list) for c in columns):
        raise ParseError(
            "submissions JSON without accessionNumber/form/filingDate arrays", stage="index"
        )
    accessions, forms, dates = columns
    assert isinstance(accessions, list) and isinstance(forms, list) and isinstance(dates, list)
    if not len(accessions) == len(forms) == len(dates):
        raise ParseError("submissions JSON arrays of different lengths", stage="index")
    return list(zip(accessions, forms, dates, strict=True))


def parse_submissions_json(
    data: bytes, *, cik: str, forms: Collection[str], skipped: list[str] | None = None
) -> tuple[list[IndexEntry], list[str]]:
    """Entries of ``forms`` listed in one submissions JSON document, and the pages it names.
    Rows that are not a filing are skipped and, when ``skipped`` is given, described there
    (``read_submissions_json`` returns them as records)."""
    entries, pages, problems = read_submissions_json(data, cik=cik, forms=forms)
    if skipped is not None:
        skipped.extend(p.problem for p in problems)
    return entries, pages


def read_submissions_json(
    data: bytes, *, cik: str, forms: Collection[str]
) -> tuple[list[IndexEntry], list[str], list[IndexProblem]]:
    """Entries of ``forms`` listed in one submissions JSON document, the pages it names, and
    its rows of those forms that are not a filing (an accession number that is not one, a
    filing date that is not a date; ``line_no`` is the row's position in the arrays)."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"submissions JSON is not JSON: {exc}", stage="index") from None
    if not isinstance(doc, dict):
        raise ParseError("submissions JSON is not an object", stage="index")
    filings = doc.get("filings")
    if isinstance(filings, dict):  # the main file: recent arrays plus older pages
        block = filings.get("recent") or {}
        pages = [
            str(f["name"])
            for f in filings.get("files") or []
            if isinstance(f, dict) and "name" in f
        ]
    else:  # a page: the arrays at the top level
        block, pages = doc, []
    padded = cik.strip().zfill(10)
    name = str(doc.get("name") or "")
    wanted = {f.upper() for f in forms}
    entries = []
    problems: list[IndexProblem] = []
    for number, (accession, form, filed) in enumerate(_arrays(block), 1):
        form = str(form).upper()
        if form not in wanted:
            continue
        row = f"{accession!r} {form!r} {filed!r}"
        if not is_accession(accession):
            # never a path built from it: skipped, like an index line without an accession
            problem = f"accessionNumber {str(accession)[:40]!r} is not an accession number"
            problems.append(IndexProblem(number, problem, row[:300], len(row)))
            continue
        try:
            day = date.fromisoformat(str(filed)[:10])
        except ValueError:
            problem = f"filingDate {str(filed)[:20]!r} is not a date"
            problems.append(IndexProblem(number, problem, row[:300], len(row)))
            continue
        entries.append(
            IndexEntry(
                form_type=form,
                company_name=name,
                cik=padded,
                date_filed=day,
                filename=f"edgar/data/{int(padded)}/{accession}.txt",
                accession_number=str(accession),
            )
        )
    return entries, pages, problems
