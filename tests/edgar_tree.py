"""Build EDGAR-shaped trees for the loopback servers: a day's form index plus its submissions.

``build_day(day, submissions)`` reads the SGML header of each full submission text file
(accession, form type, the CIK and conformed name of every REPORTING-OWNER, ISSUER, FILER and
SUBJECT COMPANY) and returns ``{url path without leading slash: bytes}`` holding the fixed-width
``form.YYYYMMDD.idx`` (one row per filing per CIK involved, as EDGAR lists them) and the
``.txt`` under every one of those CIK folders. ``clone_submission`` rewrites the accession and
filing date of a template so one real filing becomes many for a synthetic day;
``synthetic_day`` does that in bulk; ``write_tree`` puts a mapping on disk;
``tree_day_index`` indexes the submissions of a directory tree filed on a given day, and
``python -m tests.edgar_tree flows/sample_data 2026-02-02 2026-02-03`` rewrites the bundled
sample day's ``.idx`` files from its ``.txt`` files.

Standard library only. Neighbours: ``flows/cli/mirror.py`` serves these mappings (or the directory
``write_tree`` made), ``tests/edgar_server.py`` adds faults, ``tests/test_sample_data.py``
checks the bundled ``flows/sample_data`` day against the same index layout.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

__all__ = [
    "Entity",
    "HeaderFacts",
    "IndexRow",
    "build_day",
    "clone_submission",
    "daily_index_key",
    "form_index",
    "parse_form_index",
    "read_header",
    "submission_key",
    "synthetic_day",
    "tree_day_index",
    "write_tree",
]

# Column widths of EDGAR's daily form index: Form Type, Company Name, CIK, Date Filed, File Name.
WIDTHS = (12, 62, 12, 12, 52)
NAME_MAX = 60  # EDGAR cuts conformed names to 60 characters in the index
COLUMN_HEADER = (
    "Form Type".ljust(12)
    + "Company Name".ljust(62)
    + "CIK".ljust(12)
    + "Date Filed".ljust(12)
    + "File Name"
)
DASHES = "-" * 141
ROLES = ("REPORTING-OWNER", "ISSUER", "FILER", "SUBJECT COMPANY", "FILED BY")

_SECTION = re.compile(r"^([A-Z][A-Z -]*):\s*$")
_FIELD = re.compile(r"^\s*([A-Z][A-Z0-9 -]*):\s*(.*?)\s*$")


@dataclass(frozen=True, slots=True)
class Entity:
    """A CIK named in a submission's SGML header, with its role and conformed name."""

    role: str  # "REPORTING-OWNER", "ISSUER", ...
    cik: str  # 10 digits, as the header gives it
    name: str


@dataclass(frozen=True, slots=True)
class HeaderFacts:
    """What the index needs from a submission's SGML header."""

    accession: str
    form_type: str
    filed: date | None
    entities: tuple[Entity, ...]

    @property
    def ciks(self) -> tuple[str, ...]:
        """Distinct CIKs, in header order (owners first, then the issuer)."""
        return tuple(dict.fromkeys(e.cik for e in self.entities))


@dataclass(frozen=True, slots=True)
class IndexRow:
    """One row of a daily form index, as ``parse_form_index`` reads it back."""

    form_type: str
    company_name: str
    cik: str  # as printed: no zero padding
    date_filed: str  # YYYYMMDD
    filename: str  # edgar/data/{cik}/{accession}.txt

    @property
    def accession(self) -> str:
        return self.filename.rsplit("/", 1)[-1].removesuffix(".txt")


def _header_text(submission: bytes) -> str:
    head = submission.split(b"</SEC-HEADER>", 1)[0]
    return head.decode("latin-1")


def read_header(submission: bytes) -> HeaderFacts:
    """Accession, form type, filing date and the CIKs of a full submission text file."""
    accession = form_type = ""
    filed: date | None = None
    entities: list[Entity] = []
    role: str | None = None
    cik = name = ""

    def close_section() -> None:
        if role is not None and cik:
            entities.append(Entity(role, cik, name))

    for line in _header_text(submission).splitlines():
        section = _SECTION.match(line)
        if section is not None and not line[:1].isspace():
            close_section()
            role, cik, name = (section.group(1) if section.group(1) in ROLES else None), "", ""
            continue
        field = _FIELD.match(line)
        if field is None:
            continue
        key, value = field.groups()
        if key == "ACCESSION NUMBER":
            accession = value
        elif key == "CONFORMED SUBMISSION TYPE":
            form_type = value
        elif key == "FILED AS OF DATE":
            filed = datetime.strptime(value, "%Y%m%d").date()
        elif role is not None and key == "CENTRAL INDEX KEY" and not cik:
            cik = value
        elif role is not None and key == "COMPANY CONFORMED NAME" and not name:
            name = value
    close_section()
    if not accession or not form_type:
        raise ValueError("not a full submission text file: no ACCESSION NUMBER or SUBMISSION TYPE")
    return HeaderFacts(accession, form_type, filed, tuple(entities))


def daily_index_key(day: date) -> str:
    """``Archives/edgar/daily-index/2026/QTR1/form.20260202.idx``."""
    quarter = (day.month - 1) // 3 + 1
    return f"Archives/edgar/daily-index/{day.year}/QTR{quarter}/form.{day:%Y%m%d}.idx"


def submission_key(cik: str | int, accession: str) -> str:
    """``Archives/edgar/data/1750/0001127602-25-001055.txt`` (CIK without zero padding)."""
    return f"Archives/edgar/data/{int(cik)}/{accession}.txt"


def form_index(day: date, submissions: Iterable[bytes]) -> bytes:
    """The fixed-width ``form.YYYYMMDD.idx`` for these submissions, all dated ``day``.

    Same layout as EDGAR's: four header lines, four lines holding one space, the column header,
    a line of dashes, then rows sorted by form type and company name, one per CIK involved.
    """
    rows: list[tuple[str, str, str, str]] = []
    for submission in submissions:
        facts = read_header(submission)
        for entity in _distinct_entities(facts):
            rows.append(
                (
                    facts.form_type,
                    entity.name[:NAME_MAX],
                    str(int(entity.cik)),
                    f"edgar/data/{int(entity.cik)}/{facts.accession}.txt",
                )
            )
    lines = [
        "Description:           Daily Index of EDGAR Dissemination Feed by Form Type",
        f"Last Data Received:    {day:%b} {day.day}, {day.year}",
        "Comments:              webmaster@sec.gov",
        "Anonymous FTP:         ftp://ftp.sec.gov/edgar/",
        " ",
        " ",
        " ",
        " ",
        COLUMN_HEADER,
        DASHES,
    ]
    for form_type, name, cik, filename in sorted(set(rows)):
        cells = (form_type, name, cik, f"{day:%Y%m%d}", filename)
        lines.append("".join(c.ljust(w) for c, w in zip(cells, WIDTHS, strict=True)))
    return ("\n".join(lines) + "\n").encode("ascii", "replace")


def parse_form_index(index: bytes) -> list[IndexRow]:
    """Read rows back by column position (the real layout, not whitespace splitting)."""
    text = index.decode("latin-1")
    _, sep, body = text.partition(DASHES + "\n")
    if not sep:
        raise ValueError("no dashes line: not a form index")
    rows: list[IndexRow] = []
    starts = [sum(WIDTHS[:i]) for i in range(len(WIDTHS))]
    for line in body.splitlines():
        if not line.strip():
            continue
        cells = [line[s : s + w].strip() for s, w in zip(starts, WIDTHS, strict=True)]
        cells[-1] = line[starts[-1] :].strip()
        rows.append(IndexRow(*cells))
    return rows


def _distinct_entities(facts: HeaderFacts) -> list[Entity]:
    seen: dict[str, Entity] = {}
    for entity in facts.entities:
        seen.setdefault(entity.cik, entity)
    return list(seen.values())


def build_day(day: date, submissions: Sequence[bytes]) -> dict[str, bytes]:
    """The day's index and every submission under the folder of each CIK it involves."""
    tree: dict[str, bytes] = {daily_index_key(day): form_index(day, submissions)}
    for submission in submissions:
        facts = read_header(submission)
        for cik in facts.ciks:
            tree[submission_key(cik, facts.accession)] = submission
    return tree


def clone_submission(
    template: bytes, *, accession: str, filed: date, accepted: datetime | None = None
) -> bytes:
    """``template`` with a new accession number and filing date (the SGML header only).

    Rewrites ``<SEC-DOCUMENT>``, ``<SEC-HEADER>``, ``<ACCEPTANCE-DATETIME>``, ``ACCESSION
    NUMBER``, ``FILED AS OF DATE`` and ``DATE AS OF CHANGE``; the ownership XML (transaction
    dates, period of report) is left as the template has it.
    """
    if not re.fullmatch(r"\d{10}-\d{2}-\d{6}", accession):
        raise ValueError(f"not an accession number: {accession!r}")
    old = read_header(template).accession.encode()
    when = accepted or datetime(filed.year, filed.month, filed.day, 16, 5, 0)
    stamp = f"{filed:%Y%m%d}".encode()
    head, sep, rest = template.partition(b"</SEC-HEADER>")
    head = head.replace(old, accession.encode())
    head = re.sub(rb"(<SEC-DOCUMENT>\S+ : )\d{8}", rb"\g<1>" + stamp, head)
    head = re.sub(rb"(<SEC-HEADER>\S+ : )\d{8}", rb"\g<1>" + stamp, head)
    head = re.sub(
        rb"<ACCEPTANCE-DATETIME>\d{14}",
        b"<ACCEPTANCE-DATETIME>" + f"{when:%Y%m%d%H%M%S}".encode(),
        head,
    )
    head = re.sub(rb"((?:FILED AS OF DATE|DATE AS OF CHANGE):\s*)\d{8}", rb"\g<1>" + stamp, head)
    return head + sep + rest


def synthetic_day(
    day: date, templates: Sequence[bytes], count: int, *, agent: str = "0009999999"
) -> dict[str, bytes]:
    """A day of ``count`` distinct filings cloned round-robin from ``templates``.

    Accessions are ``{agent}-{yy}-{n:06d}``; the default agent number is beyond any real CIK.
    """
    if not templates:
        raise ValueError("no templates to clone")
    clones = [
        clone_submission(
            templates[n % len(templates)],
            accession=f"{agent}-{day:%y}-{n + 1:06d}",
            filed=day,
        )
        for n in range(count)
    ]
    return build_day(day, clones)


def write_tree(tree: Mapping[str, bytes], root: Path) -> list[Path]:
    """Write a mapping under ``root`` (keys are URL paths); returns the files written."""
    written: list[Path] = []
    base = root.resolve()
    for key, body in sorted(tree.items()):
        target = (base / key.lstrip("/")).resolve()
        if not target.is_relative_to(base):
            raise ValueError(f"path escapes the tree: {key!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        written.append(target)
    return written


def tree_day_index(root: Path, day: date) -> bytes:
    """The form index of every ``.txt`` under ``root/Archives/edgar/data`` filed on ``day``."""
    by_accession: dict[str, bytes] = {}
    for path in sorted((root / "Archives" / "edgar" / "data").glob("*/*.txt")):
        body = path.read_bytes()
        facts = read_header(body)
        if facts.filed == day:
            by_accession.setdefault(facts.accession, body)
    return form_index(day, by_accession.values())


def main(argv: Sequence[str]) -> None:
    """``python -m tests.edgar_tree ROOT DAY...``: (re)write ROOT's daily form indexes."""
    root = Path(argv[0])
    for text in argv[1:]:
        day = date.fromisoformat(text)
        write_tree({daily_index_key(day): tree_day_index(root, day)}, root)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
