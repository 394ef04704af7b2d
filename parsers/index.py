"""EDGAR index files (``form.YYYYMMDD.idx``, ``company.YYYYMMDD.idx``, quarterly ``form.idx``).

``parse_index`` reads the fixed-width layout: it finds the dashes line under the column header,
takes the first column by the header's positions (form type in ``form`` indexes, company name in
``company`` indexes) and the rest from the right with a regular expression, so long names and
form types with spaces ("1-A POS", "SC 13G/A") never shift a column. ``ownership_entries``
keeps the ownership forms asked for, once per accession number (EDGAR lists a filing once per
CIK involved). Pure: bytes in, ``IndexEntry`` records out. Neighbours: ``parsers.sgml`` reads
the submissions these entries point at.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from datetime import date

from form4.parsers.errors import ParseError
from form4.parsers.records import IndexEntry

__all__ = ["ownership_entries", "parse_index"]

_TAIL = re.compile(
    r"^(?P<head>.*?)\s+(?P<cik>\d{1,10})\s+(?P<date>\d{8}|\d{4}-\d{2}-\d{2})\s+"
    r"(?P<file>\S+)\s*$"
)
_ACCESSION = re.compile(r"(\d{10}-\d{2}-\d{6})")


def _date(text: str) -> date:
    if len(text) == 8:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    return date.fromisoformat(text)


def parse_index(data: bytes) -> list[IndexEntry]:
    """Every row of an EDGAR form or company index; ``[]`` for a header-only file."""
    text = data.decode("latin-1")
    lines = text.splitlines()
    dashes = next((i for i, line in enumerate(lines[:40]) if line.startswith("-----")), None)
    if dashes is None:
        raise ParseError("not an EDGAR index: no column header", stage="index")
    header = " ".join(lines[max(0, dashes - 2) : dashes])
    if "Form Type" not in header or "File Name" not in header:
        raise ParseError("not an EDGAR index: unexpected column header", stage="index")
    column_line = next(
        (lines[i] for i in (dashes - 1, dashes - 2) if i >= 0 and "Form Type" in lines[i]), ""
    )
    form_first = column_line.startswith("Form Type")
    split_at = column_line.index("Company Name") if form_first else column_line.index("Form Type")
    entries: list[IndexEntry] = []
    for number, line in enumerate(lines[dashes + 1 :], start=dashes + 2):
        if not line.strip():
            continue
        first, rest = line[:split_at].strip(), line[split_at:]
        match = _TAIL.match(rest)
        if match is None or not first:
            raise ParseError(f"index line {number} is not in the index layout", stage="index")
        second = match["head"].strip()
        form_type, company = (first, second) if form_first else (second, first)
        filename = match["file"]
        accession = _ACCESSION.search(filename.rsplit("/", 1)[-1])
        if accession is None:
            raise ParseError(f"index line {number}: no accession in {filename!r}", stage="index")
        try:
            filed = _date(match["date"])
        except ValueError:
            raise ParseError(
                f"index line {number}: bad date {match['date']!r}", stage="index"
            ) from None
        entries.append(
            IndexEntry(
                form_type=form_type,
                company_name=company,
                cik=match["cik"].zfill(10),
                date_filed=filed,
                filename=filename,
                accession_number=accession.group(1),
            )
        )
    return entries


def ownership_entries(entries: Iterable[IndexEntry], forms: Collection[str]) -> list[IndexEntry]:
    """Entries of the given form types, each accession once (first row seen wins)."""
    wanted = {f.upper() for f in forms}
    seen: set[str] = set()
    out: list[IndexEntry] = []
    for entry in entries:
        if entry.form_type.upper() in wanted and entry.accession_number not in seen:
            seen.add(entry.accession_number)
            out.append(entry)
    return out
