"""The 329 real filings of ``../shared/corpus/real/`` (and the older corpus) end to end.

``form4 ingest`` runs as a user runs it (a subprocess, real Prefect) against a loopback EDGAR
serving one day that holds every corpus filing: the bare ``<ownershipDocument>`` files are
wrapped in a submission text header naming their issuer and owners, as EDGAR serves them. The
warehouse it leaves must equal what the parsers give for the same bytes, row for row and
column for column. Also here: every real filing's schema version is a known one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from form4.parsers.ownership import SCHEMA_VERSIONS, is_known_schema_version, parse_ownership
from form4.parsers.records import ParsedFiling
from form4.parsers.sgml import parse_submission
from form4.warehouse.schema import TABLES
from tests.conftest import corpus_dir, corpus_files
from tests.edgar_server import FaultyEdgar
from tests.edgar_tree import build_day, read_header
from tests.test_cli import env, run  # noqa: F401  (env is a fixture)

DAY = date(2026, 3, 2)
FORMS = "3,3/A,4,4/A,5,5/A"
REAL = corpus_files("real/xml", "*.xml") + corpus_files("real/txt", "*.txt")
# A real filing with its range footnote mistyped as one issuer's was ("$1,1140.890"): the
# rows it annotates must lose their range and be counted, not published.
TYPO = ("0001127602-17-024628", b"$169.07 to $169.89", b"$1,139.920 to $1,1140.890")
_ACCESSION = re.compile(r"^\d{10}-\d{2}-\d{6}$")


def _first(pattern: bytes, xml: bytes) -> str:
    found = re.search(pattern, xml)
    assert found is not None, pattern
    return found.group(1).decode().strip()


def wrap(xml: bytes, accession: str, day: date) -> bytes:
    """A full submission text file around a bare ownership document, its header naming the
    form, the filing date and the CIK of the issuer and of every reporting owner."""
    form = _first(rb"<documentType>\s*([^<]+?)\s*</documentType>", xml)
    owners = re.findall(rb"<rptOwnerCik>\s*(\d+)\s*</rptOwnerCik>", xml)
    issuer = _first(rb"<issuerCik>\s*(\d+)\s*</issuerCik>", xml)
    sections = [
        f"REPORTING-OWNER:\n\n\tOWNER DATA:\n\t\tCOMPANY CONFORMED NAME:\t\t\tOWNER {int(cik)}\n"
        f"\t\tCENTRAL INDEX KEY:\t\t\t{int(cik):010d}\n\n"
        for cik in dict.fromkeys(owners)
    ]
    sections.append(
        f"ISSUER:\n\n\tCOMPANY DATA:\n\t\tCOMPANY CONFORMED NAME:\t\t\tISSUER {int(issuer)}\n"
        f"\t\tCENTRAL INDEX KEY:\t\t\t{int(issuer):010d}\n"
    )
    header = (
        f"<SEC-DOCUMENT>{accession}.txt : {day:%Y%m%d}\n<SEC-HEADER>{accession}.hdr.sgml : "
        f"{day:%Y%m%d}\n<ACCEPTANCE-DATETIME>{day:%Y%m%d}170000\nACCESSION NUMBER:\t\t"
        f"{accession}\nCONFORMED SUBMISSION TYPE:\t{form}\nPUBLIC DOCUMENT COUNT:\t\t1\n"
        f"FILED AS OF DATE:\t\t{day:%Y%m%d}\n\n" + "".join(sections) + "</SEC-HEADER>\n"
        f"<DOCUMENT>\n<TYPE>{form}\n<SEQUENCE>1\n<FILENAME>doc.xml\n<TEXT>\n<XML>\n"
    )
    return header.encode() + xml.strip() + b"\n</XML>\n</TEXT>\n</DOCUMENT>\n</SEC-DOCUMENT>\n"


def corpus_day() -> list[bytes]:
    """Every corpus ownership filing as a submission: the real and older submission files as
    they are, each bare XML document (and each feed file's) wrapped, with a made-up accession
    where its file name is none."""
    root = corpus_dir()
    subs = [p.read_bytes() for p in sorted([*root.glob("real/txt/*.txt"), *root.glob("txt/*.txt")])]
    for path in sorted(root.glob("feed/*.nc")):  # the feed layout, served as a .txt
        feed = parse_submission(path.read_bytes())
        subs.append(wrap(feed.xml, feed.header.accession_number, DAY))
    made_up = 0
    for path in sorted([*root.glob("real/xml/*.xml"), *root.glob("xml/*.xml")]):
        xml = path.read_bytes()
        accession = path.stem
        if not _ACCESSION.match(accession):
            made_up += 1
            accession = f"0009000000-26-{made_up:06d}"
        if accession == TYPO[0]:
            assert TYPO[1] in xml
            xml = xml.replace(TYPO[1], TYPO[2])
        subs.append(wrap(xml, accession, DAY))
    return subs


def direct_parse(subs: list[bytes]) -> list[ParsedFiling]:
    filings = []
    for data in subs:
        submission = parse_submission(data)
        filings.append(ParsedFiling(submission.header, parse_ownership(submission.xml)))
    return filings


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, Decimal):
        return value.normalize()
    return value


@pytest.fixture
def server() -> Iterator[FaultyEdgar]:
    with FaultyEdgar(build_day(DAY, corpus_day())) as srv:
        yield srv


def test_every_real_filings_schema_version_is_a_known_one_for_its_form(corpus: Path) -> None:
    """Guards against real Forms 3 (X0204-X0206) counted as "a schema version form4 does not
    know yet", and against a version list that names no form."""
    assert REAL
    seen: set[tuple[str, str]] = set()
    for path in REAL:
        data = path.read_bytes()
        doc = parse_ownership(data if path.suffix == ".xml" else parse_submission(data).xml)
        form = doc.document_type.removesuffix("/A")
        assert doc.schema_version in SCHEMA_VERSIONS[form], (path.name, doc.schema_version)
        assert is_known_schema_version(doc.document_type, doc.schema_version)
        seen.add((form, doc.schema_version or ""))
    assert {v for f, v in seen if f == "3"} >= {"X0203", "X0204", "X0206"}
    assert {v for f, v in seen if f == "4"} >= {"X0303", "X0306", "X0407", "X0508"}
    assert not is_known_schema_version("3", "X0306")  # a Form 4 series version on a Form 3
    assert is_known_schema_version("4/A", "X0609") and not is_known_schema_version("4", "X0710")


def test_form4_ingest_of_a_day_holding_every_corpus_filing_equals_the_direct_parse(
    server: FaultyEdgar,
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    """Guards against anything between the parser and the warehouse (fetch, raw store, Arrow
    batches, loads, amendments) changing, dropping or duplicating a real filing's rows, and
    against an unusable price range going uncounted."""
    subs = corpus_day()
    expected = direct_parse(subs)
    assert len(expected) >= 329 + 8 and len({f.header.accession_number for f in expected}) == len(
        expected
    )
    env.update(
        SEC_USER_AGENT="form4 tests tests@form4.example",
        FORM4_MAX_RPS="1000",
        FORM4_BATCH_SIZE="50",
    )
    db = tmp_path / "corpus.duckdb"
    args = ["ingest", "--date", DAY.isoformat(), "--forms", FORMS, "--db", str(db)]
    result = run([*args, "--edgar-url", server.base_url], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"{len(expected)} loaded, 0 rejected, 0 failed" in result.stdout
    unusable = sum(t.price_range_unusable for f in expected for t in f.document.transactions)
    assert unusable >= 1
    assert f"{unusable} transaction rows: price range not usable" in result.stdout
    assert "does not know yet" not in result.stdout  # every version is known

    con = duckdb.connect(str(db), read_only=True)
    try:
        for table, records in (
            ("transactions", [(f, t) for f in expected for t in f.document.transactions]),
            ("holdings", [(f, h) for f in expected for h in f.document.holdings]),
            ("reporting_owners", [(f, o) for f in expected for o in f.document.reporting_owners]),
            ("footnotes", [(f, n) for f in expected for n in f.document.footnotes]),
        ):
            own = [
                c.name
                for c in TABLES[table]
                if c.name not in ("accession_number", "issuer_cik", "filing_date")
            ]
            want = sorted(
                (
                    f.header.accession_number,
                    *(_cell(getattr(rec, c)) for c in own),
                    f.document.issuer.cik,
                    f.header.filing_date,
                )
                for f, rec in records
            )
            select = ", ".join(["accession_number", *own, "issuer_cik", "filing_date"])
            got = sorted(
                tuple(_cell(v) for v in row)
                for row in con.execute(f"SELECT {select} FROM {table}").fetchall()
            )
            assert len(got) == len(want), table
            assert got == want, table
        filings = con.execute(
            "SELECT accession_number, form_type, schema_version, issuer_cik FROM filings"
        ).fetchall()
        assert sorted(filings) == sorted(
            (
                f.header.accession_number,
                f.header.form_type,
                f.document.schema_version,
                f.document.issuer.cik,
            )
            for f in expected
        )
        reasons = con.execute(
            "SELECT sale_reason, count(*) FROM transactions WHERE transaction_code = 'S' "
            "GROUP BY ALL"
        ).fetchall()
        assert dict(reasons).get("discretionary", 0) > 300
    finally:
        con.close()
    assert {read_header(s).accession for s in subs} == {f[0] for f in filings}
    # form4 reprocess re-parses the kept copies and counts the same unusable ranges
    again = run(["reprocess", "--db", str(db)], env, tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"reprocessed {len(expected)} stored filings: {len(expected)} loaded" in again.stdout
    assert f"{unusable} transaction rows: price range not usable" in again.stdout
    assert "does not know yet" not in again.stdout
