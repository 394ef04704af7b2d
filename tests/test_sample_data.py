"""The bundled sample days (``flows/sample_data``) are self-consistent and EDGAR-shaped.

The ``.txt`` files are the data; the ``.idx`` files are generated from them by
``tests/edgar_tree.py``. These tests check the two agree, that the layout is the real index's
(``../shared/corpus/index/form.20200318.idx``), that ``flows.cli.mirror`` serves every row, and that
the numbers inside the filings add up. Also covers ``edgar_tree``'s cloning for synthetic days.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest

from form4.flows.cli.mirror import EdgarMirror
from tests.edgar_tree import (
    COLUMN_HEADER,
    DASHES,
    build_day,
    clone_submission,
    daily_index_key,
    parse_form_index,
    read_header,
    synthetic_day,
    tree_day_index,
)

SAMPLE = Path(__file__).resolve().parent.parent / "flows" / "sample_data"
DAYS = (date(2026, 2, 2), date(2026, 2, 3))
MALFORMED = "0002900002-26-000009"
SUBMISSIONS = sorted((SAMPLE / "Archives" / "edgar" / "data").glob("*/*.txt"))


def _xml(body: bytes) -> bytes:
    return body[body.index(b"<XML>") + len(b"<XML>") : body.index(b"</XML>")].strip()


def _index(day: date) -> bytes:
    return (SAMPLE / daily_index_key(day)).read_bytes()


def test_the_sample_tree_holds_two_indexed_days_and_their_submissions() -> None:
    """Guards against a packaging change that ships an empty or partial demo tree."""
    assert len(SUBMISSIONS) == 15
    assert all((SAMPLE / daily_index_key(day)).is_file() for day in DAYS)
    assert not (SAMPLE / daily_index_key(date(2026, 2, 4))).exists()


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_the_committed_index_is_exactly_what_the_submissions_generate(day: date) -> None:
    """Guards against an edited filing whose index was not regenerated (see the README)."""
    assert _index(day) == tree_day_index(SAMPLE, day)


def test_every_indexed_accession_has_its_submission_and_every_submission_is_indexed() -> None:
    """Guards against index rows the demo cannot fetch, or filings the demo never sees."""
    indexed = {row.accession for day in DAYS for row in parse_form_index(_index(day))}
    stored = {path.stem for path in SUBMISSIONS}
    assert indexed == stored


@pytest.mark.parametrize("path", SUBMISSIONS, ids=lambda p: p.stem)
def test_each_filing_is_listed_once_per_cik_in_its_header_on_its_filing_day(path: Path) -> None:
    """Guards against an index that lists only the issuer (owners' folders never fetched) or
    rows whose CIK, name, form type or date disagree with the SGML header."""
    body = path.read_bytes()
    facts = read_header(body)
    assert facts.accession == path.stem
    assert path.parent.name == str(int(facts.entities[-1].cik))  # stored under the issuer
    assert facts.entities[-1].role == "ISSUER"
    assert facts.filed in DAYS
    rows = [r for r in parse_form_index(_index(facts.filed)) if r.accession == facts.accession]
    assert sorted((r.cik, r.company_name) for r in rows) == sorted(
        (str(int(e.cik)), e.name) for e in facts.entities
    )
    assert len(rows) == len(set(facts.ciks))
    for row in rows:
        assert row.form_type == facts.form_type
        assert row.date_filed == f"{facts.filed:%Y%m%d}"
        assert row.filename == f"edgar/data/{row.cik}/{facts.accession}.txt"


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_the_sample_index_has_the_real_edgar_layout(corpus: Path, day: date) -> None:
    """Guards against a home-made layout that our fixed-width parser reads but EDGAR's breaks."""
    real = (corpus / "index" / "form.20200318.idx").read_text().splitlines()
    ours = _index(day).decode("ascii").splitlines()
    assert ours[8:10] == real[8:10] == [COLUMN_HEADER, DASHES]
    assert [line.split(":")[0] for line in ours[:4]] == [line.split(":")[0] for line in real[:4]]
    assert ours[4:8] == real[4:8]
    assert {len(line) for line in ours[10:]} == {len(line) for line in real[10:]} == {150}


def test_the_mirror_serves_every_index_row_from_the_sample_directory() -> None:
    """Guards against owner-folder rows that 404 because each .txt is stored once."""
    with EdgarMirror(SAMPLE) as mirror, httpx.Client(base_url=mirror.base_url) as client:
        for day in DAYS:
            assert client.get("/" + daily_index_key(day)).content == _index(day)
            for row in parse_form_index(_index(day)):
                response = client.get("/Archives/" + row.filename)
                assert response.status_code == 200, row.filename
                assert read_header(response.content).accession == row.accession
        assert client.get("/" + daily_index_key(date(2026, 2, 4))).status_code == 404


@pytest.mark.parametrize("path", SUBMISSIONS, ids=lambda p: p.stem)
def test_only_the_documented_malformed_filing_has_broken_xml(path: Path) -> None:
    """Guards against an accidental typo making a second reject, which the README does not show."""
    xml = _xml(path.read_bytes())
    if path.stem == MALFORMED:
        with pytest.raises(ElementTree.ParseError):
            ElementTree.fromstring(xml)
        return
    root = ElementTree.fromstring(xml)
    facts = read_header(path.read_bytes())
    assert root.findtext("documentType") == facts.form_type
    assert root.findtext("issuer/issuerCik") == facts.entities[-1].cik
    owners = [o.findtext("reportingOwnerId/rptOwnerCik") for o in root.iter("reportingOwner")]
    assert owners == [e.cik for e in facts.entities if e.role == "REPORTING-OWNER"]
    assert root.findtext("schemaVersion") in ("X0508", "X0609")


@pytest.mark.parametrize(
    "path", [p for p in SUBMISSIONS if p.stem != MALFORMED], ids=lambda p: p.stem
)
def test_holdings_after_each_direct_transaction_follow_from_the_row_before(path: Path) -> None:
    """Guards against sample numbers that do not add up, which would mislead anyone checking
    the demo's output by hand."""
    root = ElementTree.fromstring(_xml(path.read_bytes()))
    previous: Decimal | None = None
    for row in root.iter("nonDerivativeTransaction"):
        if row.findtext("ownershipNature/directOrIndirectOwnership/value") != "D":
            continue
        shares = Decimal(row.findtext("transactionAmounts/transactionShares/value") or "0")
        sign = row.findtext("transactionAmounts/transactionAcquiredDisposedCode/value")
        after = Decimal(
            row.findtext("postTransactionAmounts/sharesOwnedFollowingTransaction/value") or "0"
        )
        if previous is not None:
            assert after == previous + (shares if sign == "A" else -shares)
        previous = after
        assert after >= 0


def test_the_readme_lists_every_sample_filing_and_names_the_malformed_one() -> None:
    """Guards against sample filings nobody can find the purpose of."""
    readme = (SAMPLE / "README.md").read_text()
    listed = set(re.findall(r"\d{10}-\d{2}-\d{6}", readme))
    assert {path.stem for path in SUBMISSIONS} <= listed
    assert re.search(rf"{MALFORMED}.*malformed", readme)


def test_a_cloned_submission_is_a_new_filing_on_the_new_day_with_the_same_xml(
    corpus: Path,
) -> None:
    """Guards against synthetic days whose clones share an accession (deduplicated to one)."""
    template = (corpus / "txt" / "0001127602-25-001055.txt").read_bytes()
    clone = clone_submission(template, accession="0009999999-26-000042", filed=date(2026, 2, 2))
    facts = read_header(clone)
    assert (facts.accession, facts.filed) == ("0009999999-26-000042", date(2026, 2, 2))
    assert facts.entities == read_header(template).entities
    assert b"0001127602-25-001055" not in clone
    assert b"<ACCEPTANCE-DATETIME>20260202" in clone
    assert _xml(clone) == _xml(template)


def test_a_synthetic_day_has_distinct_accessions_each_listed_under_every_cik(corpus: Path) -> None:
    """Guards against a bench day that is smaller than it claims."""
    templates = [p.read_bytes() for p in sorted((corpus / "txt").glob("*.txt"))]
    day = date(2026, 3, 2)
    tree = synthetic_day(day, templates, 50)
    rows = parse_form_index(tree[daily_index_key(day)])
    assert len({row.accession for row in rows}) == 50
    assert len(rows) == 100  # issuer and one owner each
    assert all(("Archives/" + row.filename) in tree for row in rows)
    assert build_day(day, templates).keys() >= {daily_index_key(day)}
