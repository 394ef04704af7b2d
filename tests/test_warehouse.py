"""Warehouse loads: idempotent by accession, one transaction per batch, exact decimals."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from form4.parsers.errors import LoadError, ParseError
from form4.parsers.records import ParsedFiling
from form4.warehouse import batch as batch_module
from form4.warehouse.batch import grouped, merge_batches, prepare_batch
from form4.warehouse.db import FailedFetch, RawDocument, Reject, Warehouse, utcnow
from form4.warehouse.rows import check_filing, filings_to_arrow
from form4.warehouse.schema import DATA_TABLES, TABLES, arrow_schema
from tests.records_factory import filing, filing_with_issue, transaction

KEYS = {
    "filings": "accession_number",
    "reporting_owners": "accession_number, owner_cik",
    "transactions": "accession_number, is_derivative, line_no",
    "holdings": "accession_number, is_derivative, line_no",
    "footnotes": "accession_number, footnote_id",
    "transaction_footnotes": "accession_number, is_derivative, line_no, field, footnote_id",
    "holding_footnotes": "accession_number, is_derivative, line_no, field, footnote_id",
    "owner_signatures": "accession_number, signature_no",
}


CHILD_TABLES = [name for name in DATA_TABLES if name != "filings"]


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[Warehouse]:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    yield warehouse
    warehouse.close()


def _counts(wh: Warehouse) -> dict[str, tuple[int, int]]:
    out = {}
    for table, key in KEYS.items():
        row = wh.con.execute(f"SELECT count(*), count(DISTINCT ({key})) FROM {table}").fetchone()
        assert row is not None
        out[table] = (int(row[0]), int(row[1]))
    return out


def test_loading_the_same_batch_twice_leaves_one_copy_of_every_row(wh: Warehouse) -> None:
    """Guards against re-runs duplicating rows: total rows must equal distinct keys."""
    batch = [filing("0002900001-26-000011"), filing("0002900001-26-000012", transactions=3)]
    wh.load_batch(batch)
    first = _counts(wh)
    wh.load_batch(batch)
    assert _counts(wh) == first
    for table, (rows, keys) in first.items():
        assert rows == keys, table
    assert first["transactions"] == (5, 5)
    assert first["filings"] == (2, 2)


def test_reloading_a_filing_replaces_its_rows_rather_than_adding(wh: Warehouse) -> None:
    """Guards against a reprocessed filing keeping stale rows from the earlier parse."""
    wh.load_batch([filing(transactions=3)])
    wh.load_batch([filing(transactions=1)])
    assert wh.count("transactions") == 1


def test_decimals_round_trip_exactly_and_lists_stay_lists(wh: Warehouse) -> None:
    """Guards against float conversion of prices and share counts."""
    wh.load_batch([filing()])
    row = wh.con.execute(
        "SELECT price_per_share, shares_delta, value, shares_owned_after, footnote_ids "
        "FROM transactions WHERE line_no = 1"
    ).fetchone()
    assert row == (Decimal("1.80"), Decimal("-100"), Decimal("180.00"), Decimal("1000.5"), ["F1"])


def test_more_than_eight_decimal_places_are_rounded_half_even_not_refused() -> None:
    """Guards against one over-precise price failing a whole batch."""
    tx = transaction(price="1.123456789")
    doc = replace(filing().document, transactions=(tx,))
    tables = filings_to_arrow([replace(filing(), document=doc)])
    assert tables["transactions"].column("price_per_share")[0].as_py() == Decimal("1.12345679")


def test_a_value_beyond_the_column_range_rejects_that_filing_only() -> None:
    """Guards against a garbage share count (1e40) aborting the load of its batch."""
    doc = replace(filing().document, transactions=(transaction(shares="1E+40"),))
    with pytest.raises(ParseError) as info:
        check_filing(replace(filing(), document=doc))
    assert info.value.stage == "load"
    check_filing(filing())  # an ordinary filing passes


def test_arrow_tables_match_the_declared_schema_for_every_table() -> None:
    """Guards against the DDL and the Arrow schema drifting apart."""
    tables = filings_to_arrow([filing_with_issue()])
    assert set(tables) == set(DATA_TABLES)
    for name, table in tables.items():
        assert table.schema == arrow_schema(name)
        assert table.num_rows > 0, name
    assert [c.name for c in TABLES["transactions"]][:3] == [
        "accession_number",
        "line_no",
        "is_derivative",
    ]


def test_filing_keys_are_repeated_for_each_row_also_around_filings_without_rows() -> None:
    """Guards against keys shifted onto the next filing's rows when a filing of the batch has
    no row of a table (run ends must skip it, not repeat it zero times out of place)."""
    a, b, c = (filing(f"0002900001-26-00001{i}", transactions=n) for i, n in enumerate((2, 0, 3)))
    c = replace(c, header=replace(c.header, filing_date=date(2026, 3, 4)))
    tables = filings_to_arrow([a, b, c])
    tx = tables["transactions"]
    assert (
        tx.column("accession_number").to_pylist()
        == [a.header.accession_number] * 2 + [c.header.accession_number] * 3
    )
    assert (
        tx.column("filing_date").to_pylist() == [a.header.filing_date] * 2 + [date(2026, 3, 4)] * 3
    )
    assert tx.column("line_no").to_pylist() == [1, 2, 1, 2, 3]
    assert tables["holdings"].column("accession_number").to_pylist() == [
        f.header.accession_number for f in (a, b, c)
    ]
    none = filings_to_arrow([b])["transactions"]
    assert none.num_rows == 0 and none.schema == arrow_schema("transactions")


def test_a_batch_prepared_in_another_process_loads_like_the_records_themselves(
    tmp_path: Path,
) -> None:
    """Guards against the worker path of reprocess (a pickled PreparedBatch) storing anything
    different from an in-process load."""
    batch = [filing("0002900001-26-000021"), filing("0002900001-26-000022", transactions=3)]
    reject = Reject("0002900001-26-000023", "xml", "bad", b"<raw>", utcnow())
    snapshots = []
    for i, load in enumerate(("records", "pickled")):
        with Warehouse(tmp_path / f"{i}.duckdb") as w:
            if load == "records":
                w.load_batch(batch, rejects=[reject])
            else:
                prepared = prepare_batch(batch, rejects=[reject])
                w.load_prepared(pickle.loads(pickle.dumps(prepared)))
            snapshots.append(
                {
                    name: w.con.execute(
                        f"SELECT * EXCLUDE (loaded_at) FROM {name} ORDER BY ALL"
                        if name == "filings"
                        else f"SELECT * FROM {name} ORDER BY ALL"
                    ).fetchall()
                    for name in (*DATA_TABLES, "rejects")
                }
            )
    assert snapshots[0] == snapshots[1]
    assert len(snapshots[0]["transactions"]) == 5
    assert [r[0] for r in snapshots[0]["rejects"]] == [reject.accession_number]


def test_bulk_groups_merge_consecutive_batches_up_to_a_row_group_and_load_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards against a group that drops or repeats a batch's rows, keys or amendment flag."""
    monkeypatch.setattr(batch_module, "GROUP_ROWS", 5)
    amendment = filing("0002900001-26-000035")
    amendment = replace(amendment, header=replace(amendment.header, form_type="4/A"))
    batches = [prepare_batch([filing(f"0002900001-26-00003{i}")]) for i in range(5)] + [
        prepare_batch([amendment])
    ]
    groups = list(grouped(batches))
    # two transaction rows a batch: a group closes at the third batch (6 rows >= 5)
    assert [len(g.keys) for g in groups] == [3, 3]
    assert [g.has_amendments for g in groups] == [False, True]
    assert sorted(k for g in groups for k in g.keys) == sorted(k for b in batches for k in b.keys)
    assert groups[0].tables["transactions"].num_rows == 6
    with Warehouse(tmp_path / "grouped.duckdb") as w:
        for g in groups:
            w.load_prepared(g)
        for g in groups:  # again: replaced, not added
            w.load_prepared(g)
        assert w.count("filings") == 6
        assert w.count("transactions") == 12
    assert merge_batches(batches[:1]) is batches[0]


def test_a_reject_keeps_its_raw_bytes_and_is_cleared_when_the_filing_later_loads(
    wh: Warehouse,
) -> None:
    """Guards against losing a malformed filing, or keeping it rejected after a fix."""
    acc = "0002900001-26-000011"
    reject = Reject(acc, "xml", "unclosed tag", b"<raw bytes>", utcnow())
    wh.load_batch([], rejects=[reject])
    assert wh.con.execute("SELECT raw FROM rejects").fetchone() == (b"<raw bytes>",)
    assert wh.known_accessions([acc, "0000000000-00-000000"]) == {acc}
    wh.load_batch([filing(acc)])
    assert wh.count("rejects") == 0
    assert wh.count("filings") == 1


def test_failed_fetches_count_attempts_and_disappear_once_loaded(wh: Warehouse) -> None:
    """Guards against failed accessions never being retried, or retried forever."""
    acc = "0002900001-26-000011"
    failure = FailedFetch(
        acc, date(2026, 2, 2), "0002900001", "edgar/data/1/x.txt", "4", "HTTP 503"
    )
    wh.record_failures([failure])
    wh.record_failures([failure])
    assert wh.con.execute("SELECT attempts FROM failed_accessions").fetchone() == (2,)
    assert [f.accession_number for f in wh.failed_fetches(("4", "4/A"))] == [acc]
    assert wh.failed_fetches(("3",)) == []
    wh.load_batch([filing(acc)])
    assert wh.failed_fetches(("4", "4/A")) == []


def test_day_state_records_status_and_drives_the_catch_up(wh: Warehouse) -> None:
    """Guards against the nightly run forgetting where it stopped."""
    forms = ("4", "4/A")
    assert wh.last_done_day(forms) is None
    raw = RawDocument("0002900001-26-000011", date(2026, 2, 2), "1", "p", 1, "h", utcnow())
    wh.load_batch([filing()], raw_documents=[raw])
    wh.mark_day(date(2026, 2, 2), forms, "done", index_entries=1)
    wh.mark_day(date(2026, 2, 3), forms, "pending")
    wh.mark_day(date(2026, 2, 2), forms, "done", index_entries=1)  # re-run: still one row
    assert wh.last_done_day(forms) == date(2026, 2, 2)
    assert wh.pending_days(forms) == [date(2026, 2, 3)]
    rows = wh.con.execute("SELECT day, status, loaded FROM ingest_days ORDER BY day").fetchall()
    assert rows == [(date(2026, 2, 2), "done", 1), (date(2026, 2, 3), "pending", 0)]


def test_a_second_writer_gets_a_clear_error_not_a_corrupt_file(tmp_path: Path) -> None:
    """Guards against two ingests writing one DuckDB file at once, and against a wait that
    ends without saying which process holds the file."""
    import subprocess
    import sys

    db = tmp_path / "busy.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,sys; c=duckdb.connect({str(db)!r}); "
            "print('ready', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(LoadError, match=rf"in use by PID {holder.pid} .*gave up after"):
            Warehouse(db, lock_wait_s=0.2)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
        assert holder.stdout is not None
        holder.stdout.close()


def test_every_corpus_ownership_document_loads_into_the_warehouse(
    wh: Warehouse, corpus: Path
) -> None:
    """Guards against a real filing that parses but cannot be stored (types, ranges, lists)."""
    from form4.parsers.ownership import parse_ownership
    from form4.parsers.records import ParsedFiling, SubmissionHeader
    from form4.parsers.sgml import parse_submission
    from tests.conftest import corpus_files

    batch = []
    for n, path in enumerate(corpus_files("xml", "*.xml"), start=1):
        doc = parse_ownership(path.read_bytes())
        header = SubmissionHeader(f"0009999999-26-{n:06d}", doc.document_type, None, None, None)
        batch.append(ParsedFiling(header, doc))
    for path in corpus_files("txt", "*.txt") + corpus_files("feed", "*.nc"):
        sub = parse_submission(path.read_bytes())
        batch.append(ParsedFiling(sub.header, parse_ownership(sub.xml)))
    assert len(batch) >= 10
    for parsed in batch:
        check_filing(parsed)
    wh.load_batch(batch)
    assert wh.count("filings") == len(batch)
    assert wh.count("transactions") == sum(len(f.document.transactions) for f in batch)
    assert wh.count("holdings") == sum(len(f.document.holdings) for f in batch)
    assert wh.count("footnotes") == sum(len(f.document.footnotes) for f in batch)


def _amendment(original: ParsedFiling, accession: str, filed: date, **doc: object) -> ParsedFiling:
    header = replace(
        original.header, accession_number=accession, form_type="4/A", filing_date=filed
    )
    document = replace(original.document, document_type="4/A", **doc)  # type: ignore[arg-type]
    return ParsedFiling(header, document)


def test_amendments_link_to_their_original_and_replace_its_rows_in_the_current_view(
    wh: Warehouse,
) -> None:
    """Guards against amended transactions being counted twice (original plus amendment)."""
    original = filing("0002900001-26-000011", transactions=3)
    first = _amendment(
        original,
        "0002900001-26-000020",
        date(2026, 2, 5),
        date_of_original_submission=date(2026, 2, 3),
        transactions=(transaction(1, shares="90"),),
    )
    second = _amendment(
        original,
        "0002900001-26-000030",
        date(2026, 2, 9),
        transactions=(transaction(1, shares="95"), transaction(2, shares="5")),
    )
    other_owner = _amendment(
        replace(
            original,
            document=replace(
                original.document,
                reporting_owners=(
                    replace(original.document.reporting_owners[0], owner_cik="0002900999"),
                ),
            ),
        ),
        "0002900001-26-000040",
        date(2026, 2, 9),
    )
    # amendments first: the original arrives later (a backfill in any order must still link)
    wh.load_batch([first, other_owner])
    wh.load_batch([original, second])
    links = dict(
        wh.con.execute("SELECT accession_number, amends_accession FROM filings").fetchall()
    )
    assert links == {
        "0002900001-26-000011": None,
        "0002900001-26-000020": "0002900001-26-000011",
        "0002900001-26-000030": "0002900001-26-000011",
        "0002900001-26-000040": None,  # different owner: not an amendment of this filing
    }
    current = wh.con.execute(
        "SELECT accession_number, shares FROM transactions_current "
        "WHERE accession_number <> '0002900001-26-000040' ORDER BY line_no"
    ).fetchall()
    assert current == [
        ("0002900001-26-000030", Decimal("95")),
        ("0002900001-26-000030", Decimal("5")),
    ]
    assert wh.count("transactions") == 3 + 1 + 2 + 3  # every row kept; the view picks


def test_opening_an_older_warehouse_adds_the_columns_a_newer_form4_declares(tmp_path: Path) -> None:
    """Guards against an upgrade failing on a database created by an earlier version."""
    import duckdb

    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE transactions (accession_number VARCHAR, line_no INTEGER)")
    con.execute("INSERT INTO transactions VALUES ('0002900001-26-000011', 1)")
    con.close()
    with Warehouse(db) as upgraded:
        columns = [r[0] for r in upgraded.con.execute("DESCRIBE transactions").fetchall()]
        assert "is_sell_to_cover" in columns and "security_kind" in columns
        assert upgraded.count("transactions") == 1
        upgraded.load_batch([filing("0002900001-26-000012")])
        assert upgraded.count("transactions_current") == 3


def test_a_table_stored_in_another_column_order_is_loaded_by_name(tmp_path: Path) -> None:
    """Guards the positional Arrow append against writing values into the wrong columns."""
    import duckdb

    db = tmp_path / "reordered.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE transactions (line_no INTEGER, accession_number VARCHAR)")
    con.close()
    with Warehouse(db) as wh:
        wh.load_batch([filing("0002900001-26-000012", transactions=2)])
        rows = wh.con.execute(
            "SELECT accession_number, line_no, shares, transaction_code FROM transactions "
            "ORDER BY line_no"
        ).fetchall()
    assert rows == [
        ("0002900001-26-000012", 1, Decimal(100), "S"),
        ("0002900001-26-000012", 2, Decimal(100), "S"),
    ]


def test_every_row_of_a_filing_repeats_its_issuer_and_filing_date(
    wh: Warehouse,
) -> None:
    """The copies the views prune by must agree with ``filings`` row for row."""
    first = filing("0002900001-26-000011", transactions=3)
    second = replace(
        filing("0002900001-26-000012"),
        document=replace(first.document, issuer=replace(first.document.issuer, cik="0000000042")),
    )
    wh.load_batch([first, second])
    for table in CHILD_TABLES:
        mismatched = wh.con.execute(
            f"SELECT count(*) FROM {table} t JOIN filings f USING (accession_number) "
            "WHERE t.issuer_cik <> f.issuer_cik "
            "OR t.filing_date IS DISTINCT FROM f.filing_date OR t.issuer_cik IS NULL"
        ).fetchone()
        assert mismatched == (0,), table
    issuers = wh.con.execute("SELECT DISTINCT issuer_cik FROM insider_trades ORDER BY 1").fetchall()
    assert issuers == [("0000000042",), (first.document.issuer.cik,)]


def test_opening_a_warehouse_from_before_the_filing_keys_fills_them_from_filings(
    tmp_path: Path,
) -> None:
    db = tmp_path / "old.duckdb"
    with Warehouse(db) as wh:
        wh.load_batch([filing_with_issue("0002900001-26-000011")])
        for table in CHILD_TABLES:
            wh.con.execute(f"ALTER TABLE {table} DROP COLUMN issuer_cik")
            wh.con.execute(f"ALTER TABLE {table} DROP COLUMN filing_date")
    with Warehouse(db) as upgraded:
        for table in CHILD_TABLES:
            row = upgraded.con.execute(
                f"SELECT count(*), count(t.issuer_cik), count(t.filing_date) FROM {table} t "
                "JOIN filings f ON f.accession_number = t.accession_number "
                "AND f.issuer_cik = t.issuer_cik AND f.filing_date = t.filing_date"
            ).fetchone()
            total = upgraded.count(table)
            assert total > 0 and row == (total, total, total), table


def test_a_memory_cap_is_applied_to_duckdb(tmp_path: Path) -> None:
    """What keeps a long backfill's memory from growing with the warehouse."""

    def limit(memory_mb: int | None) -> str:
        with Warehouse(tmp_path / "capped.duckdb", memory_mb=memory_mb) as wh:
            row = wh.con.execute("SELECT current_setting('memory_limit')").fetchone()
        assert row is not None
        return str(row[0])

    assert limit(300) == "286.1 MiB"  # 300 MB, shown in MiB
    assert limit(None) != limit(300)


@pytest.mark.parametrize("first_date", [date(2026, 2, 2), None])
def test_a_reload_replaces_rows_even_when_the_filing_date_changed(
    wh: Warehouse, first_date: date | None
) -> None:
    """Deletes are bounded by the dates stored with the old rows, not the new ones."""
    original = filing("0002900001-26-000011", transactions=3)
    before = replace(original, header=replace(original.header, filing_date=first_date))
    wh.load_batch([before, filing("0002900001-26-000012")])
    counts = _counts(wh)
    after = replace(original, header=replace(original.header, filing_date=date(2026, 3, 2)))
    wh.load_batch([after])
    assert _counts(wh) == counts
    for table in CHILD_TABLES:
        stale = wh.con.execute(
            f"SELECT count(*) FROM {table} WHERE accession_number = ? "
            "AND filing_date IS DISTINCT FROM DATE '2026-03-02'",
            [original.header.accession_number],
        ).fetchone()
        assert stale == (0,), table


# The statement link_amendments replaced (one correlated look-up per amendment, every
# filing's owners aggregated): kept here as the reference the join-based one must equal.
_REFERENCE_LINK = """
UPDATE filings AS a SET amends_accession = (
    SELECT o.accession_number FROM filings AS o
    WHERE o.issuer_cik = a.issuer_cik
      AND o.form_type = replace(a.form_type, '/A', '')
      AND o.accession_number <> a.accession_number
      AND {match}
      AND (o.filing_date IS NULL OR a.filing_date IS NULL OR o.filing_date <= a.filing_date)
      AND (SELECT list_sort(list(owner_cik)) FROM reporting_owners r
           WHERE r.accession_number = o.accession_number)
        = (SELECT list_sort(list(owner_cik)) FROM reporting_owners r
           WHERE r.accession_number = a.accession_number)
    ORDER BY o.filing_date DESC NULLS LAST, o.accession_number DESC
    LIMIT 1)
WHERE a.form_type LIKE '%/A' AND a.amends_accession IS NULL
  AND list_contains($issuers, a.issuer_cik)
"""


@pytest.mark.parametrize("seed", range(12))
def test_amendment_links_equal_the_one_lookup_per_amendment_reference(seed: int) -> None:
    """Guards against the join-based linking choosing another original than the plain
    definition (same issuer, form, owners, date or period; the latest such), on random
    filings written in batches (each linked as it is written, examining only the pairs with
    a new filing, or all of them), with shared dates, missing dates and periods, and owner
    sets that differ."""
    import random

    import duckdb
    import pyarrow as pa

    from form4.warehouse.db import link_amendments

    rng = random.Random(seed)
    day = [date(2026, 1, d) for d in range(1, 6)] + [None]
    filings_rows, owner_rows = [], []
    for n in range(300):
        form = rng.choice(["4", "4", "4/A", "3", "3/A", "5/A"])
        filed = rng.choice(day if seed % 2 else day[:-1])  # odd seeds: some filed on no date
        filings_rows.append(
            (
                f"A{n:04d}",
                form,
                filed,
                rng.choice(day),  # date_of_original_submission
                rng.choice(day),  # period_of_report
                rng.choice(["0000000001", "0000000002", "0000000003"]),
            )
        )
        for cik in rng.sample(["O1", "O2"], rng.choice([0, 1, 1, 1, 2])):
            owner_rows.append((f"A{n:04d}", cik, filed))  # each row carries its filing's date
    rng.shuffle(filings_rows)
    batches = [filings_rows[i : i + 75] for i in range(0, len(filings_rows), 75)]
    issuers = ["0000000001", "0000000003"]
    results = []
    for way in ("reference", "pairs with a new filing", "every pair"):
        con = duckdb.connect()
        con.execute(
            "CREATE TABLE filings (accession_number VARCHAR, form_type VARCHAR, "
            "filing_date DATE, date_of_original_submission DATE, period_of_report DATE, "
            "issuer_cik VARCHAR, amends_accession VARCHAR)"
        )
        con.execute(
            "CREATE TABLE reporting_owners "
            "(accession_number VARCHAR, owner_cik VARCHAR, filing_date DATE)"
        )
        for batch in batches:
            keys = {row[0] for row in batch}
            con.executemany("INSERT INTO filings VALUES (?, ?, ?, ?, ?, ?, NULL)", batch)
            con.executemany(
                "INSERT INTO reporting_owners VALUES (?, ?, ?)",
                [row for row in owner_rows if row[0] in keys],
            )
            if way == "reference":
                for match in (
                    "o.filing_date = a.date_of_original_submission",
                    "o.period_of_report = a.period_of_report",
                ):
                    con.execute(_REFERENCE_LINK.format(match=match), {"issuers": issuers})
            elif way == "every pair":
                link_amendments(con, issuers)
            else:
                con.register("_new", pa.table({"accession_number": sorted(keys)}))
                link_amendments(con, issuers, new="_new")
                con.unregister("_new")
        results.append(
            dict(con.execute("SELECT accession_number, amends_accession FROM filings").fetchall())
        )
        con.close()
    expected = results[0]
    assert sum(v is not None for v in expected.values()) > 5  # the data links something
    assert results[1] == expected
    assert results[2] == expected
