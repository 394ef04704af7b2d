"""The SEC's Insider Transactions Data Sets: discovery, fetch, reading, load, precedence, audit
and bad input, over the loopback EDGAR with the real 2024 Q3 files (and, for the three tables the
shared copy lacks, tables written in the metadata's exact layout)."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from form4.flows.cli.demo import SAMPLE_DATA
from form4.flows.config import Settings
from form4.flows.edgar.client import build_client
from form4.flows.edgar.datasets import DATASETS_INDEX_PATH, fetch_dataset_links
from form4.flows.ingest_flow import run_ingest
from form4.flows.pipeline.datasets import backfill_datasets, reprocess_datasets
from form4.flows.pipeline.ingest import parse_raw
from form4.parsers.dataset_index import Quarter, dataset_links, parse_quarters
from form4.parsers.dataset_tables import read_bytes
from form4.parsers.errors import ConfigError
from form4.parsers.normalize import SALE_REASONS
from form4.parsers.ownership import parse_ownership
from form4.parsers.records import ParsedFiling
from form4.parsers.xmlutil import clean
from form4.warehouse.dataset_audit import ROUNDING, verify_quarter
from form4.warehouse.db import Warehouse
from form4.warehouse.insider_report import build_report, render_json
from form4.warehouse.views import ANALYST_VIEWS
from tests.conftest import corpus_dir
from tests.dataset_zip import (
    INDEX_PATH,
    build_zip,
    from_filings,
    index_page,
    metadata_columns,
    real_dir,
    real_quarter_members,
    real_submissions,
    tsv,
)
from tests.edgar_server import Fault, FaultyEdgar
from tests.edgar_tree import build_day, read_header
from tests.test_ingest_e2e import DAY, MALFORMED, TODAY, settings_for

Q3 = Quarter(2024, 3)
ZIP_PATH = "files/structureddata/data/form-345-data-sets/2024q3_form345.zip"
ROOT = Path(__file__).resolve().parent.parent
DATA_TABLES = (
    "filings",
    "reporting_owners",
    "transactions",
    "holdings",
    "footnotes",
    "transaction_footnotes",
    "holding_footnotes",
    "owner_signatures",
)


@pytest.fixture(scope="module")
def real_zip() -> bytes:
    return build_zip(real_quarter_members())


def tree_with(zips: dict[str, bytes], extra: dict[str, bytes] | None = None) -> dict[str, bytes]:
    """An EDGAR tree: the index page linking each ZIP (relative links), and the ZIPs."""
    links = {label: "/" + path for label, path in ((p[-18:-12], p) for p in zips)}
    tree = {INDEX_PATH: index_page(links), **zips}
    tree.update(extra or {})
    return tree


def snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    for table in (*DATA_TABLES, "rejects"):
        cols = [
            r[0]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "AND column_name NOT IN ('loaded_at', 'seen_at') ORDER BY ordinal_position",
                [table],
            ).fetchall()
        ]
        names = ", ".join(f'"{c}"' for c in cols)
        out[table] = con.execute(f"SELECT {names} FROM {table} ORDER BY ALL").fetchall()
    return out


def sample_filings(settings: Settings) -> list[ParsedFiling]:
    """The project's sample filings of 2026-02-02, parsed by form4's XML path."""
    out = []
    for path in sorted(SAMPLE_DATA.rglob("*.txt")):
        data = path.read_bytes()
        header = read_header(data)
        if header.filed == DAY and header.accession != MALFORMED:
            filing = parse_raw(data, settings)
            if filing.header.form_type in settings.forms:  # what form4 ingest loads
                out.append(filing)
    return out


def sample_day() -> dict[str, bytes]:
    subs = [p.read_bytes() for p in sorted(SAMPLE_DATA.rglob("*.txt"))]
    return build_day(DAY, [s for s in subs if read_header(s).filed == DAY])


def dataset_of(filings: list[ParsedFiling], **replace: bytes) -> bytes:
    members = from_filings(filings)
    members.update(replace)
    return build_zip(members)


@pytest.fixture
def server(real_zip: bytes) -> Iterator[FaultyEdgar]:
    with FaultyEdgar(tree_with({ZIP_PATH: real_zip})) as srv:
        yield srv


def backfill(settings: Settings, spec: str) -> object:
    with build_client(settings) as client, Warehouse(settings.db_path) as wh:
        return backfill_datasets(
            parse_quarters(spec), settings=settings, client=client, warehouse=wh
        )


# ----------------------------------------------------------------------------- 1. discovery


def test_the_index_page_gives_each_quarters_zip_relative_or_absolute_on_its_own_host() -> None:
    """Guards against building ZIP URLs by hand or following a link to another host."""
    page = (
        b'<a href="/files/dera/data/form-345/2026q2_form345.zip">2026 Q2</a>'
        b'<a href="https://www.sec.gov/files/structureddata/data/form-345-data-sets/'
        b'2024q3_form345.zip">2024 Q3</a>'
        b'<a href="2006q1_form345.zip">2006 Q1</a>'
        b'<a href="https://evil.example/files/2025q1_form345.zip">2025 Q1</a>'
        b'<a href="/files/2024q4_notes.pdf">notes</a>'
    )
    links = dataset_links(page, "https://www.sec.gov" + "/" + INDEX_PATH)
    assert links == {
        Quarter(2006, 1): "https://www.sec.gov/data-research/sec-markets-data/2006q1_form345.zip",
        Quarter(2024, 3): "https://www.sec.gov/files/structureddata/data/form-345-data-sets/"
        "2024q3_form345.zip",
        Quarter(2026, 2): "https://www.sec.gov/files/dera/data/form-345/2026q2_form345.zip",
    }
    assert dataset_links(b"", "https://www.sec.gov/x") == {}


def test_quarter_arguments_are_ranges_or_keywords_and_bad_ones_are_config_errors() -> None:
    """Guards against a typo silently importing nothing (or everything)."""
    spec = parse_quarters("2023q4..2024q2")
    assert [q.label for q in spec.quarters()] == ["2023q4", "2024q1", "2024q2"]
    assert parse_quarters("latest").keyword == "latest"
    for bad in ("2024q5", "2024", "2024q3..2024q1", "2005q4"):
        with pytest.raises(ConfigError):
            parse_quarters(bad)


def test_discovery_goes_through_the_polite_client_with_the_user_agent(
    server: FaultyEdgar, tmp_path: Path
) -> None:
    """Guards against the index page being read by a client without the declared User-Agent."""
    settings = settings_for(server, tmp_path)
    with build_client(settings) as client:
        links = fetch_dataset_links(client)
    assert list(links) == [Q3]
    assert links[Q3] == f"{server.base_url}/{ZIP_PATH}"
    (request,) = server.requests
    assert request.path == DATASETS_INDEX_PATH
    assert request.user_agent == settings.user_agent


def test_a_quarter_not_published_yet_is_pending_not_an_error(
    server: FaultyEdgar, tmp_path: Path
) -> None:
    """Guards against a range reaching into the future failing the whole backfill."""
    settings = settings_for(server, tmp_path)
    summary = backfill(settings, "2024q3..2026q3")
    statuses = {q.quarter.label: q.status for q in summary.quarters}  # type: ignore[attr-defined]
    assert statuses["2024q3"] == "done"
    assert statuses["2026q3"] == "pending" and statuses["2025q1"] == "pending"
    assert summary.requests == 2  # type: ignore[attr-defined]  # the index page and one ZIP
    with Warehouse(settings.db_path) as wh:
        rows = dict(wh.con.execute("SELECT quarter, status FROM dataset_quarters").fetchall())
    assert rows["2026q3"] == "pending" and rows["2024q3"] == "done"


# ----------------------------------------------------------------------------- 2. fetch


def test_one_request_per_quarter_streamed_to_the_raw_store_and_kept(
    server: FaultyEdgar, tmp_path: Path, real_zip: bytes
) -> None:
    """Guards against refetching a kept quarter or keeping a ZIP other than the one served."""
    settings = settings_for(server, tmp_path)
    backfill(settings, "2024q3")
    kept = settings.datasets_root / "2024q3_form345.zip"
    assert kept.read_bytes() == real_zip
    assert not list(settings.datasets_root.glob("*.part"))
    again = backfill(settings, "latest")
    assert [q.status for q in again.quarters] == ["held"]  # type: ignore[attr-defined]
    zips = [r for r in server.requests if r.path.endswith(".zip")]
    assert len(zips) == 1


def test_a_zip_over_the_cap_is_refused_and_nothing_is_kept(
    server: FaultyEdgar, tmp_path: Path
) -> None:
    """Guards against an endless or huge body filling the disk."""
    settings = settings_for(server, tmp_path, FORM4_MAX_DATASET_BYTES="4096")
    summary = backfill(settings, "2024q3")
    (outcome,) = summary.quarters  # type: ignore[attr-defined]
    assert outcome.status == "failed" and "FORM4_MAX_DATASET_BYTES" in outcome.message
    assert not list(settings.datasets_root.glob("*"))


def test_a_transfer_cut_short_is_fetched_again_and_then_loads(
    server: FaultyEdgar, tmp_path: Path
) -> None:
    """Guards against keeping (and importing) half a ZIP after a reset mid-body."""
    server.inject(ZIP_PATH, Fault.SHORT_BODY, times=1)
    settings = settings_for(server, tmp_path)
    summary = backfill(settings, "2024q3")
    (outcome,) = summary.quarters  # type: ignore[attr-defined]
    assert outcome.status == "done" and outcome.result.submissions == 36_075
    assert len([r for r in server.requests if r.path.endswith(".zip")]) == 2


def test_a_corrupt_zip_fails_its_quarter_with_a_clear_message_and_others_load(
    tmp_path: Path, real_zip: bytes
) -> None:
    """Guards against a damaged download stopping the history or being imported half."""
    broken = "files/x/2024q2_form345.zip"
    tree = tree_with({ZIP_PATH: real_zip, broken: real_zip[: len(real_zip) // 2]})
    with FaultyEdgar(tree) as srv:
        settings = settings_for(srv, tmp_path)
        summary = backfill(settings, "2024q2..2024q3")
    by_label = {q.quarter.label: q for q in summary.quarters}  # type: ignore[attr-defined]
    assert by_label["2024q2"].status == "failed"
    assert "not a readable ZIP" in by_label["2024q2"].message
    assert by_label["2024q3"].status == "done"
    assert not (settings.datasets_root / "2024q2_form345.zip").exists()


# ----------------------------------------------------------------------------- 3. read


def test_the_real_files_read_with_every_row_and_no_bad_value() -> None:
    """Guards against quoting, dates or flags of the SEC's real files being misread."""
    root = real_dir()
    expected = {
        "SUBMISSION": 36_075,
        "DERIV_TRANS": 19_003,
        "DERIV_HOLDING": 8_136,
        "NONDERIV_HOLDING": 17_897,
        "OWNER_SIGNATURE": 39_236,
    }
    for table, rows in expected.items():
        read = read_bytes(table, (root / f"{table}.tsv").read_bytes())
        assert read.num_rows == rows, table
        assert (
            pc.sum(pc.is_valid(read["_error"])).as_py() is None
            or not pc.any(pc.is_valid(read["_error"])).as_py()
        ), table
    subs = read_bytes("SUBMISSION", (root / "SUBMISSION.tsv").read_bytes()).to_pylist()
    by_acc = {r["ACCESSION_NUMBER"]: r for r in subs}
    quoted = by_acc["0000950170-24-088602"]
    assert quoted["REMARKS"].startswith('The reporting persons may be deemed members of a "group"')
    assert quoted["FILING_DATE"] == date(2024, 7, 31)
    assert quoted["NOT_SUBJECT_SEC16"] is False  # written "false" in this row
    assert by_acc["0001967680-24-000113"]["NOT_SUBJECT_SEC16"] is False  # written "0"
    amendment = by_acc["0001225208-24-008881"]
    assert amendment["DATE_OF_ORIG_SUB"] == date(2024, 9, 11)
    deriv = read_bytes("DERIV_TRANS", (root / "DERIV_TRANS.tsv").read_bytes())
    # the file's EQUITY_SWAP_TRANS_CD_FN and EXCERCISE_DATE land in their canonical columns
    assert pc.count(deriv["EXERCISE_DATE"]).as_py() > 0
    assert "EQUITY_SWAP_INVOLVED_FN" in deriv.column_names


_SPACES = " \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2003\u2028\u202f\u3000"


@given(
    st.lists(
        # words and runs of spaces, joined: plain ASCII ones, and ones with other spaces
        st.lists(st.sampled_from(["a", "Z~", " ", "  "]), max_size=8).map("".join)
        | st.lists(st.sampled_from(["a", " ", "é", "€", '"', *_SPACES]), max_size=8).map("".join),
        min_size=1,
        max_size=40,
    ),
    st.integers(min_value=1, max_value=40),
)
@settings(max_examples=200, deadline=None)
def test_text_values_are_folded_as_the_xml_reader_folds_them(
    values: list[str], repeat: int
) -> None:
    """Guards the fold's fast paths (printable ASCII is looked at, not folded; doubled spaces
    are looked for value by value only when the column's bytes hold one; long and short texts
    take different searches): every value reads folded as the XML reader folds text
    (``clean``, whose shortcut skips control characters XML cannot hold)."""
    values = [v * repeat for v in values]  # short values and long ones

    def field(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if v else ""

    lines = "ACCESSION_NUMBER\tREMARKS\n" + "".join(
        f"0000000001-24-{n:06d}\t{field(v)}\n" for n, v in enumerate(values)
    )
    table = read_bytes("SUBMISSION", lines.encode())
    assert table.column("REMARKS").to_pylist() == [" ".join(v.split()) or None for v in values]
    xml_text = [v for v in values if not re.search("[\x0b\x0c\x1c-\x1f]", v)]
    assert all(clean(v) == (" ".join(v.split()) or None) for v in xml_text)


def test_columns_are_found_by_the_header_in_any_order_with_new_and_missing_ones() -> None:
    """Guards against reading columns by position when quarters reorder or add them."""
    lines = (
        "REMARKS\tNEW_COLUMN\tAFF10B5ONE\tACCESSION_NUMBER\tFILING_DATE\tDOCUMENT_TYPE\n"
        "hello  world\tx\ttrue\t0000000001-24-000001\t05-JAN-2024\t4\n"
    )
    seen = []
    from form4.parsers.dataset_tables import read_table

    table = list(read_table("SUBMISSION", io.BytesIO(lines.encode()), on_header=seen.append))
    (row,) = table[0].to_pylist()
    assert row["ACCESSION_NUMBER"] == "0000000001-24-000001"
    assert row["REMARKS"] == "hello world"  # whitespace folded as the XML reader does
    assert row["AFF10B5ONE"] is True and row["FILING_DATE"] == date(2024, 1, 5)
    assert seen[0].unknown == ("NEW_COLUMN",)
    assert "ISSUERCIK" in seen[0].missing
    assert any("unknown columns ignored: NEW_COLUMN" in p for p in seen[0].problems)


def test_a_bad_date_number_or_flag_marks_its_row_with_the_value_and_the_rows_text() -> None:
    """Guards against a bad value becoming a silent NULL."""
    cols = metadata_columns()["NONDERIV_TRANS"]
    rows = [
        {"ACCESSION_NUMBER": "A-1", "NONDERIV_TRANS_SK": 1, "TRANS_DATE": "31-FOO-2024"},
        {"ACCESSION_NUMBER": "A-2", "NONDERIV_TRANS_SK": 2, "TRANS_SHARES": "12,5x"},
        {"ACCESSION_NUMBER": "A-3", "NONDERIV_TRANS_SK": 3, "EQUITY_SWAP_INVOLVED": "maybe"},
        {"ACCESSION_NUMBER": "A-4", "NONDERIV_TRANS_SK": 4, "TRANS_SHARES": "100.5"},
        {"ACCESSION_NUMBER": "A-5", "NONDERIV_TRANS_SK": 5, "TRANS_SHARES": "12."},
        {"ACCESSION_NUMBER": "A-6", "NONDERIV_TRANS_SK": 6, "TRANS_SHARES": " 7 "},
    ]
    read = read_bytes("NONDERIV_TRANS", tsv(cols, rows)).to_pylist()
    errors = [r["_error"] for r in read]
    assert errors[0] == "TRANS_DATE '31-FOO-2024' is not a DD-MON-YYYY date"
    assert errors[1] == "TRANS_SHARES '12,5x' is not a number form4 can store"
    assert errors[2] == "EQUITY_SWAP_INVOLVED 'maybe' is not a 0/1/true/false flag"
    assert errors[3] is None and read[3]["TRANS_SHARES"] == Decimal("100.5")
    assert errors[4:] == [None, None]
    assert [read[4]["TRANS_SHARES"], read[5]["TRANS_SHARES"]] == [Decimal(12), Decimal(7)]
    assert read[0]["_text"].startswith("A-1\t1\t")


# ----------------------------------------------------------------------------- 4. load


def test_the_real_quarter_loads_into_the_xml_tables_once_however_often_it_is_imported(
    server: FaultyEdgar, tmp_path: Path
) -> None:
    """Guards against duplicates on re-import and data set rows lacking the XML path's columns."""
    settings = settings_for(server, tmp_path)
    backfill(settings, "2024q3")
    with Warehouse(settings.db_path) as wh:
        first = {t: wh.count(t) for t in DATA_TABLES}
        outcomes = reprocess_datasets(None, warehouse=wh)
        assert [o.status for o in outcomes] == ["done"]
        assert {t: wh.count(t) for t in DATA_TABLES} == first
        con = wh.con
        assert first["filings"] == 36_075
        assert first["holdings"] == 17_897 + 8_136
        assert con.execute(
            "SELECT count(*) FILTER (source = 'dataset:2024q3'), count(accepted_at) FROM filings"
        ).fetchone() == (36_075, 0)
        # keys are unique: total rows equal distinct keys
        for table, key in (
            ("transactions", "accession_number, is_derivative, line_no"),
            ("holdings", "accession_number, is_derivative, line_no"),
            ("reporting_owners", "accession_number, owner_cik"),
        ):
            total, distinct = con.execute(
                f"SELECT count(*), count(DISTINCT ({key})) FROM {table}"
            ).fetchone() or (0, 0)
            assert total == distinct, table
        # Block, Inc.'s nine holdings come in the XML's order (the surrogate keys' order)
        lines = con.execute(
            "SELECT line_no, shares_owned_after FROM holdings "
            "WHERE accession_number = '0001062993-24-014684' ORDER BY line_no"
        ).fetchall()
        assert [int(s) for _, s in lines] == [
            1862,
            77,
            11388,
            479,
            171,
            1750,
            540646,
            684741,
            29764,
        ]
        # normalisation: category, signed delta, roles, footnote links, 10b5-1 from footnotes
        m = con.execute(
            "SELECT category, shares_delta, security_kind, code_description FROM transactions "
            "WHERE accession_number = '0000002488-24-000113' AND is_derivative"
        ).fetchone()
        assert m == ("exercise", Decimal("-16756"), "option", m[3]) and m[3]
        roles = con.execute(
            "SELECT count(*) FILTER (is_director AND is_officer), count(*) FILTER (is_director), "
            "count(*) FILTER (is_officer) FROM reporting_owners"
        ).fetchone()
        assert roles is not None and roles[0] > 0 and roles[1] > roles[0] and roles[2] > roles[0]
        links = con.execute(
            "SELECT count(*) FROM transaction_footnotes WHERE field = 'price_per_share'"
        ).fetchone()
        assert links is not None and links[0] > 0
        stc, ranged = con.execute(
            "SELECT count(*) FILTER (is_sell_to_cover), count(price_range_low) FROM transactions "
            "WHERE transaction_code = 'S' AND NOT is_derivative"
        ).fetchone() or (0, 0)
        assert stc > 0 and ranged > 0


def test_aff10b5one_marks_the_open_market_rows_of_a_quarter_that_has_the_column(
    tmp_path: Path,
) -> None:
    """Guards against the 10b5-1 checkbox of newer quarters being dropped."""
    settings = Settings.from_env({}, db_path=tmp_path / "w.duckdb", require_user_agent=False)
    filings = sample_filings(settings)
    members = from_filings(filings, aff10b5_column=False)
    text = members["SUBMISSION.tsv"].decode().splitlines()
    text = [text[0] + "\tAFF10B5ONE"] + [line + "\t1" for line in text[1:]]
    members["SUBMISSION.tsv"] = ("\n".join(text) + "\n").encode()
    path = tmp_path / "2026q1_form345.zip"
    path.write_bytes(build_zip(members))
    from form4.warehouse.datasets import import_quarter

    with Warehouse(settings.db_path) as wh:
        import_quarter(wh, path, Quarter(2026, 1))
        rows = wh.con.execute(
            "SELECT transaction_code, bool_and(is_10b5_1) FROM transactions "
            "WHERE transaction_code IN ('P', 'S') GROUP BY 1"
        ).fetchall()
        flags = wh.con.execute("SELECT bool_and(aff10b5_one) FROM filings").fetchone()
    assert rows and all(flag for _, flag in rows)
    assert flags == (True,)


# ----------------------------------------------------------------------------- 5. precedence


def test_xml_wins_whichever_comes_first_and_amendments_link_across_sources(
    tmp_path: Path,
) -> None:
    """Guards against a data set overwriting XML rows, or XML not replacing data set rows."""
    with FaultyEdgar(sample_day()) as srv:
        settings = settings_for(srv, tmp_path)
        filings = sample_filings(settings)
        zip_bytes = dataset_of(filings)
    tree = {**sample_day(), **tree_with({"f/2026q1_form345.zip": zip_bytes})}
    with FaultyEdgar(tree) as srv:
        # data set first, then the XML of the same day: XML replaces every accession
        settings = settings_for(srv, tmp_path / "a")
        backfill(settings, "2026q1")
        with Warehouse(settings.db_path) as wh:
            assert wh.con.execute("SELECT DISTINCT source FROM filings").fetchall() == [
                ("dataset:2026q1",)
            ]
            linked_before = wh.con.execute(
                "SELECT count(*) FROM filings WHERE amends_accession IS NOT NULL"
            ).fetchone()
        run_ingest(settings, DAY, today=TODAY)
        with Warehouse(settings.db_path) as wh:
            assert wh.con.execute("SELECT DISTINCT source FROM filings").fetchall() == [("xml",)]
            after_xml = snapshot(wh.con)
            linked_after = wh.con.execute(
                "SELECT count(*) FROM filings WHERE amends_accession IS NOT NULL"
            ).fetchone()
        assert linked_before == linked_after
        # and the data set imported again after the XML changes nothing
        with Warehouse(settings.db_path) as wh:
            reprocess_datasets(None, warehouse=wh)
            assert snapshot(wh.con) == after_xml
        # XML first, then the data set: nothing is replaced
        settings_b = settings_for(srv, tmp_path / "b")
        run_ingest(settings_b, DAY, today=TODAY)
        summary = backfill(settings_b, "2026q1")
        (outcome,) = summary.quarters  # type: ignore[attr-defined]
        assert outcome.result.loaded == 0 and outcome.result.held_from_xml == len(filings)
        with Warehouse(settings_b.db_path) as wh:
            assert snapshot(wh.con) == after_xml


def original_of(amendment: ParsedFiling) -> ParsedFiling:
    """The Form 4 an amendment amends: same issuer and owners, filed on its original date."""
    doc = amendment.document
    filed = doc.date_of_original_submission
    assert filed is not None
    header = replace(
        amendment.header,
        accession_number="0002900003-26-000001",
        form_type="4",
        filing_date=filed,
    )
    return ParsedFiling(header, replace(doc, document_type="4", date_of_original_submission=None))


@pytest.mark.parametrize("xml_side", ["amendment", "original"])
def test_amendments_link_to_their_original_across_sources(tmp_path: Path, xml_side: str) -> None:
    """Guards against amendment linking (and transactions_current) stopping at a source."""
    settings = Settings.from_env({}, db_path=tmp_path / "w.duckdb", require_user_agent=False)
    (amendment,) = [f for f in sample_filings(settings) if f.header.form_type == "4/A"]
    original = original_of(amendment)
    from_xml, from_dataset = (
        (amendment, original) if xml_side == "amendment" else (original, amendment)
    )
    path = tmp_path / "2026q1_form345.zip"
    path.write_bytes(dataset_of([from_dataset]))
    from form4.warehouse.datasets import import_quarter

    with Warehouse(settings.db_path) as wh:
        wh.load_batch([from_xml])
        import_quarter(wh, path, Quarter(2026, 1))
        linked = wh.con.execute(
            "SELECT accession_number, amends_accession FROM filings WHERE form_type = '4/A'"
        ).fetchall()
        current = wh.con.execute(
            "SELECT DISTINCT accession_number FROM transactions_current"
        ).fetchall()
    assert linked == [(amendment.header.accession_number, original.header.accession_number)]
    assert current == [(amendment.header.accession_number,)]


# ----------------------------------------------------------------------------- 6. audit


def test_verify_finds_no_difference_where_the_data_set_says_what_the_xml_says(
    tmp_path: Path,
) -> None:
    """Guards against the audit reporting differences form4 itself introduced."""
    with FaultyEdgar(sample_day()) as srv:
        settings = settings_for(srv, tmp_path)
        run_ingest(settings, DAY, today=TODAY)
        filings = sample_filings(settings)
    path = tmp_path / "2026q1_form345.zip"
    path.write_bytes(dataset_of(filings))
    with Warehouse(settings.db_path) as wh:
        result = verify_quarter(wh, path, Quarter(2026, 1))
        rows = wh.con.execute("SELECT * FROM source_differences").fetchall()
    assert result.compared == len(filings)
    assert result.differences == 0, rows
    assert result.rounding == 0


def test_verify_reports_a_changed_value_and_sets_sec_rounding_and_spacing_apart(
    tmp_path: Path,
) -> None:
    """Guards against real differences hiding among the SEC's rounding (or the reverse)."""
    with FaultyEdgar(sample_day()) as srv:
        settings = settings_for(srv, tmp_path)
        run_ingest(settings, DAY, today=TODAY)
        filings = sample_filings(settings)
    members = from_filings(filings)
    lines = members["NONDERIV_TRANS.tsv"].decode().splitlines()
    cols = lines[0].split("\t")
    shares, price, code = (
        cols.index(c) for c in ("TRANS_SHARES", "TRANS_PRICEPERSHARE", "TRANS_CODE")
    )
    first = lines[1].split("\t")
    accession = first[0]
    first[code] = "P" if first[code] != "P" else "S"  # a real difference
    first[shares] = str(Decimal(first[shares]) + Decimal("0.004"))  # rounding
    lines[1] = "\t".join(first)
    members["NONDERIV_TRANS.tsv"] = ("\n".join(lines) + "\n").encode()
    notes = members["FOOTNOTES.tsv"].decode().splitlines()
    head, *body = notes
    body[0] = body[0].replace(" ", "  ", 1).replace(". ", ".", 1) if ". " in body[0] else body[0]
    path = tmp_path / "2026q1_form345.zip"
    path.write_bytes(build_zip(members))
    del price
    with Warehouse(settings.db_path) as wh:
        result = verify_quarter(wh, path, Quarter(2026, 1))
        diffs = wh.con.execute(
            "SELECT accession_number, table_name, line, field, kind FROM source_differences"
        ).fetchall()
        again = verify_quarter(wh, path, Quarter(2026, 1))
        total = wh.count("source_differences")
    assert (accession, "transactions", "I.1", "transaction_code", "difference") in diffs
    assert (accession, "transactions", "I.1", "shares", ROUNDING) in diffs
    by_field = {(t, f): (d, r) for t, f, d, r in result.by_field}
    assert by_field[("transactions", "transaction_code")][0] == 1
    assert by_field[("transactions", "shares")] == (0, 1)
    assert again.differences == result.differences and total == len(diffs)  # replaced, not added


# ----------------------------------------------------------------------------- same figures


def test_a_sample_day_as_a_data_set_gives_the_same_views_and_report_as_its_xml(
    tmp_path: Path,
) -> None:
    """Guards against data set rows that the views or the report read differently."""
    with FaultyEdgar(sample_day()) as srv:
        xml_settings = settings_for(srv, tmp_path / "xml")
        run_ingest(xml_settings, DAY, today=TODAY)
        filings = sample_filings(xml_settings)
    ds_path = tmp_path / "2026q1_form345.zip"
    ds_path.write_bytes(dataset_of(filings))
    from form4.warehouse.datasets import import_quarter

    ds_db = tmp_path / "ds.duckdb"
    with Warehouse(ds_db) as wh:
        import_quarter(wh, ds_path, Quarter(2026, 1))
    xml = duckdb.connect(str(xml_settings.db_path), read_only=True)
    ds = duckdb.connect(str(ds_db), read_only=True)
    try:
        issuers = [r[0] for r in xml.execute("SELECT DISTINCT issuer_cik FROM filings").fetchall()]
        assert issuers
        for cik in issuers:
            a = render_json(build_report(xml, cik, DAY, DAY))
            b = render_json(build_report(ds, cik, DAY, DAY))
            assert a == b, cik
        for view in ANALYST_VIEWS:
            cols = [r[0] for r in xml.execute(f"DESCRIBE {view}").fetchall()]
            cols = [c for c in cols if c not in ("accepted_at", "loaded_at")]
            keep = ", ".join(f'"{c}"' for c in cols)
            sql = f"SELECT {keep} FROM {view} ORDER BY ALL"
            a_rows, b_rows = xml.execute(sql).fetchall(), ds.execute(sql).fetchall()
            diff = [
                (cols[i], x[i], y[i])
                for x, y in zip(a_rows, b_rows, strict=False)
                for i in range(len(x))
                if x[i] != y[i]
            ]
            assert a_rows == b_rows, (view, diff[:5])
        derived = (
            "SELECT accession_number, is_derivative, line_no, sale_reason, sale_reason_text, "
            "is_sell_to_cover, price_range_low, price_range_high, price_range_unusable "
            "FROM transactions ORDER BY ALL"
        )
        xml_derived = xml.execute(derived).fetchall()
        assert any(row[3] is not None for row in xml_derived)  # the day has sales
        assert ds.execute(derived).fetchall() == xml_derived
    finally:
        xml.close()
        ds.close()


def sale_reason_variants() -> list[ParsedFiling]:
    """Real corpus filings with a sale, the footnote on their first sale's row replaced by
    each modelled phrasing of tests/test_sale_reason.py (the corpus holds few sell-to-cover
    and exercise sales), parsed by the XML path."""
    from tests.test_real_corpus import direct_parse, wrap
    from tests.test_sale_reason import MODELLED

    sales = []
    for path in sorted((corpus_dir() / "real" / "xml").glob("*.xml")):
        xml = path.read_bytes()
        doc = parse_ownership(xml)
        row = next((t for t in doc.transactions if t.transaction_code == "S"), None)
        if row is not None and row.footnote_ids:
            sales.append((xml, row.footnote_ids[0]))
    assert len(sales) > 10
    subs = []
    for n, (text, _) in enumerate(MODELLED):
        xml, note = sales[n % len(sales)]
        pattern = rb'(<footnote id="' + re.escape(note.encode()) + rb'"[^>]*>).*?(</footnote>)'
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").encode().replace(b"\\", b"\\\\")
        changed, count = re.subn(pattern, rb"\g<1>" + escaped + rb"\g<2>", xml, count=1, flags=re.S)
        assert count == 1
        subs.append(wrap(changed, f"0009100000-26-{n:06d}", DAY))
    return direct_parse(subs)


def test_every_real_corpus_filing_as_a_data_set_gets_the_xml_paths_derived_columns(
    tmp_path: Path,
) -> None:
    """Guards against the data set path's normalisation drifting from the XML path's on real
    wording: it asks each classifier only about the texts holding its words, and this holds
    that to the XML parse of every corpus filing, row by row."""
    from form4.warehouse.datasets import import_quarter
    from tests.test_real_corpus import corpus_day, direct_parse

    filings = direct_parse(corpus_day()) + sale_reason_variants()
    assert len(filings) > 300
    path = tmp_path / "2026q1_form345.zip"
    path.write_bytes(dataset_of(filings))
    with Warehouse(tmp_path / "ds.duckdb") as wh:
        result = import_quarter(wh, path, Quarter(2026, 1))
        tx = {
            (r[0], r[1], r[2]): r[3:]
            for r in wh.con.execute(
                "SELECT accession_number, is_derivative, line_no, sale_reason, sale_reason_text,"
                " is_sell_to_cover, is_10b5_1, price_range_low, price_range_high,"
                " price_range_unusable, security_kind FROM transactions"
            ).fetchall()
        }
        holds = {
            (r[0], r[1], r[2]): r[3]
            for r in wh.con.execute(
                "SELECT accession_number, is_derivative, line_no, security_kind FROM holdings"
            ).fetchall()
        }
    assert result.rejected == 0, result.reject_reasons
    expected_tx = {
        (f.header.accession_number, t.is_derivative, t.line_no): (
            t.sale_reason,
            t.sale_reason_text,
            t.is_sell_to_cover,
            t.is_10b5_1,
            t.price_range_low,
            t.price_range_high,
            t.price_range_unusable,
            t.security_kind,
        )
        for f in filings
        for t in f.document.transactions
    }
    expected_holds = {
        (f.header.accession_number, h.is_derivative, h.line_no): h.security_kind
        for f in filings
        for h in f.document.holdings
    }
    # the corpus holds every kind of answer, so a classifier that never fires would show
    answers = list(expected_tx.values())
    assert {a[0] for a in answers} == {*SALE_REASONS, None}
    assert any(a[3] for a in answers) and any(a[4] is not None for a in answers)
    assert any(a[6] for a in answers) and len({a[7] for a in answers}) > 3
    wrong = [(k, v, expected_tx.get(k)) for k, v in tx.items() if expected_tx.get(k) != v]
    assert not wrong, (len(wrong), wrong[:3])
    assert tx.keys() == expected_tx.keys()
    assert holds == expected_holds


# ----------------------------------------------------------------------------- 8. bad input


def test_bad_rows_and_orphans_go_to_rejects_with_their_text_and_the_rest_loads(
    tmp_path: Path, real_zip: bytes
) -> None:
    """Guards against one bad row failing a quarter, or a filing loading without it."""
    members = real_quarter_members()
    accessions = real_submissions()
    cols = metadata_columns()["NONDERIV_TRANS"]
    extra = [
        {"ACCESSION_NUMBER": accessions[0], "NONDERIV_TRANS_SK": 1, "TRANS_DATE": "31-FEB-2024"},
        {"ACCESSION_NUMBER": "0009999999-24-000001", "NONDERIV_TRANS_SK": 2},
    ]
    body = tsv(cols, extra).split(b"\n", 1)[1]
    members["NONDERIV_TRANS.tsv"] += body
    members["OWNER_SIGNATURE.tsv"] = members["OWNER_SIGNATURE.tsv"].replace(
        b"30-SEP-2024", b"30-SEPT-2024", 1
    )
    path = tmp_path / "2024q3_form345.zip"
    path.write_bytes(build_zip(members))
    from form4.warehouse.datasets import import_quarter

    with Warehouse(tmp_path / "w.duckdb") as wh:
        result = import_quarter(wh, path, Q3)
        rejects = wh.con.execute(
            "SELECT accession_number, stage, reason, raw FROM rejects ORDER BY 1"
        ).fetchall()
        loaded = wh.con.execute(
            "SELECT count(*) FROM filings WHERE accession_number = ?", [accessions[0]]
        ).fetchone()
        filings = wh.count("filings")
    signature_bad = next(r for r in rejects if b"30-SEPT-2024" in r[3])
    by_acc = {r[0]: r for r in rejects}
    assert by_acc[accessions[0]][1] == "dataset"
    assert "TRANS_DATE '31-FEB-2024' is not a DD-MON-YYYY date" in by_acc[accessions[0]][2]
    assert by_acc[accessions[0]][3].startswith(accessions[0].encode() + b"\t1\t")
    assert "accession not in SUBMISSION" in by_acc["0009999999-24-000001"][2]
    assert signature_bad[2].startswith("dataset:2024q3 OWNER_SIGNATURE row 1: OWNERSIGNATUREDATE")
    assert loaded == (0,)
    assert result.rejected == 3
    assert filings == 36_075 - 2 and result.loaded == filings


def test_a_missing_member_or_column_is_named_and_the_rest_of_the_quarter_loads(
    tmp_path: Path,
) -> None:
    """Guards against a missing table or column failing silently, or failing everything."""
    members = real_quarter_members()
    del members["FOOTNOTES.tsv"]
    lines = members["REPORTINGOWNER.tsv"].decode().splitlines()
    cols = lines[0].split("\t")
    drop = cols.index("RPTOWNER_TITLE")
    members["REPORTINGOWNER.tsv"] = (
        "\n".join(
            "\t".join(c for i, c in enumerate(line.split("\t")) if i != drop) for line in lines
        )
        + "\n"
    ).encode()
    path = tmp_path / "2024q3_form345.zip"
    path.write_bytes(build_zip(members))
    from form4.warehouse.datasets import import_quarter

    with Warehouse(tmp_path / "w.duckdb") as wh:
        result = import_quarter(wh, path, Q3)
        status = wh.con.execute("SELECT status, problems FROM dataset_quarters").fetchone()
        owners = wh.count("reporting_owners")
    assert "FOOTNOTES.tsv is missing from the ZIP" in result.problems
    assert any("columns missing (NULL): RPTOWNER_TITLE" in p for p in result.problems)
    assert status is not None and status[0] == "partial" and "FOOTNOTES.tsv" in status[1]
    assert result.loaded == 36_075 and owners > 36_075


def test_a_zip_without_submission_fails_its_quarter_with_a_clear_message(tmp_path: Path) -> None:
    """Guards against loading rows that cannot be tied to any filing."""
    members = real_quarter_members()
    del members["SUBMISSION.tsv"]
    path = tmp_path / "2024q3_form345.zip"
    path.write_bytes(build_zip(members))
    from form4.flows.pipeline.datasets import _import

    with Warehouse(tmp_path / "w.duckdb") as wh:
        outcome = _import(wh, Q3, path)
        assert wh.count("filings") == 0
    assert outcome.status == "failed" and "SUBMISSION could not be read" in (outcome.message or "")


CHILD = """
import os, sys
from pathlib import Path
import form4.warehouse.datasets as ds
from form4.parsers.dataset_index import Quarter
from form4.warehouse.db import Warehouse
original = ds.link_amendments
def crash(con, issuers, **_):  # every data table written, nothing committed yet
    print("inside", flush=True)
    os.kill(os.getpid(), 9)
ds.link_amendments = crash
with Warehouse(sys.argv[1]) as wh:
    ds.import_quarter(wh, Path(sys.argv[2]), Quarter(2024, 3))
"""


def test_a_killed_import_leaves_nothing_and_a_rerun_equals_a_clean_run(
    tmp_path: Path, real_zip: bytes
) -> None:
    """Guards against a half-loaded quarter after a crash (SIGKILL inside the transaction)."""
    path = tmp_path / "2024q3_form345.zip"
    path.write_bytes(real_zip)
    from form4.warehouse.datasets import import_quarter

    clean = tmp_path / "clean.duckdb"
    with Warehouse(clean) as wh:
        import_quarter(wh, path, Q3)
        expected = snapshot(wh.con)
    crashed = tmp_path / "crashed.duckdb"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(crashed), str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL and "inside" in proc.stdout, proc.stderr
    with Warehouse(crashed) as wh:
        assert wh.count("filings") == 0 and wh.count("dataset_quarters") == 0
        import_quarter(wh, path, Q3)
        assert snapshot(wh.con) == expected


def test_zip_members_are_checked_by_crc_before_anything_is_trusted(tmp_path: Path) -> None:
    """Guards against a damaged member being read as a shorter table."""
    from form4.warehouse.datasets import check_zip

    data = bytearray(build_zip({"SUBMISSION.tsv": b"ACCESSION_NUMBER\n" + b"x" * 5000}))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.infolist()[0]
    start = info.header_offset + 30 + len(info.filename) + 10
    data[start] ^= 0xFF
    path = tmp_path / "q.zip"
    path.write_bytes(bytes(data))
    problems = check_zip(path)
    assert any(p.startswith("SUBMISSION.tsv is damaged") for p in problems), problems
    assert "FOOTNOTES.tsv is missing from the ZIP" in problems


def test_a_block_page_served_in_place_of_a_zip_pauses_and_retries_instead_of_being_kept(
    server: FaultyEdgar, tmp_path: Path
) -> None:
    """Guards against the streamed download path skipping the client's block detection."""
    server.inject(ZIP_PATH, Fault.BLOCK_PAGE_200, times=1)
    settings = settings_for(server, tmp_path, FORM4_BLOCK_PAUSE_S="0.05")
    summary = backfill(settings, "2024q3")
    (outcome,) = summary.quarters  # type: ignore[attr-defined]
    assert outcome.status == "done"
    assert [r.status for r in server.requests if r.path.endswith(".zip")] == [200, 200]


def test_a_zip_is_written_to_disk_while_it_arrives_not_held_whole_in_memory(
    tmp_path: Path,
) -> None:
    """Guards against the polite client reading a ZIP whole before the file sees a byte."""
    import httpx

    from form4.flows.edgar.datasets import download_zip

    target = tmp_path / "datasets" / "2024q3_form345.zip"
    chunk = b"z" * (1 << 20)
    seen: list[int] = []

    def body() -> Iterator[bytes]:
        for _ in range(4):
            parts = list(target.parent.glob(f".{target.name}.tmp-*"))
            seen.append(parts[0].stat().st_size if parts else -1)
            yield chunk

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "application/zip"}, content=body())

    settings = Settings.from_env(
        {"SEC_USER_AGENT": "form4 tests tests@form4.example"}, edgar_url="http://127.0.0.1:9"
    )
    with build_client(settings, inner=httpx.MockTransport(handler)) as client:
        download = download_zip(client, "/x/2024q3_form345.zip", target, max_bytes=1 << 30)
    assert download.size == 4 << 20 and target.stat().st_size == 4 << 20
    assert seen[0] <= 0 and seen[-1] >= 2 << 20  # bytes were on disk before the body ended
