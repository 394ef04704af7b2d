"""EDGAR index files (``form.YYYYMMDD.idx``, ``company.YYYYMMDD.idx``, quarterly ``form.idx``).

``read_index`` reads the fixed-width layout: it finds the dashes line under the column header,
takes the first column by the header's positions (form type in ``form`` indexes, company name in
``company`` indexes) and the rest by splitting from the right, so long names and form types
with spaces ("1-A POS", "SC 13G/A") never shift a column; a line that is not a filing is
returned as an ``IndexProblem`` and skipped, never failing the file (``parse_index`` gives
the entries only). ``ownership_entries``
keeps the ownership forms asked for, once per accession number (EDGAR lists a filing once per
CIK involved). Pure: bytes in, ``IndexEntry`` records out. Neighbours: ``parsers.sgml`` reads
the submissions these entries point at.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from datetime import date

from form4.parsers.errors import ParseError
from form4.parsers.records import IndexEntry, IndexProblem

__all__ = ["ownership_entries", "parse_index", "read_index"]

# The file name of every filing in an EDGAR index: the CIK folder and the accession number.
_FILE = re.compile(r"edgar/data/([0-9]{1,10})/([0-9]{10}-[0-9]{2}-[0-9]{6})\.txt", re.ASCII)
_ACCESSION = re.compile(r"[0-9]{10}-[0-9]{2}-[0-9]{6}", re.ASCII)
_SHOWN = 300  # characters of a bad line kept in its IndexProblem


def _date(text: str) -> date:
    if len(text) == 8 and text.isdigit():
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    if len(text) == 10:
        return date.fromisoformat(text)
    raise ValueError(text)


def parse_index(data: bytes) -> list[IndexEntry]:
    """Every readable row of an EDGAR form or company index; ``[]`` for a header-only file.
    Lines that cannot be read are skipped: ``read_index`` also returns them."""
    return read_index(data)[0]


def read_index(data: bytes) -> tuple[list[IndexEntry], list[IndexProblem]]:
    """Every row of an EDGAR form or company index, and the lines that are not a filing.

    ``ParseError`` only when the file is not an index at all (no column header). A line is a
    problem, skipped, when it has no CIK, date and file name at its end, its CIK is not 1 to
    10 digits, its date is not a date, or its file name is not
    ``edgar/data/{the line's CIK}/{accession}.txt``. Linear in the input: each line is split
    from the right a fixed number of times, never matched by a backtracking pattern.
    """
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
    problems: list[IndexProblem] = []
    for number, line in enumerate(lines[dashes + 1 :], start=dashes + 2):
        if not line.strip():
            continue
        read = _read_line(line, split_at, form_first)
        if isinstance(read, str):
            problems.append(IndexProblem(number, read, line[:_SHOWN], len(line)))
        else:
            entries.append(read)
    return entries, problems


def _read_line(line: str, split_at: int, form_first: bool) -> IndexEntry | str:
    """One index line -> its entry, or why it is not one."""
    first, rest = line[:split_at].strip(), line[split_at:]
    parts = rest.rsplit(None, 3)
    if len(parts) < 3 or not first:
        return "not in the index layout (form type, company name, CIK, date, file name)"
    filename, filed, cik = parts[-1], parts[-2], parts[-3]
    second = parts[0].strip() if len(parts) == 4 else ""
    if not (cik.isdigit() and cik.isascii() and len(cik) <= 10):
        return f"CIK {cik[:20]!r} is not 1 to 10 digits"
    try:
        day = _date(filed)
    except ValueError:
        return f"date {filed[:20]!r} is not a date"
    match = _FILE.fullmatch(filename)
    if match is None:
        if _ACCESSION.search(filename.rsplit("/", 1)[-1]) is None:
            return f"no accession number in the file name {filename[:100]!r}"
        return f"file name {filename[:100]!r} is not edgar/data/{{cik}}/{{accession}}.txt"
    if int(match[1]) != int(cik):
        return f"file name {filename[:100]!r} is not in the folder of the line's CIK {cik}"
    form_type, company = (first, second) if form_first else (second, first)
    if not form_type:
        return "no form type"
    return IndexEntry(
        form_type=form_type,
        company_name=company,
        cik=cik.zfill(10),
        date_filed=day,
        filename=filename,
        accession_number=match[2],
    )


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
