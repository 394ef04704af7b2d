"""Parquet export (form4.warehouse.parquet): round trip through plain DuckDB, incremental rewrites,
atomic partition swaps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from form4.warehouse.db import Warehouse
from form4.warehouse.parquet import export_parquet
from form4.warehouse.schema import DATA_TABLES, TABLES
from tests.analyst_day import analyst_day
from tests.records_factory import filing, filing_with_issue, make_filing, owner, row


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[Warehouse]:
    warehouse = Warehouse(tmp_path / "pq.duckdb")
    warehouse.load_batch([*analyst_day(), filing_with_issue("0002900001-26-000099")])
    yield warehouse
    warehouse.close()


def read(target: Path, table: str) -> list[tuple[object, ...]]:
    columns = ", ".join(f'"{c.name}"' for c in TABLES[table] if c.name != "raw")
    con = duckdb.connect()
    try:
        return sorted(
            con.execute(
                f"SELECT {columns} FROM read_parquet('{target}/{table}/**/*.parquet', "
                "hive_partitioning=true)"
            ).fetchall(),
            key=repr,
        )
    finally:
        con.close()


def mtimes(target: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in target.rglob("*.parquet")}


def test_plain_duckdb_reads_back_every_row_of_every_table(wh: Warehouse, tmp_path: Path) -> None:
    """Guards against an export that loses rows, types or decimals on the way to Parquet."""
    target = tmp_path / "lake"
    result = export_parquet(wh.con, target)
    assert result.written and not result.removed
    for table in DATA_TABLES:
        columns = ", ".join(f'"{c.name}"' for c in TABLES[table])
        expected = sorted(wh.con.execute(f"SELECT {columns} FROM {table}").fetchall(), key=repr)
        assert expected, table
        assert read(target, table) == expected, table
    con = duckdb.connect()
    parts = con.execute(
        f"SELECT DISTINCT filing_year, filing_month FROM read_parquet("
        f"'{target}/transactions/**/*.parquet', hive_partitioning=true)"
    ).fetchall()
    con.close()
    assert parts == [(2026, 2)]


def test_a_second_export_without_new_loads_rewrites_nothing(wh: Warehouse, tmp_path: Path) -> None:
    """Guards against a nightly export rewriting the whole lake every night."""
    target = tmp_path / "lake"
    export_parquet(wh.con, target)
    before = mtimes(target)
    again = export_parquet(wh.con, target)
    assert again.written == () and again.unchanged == len(before)
    assert mtimes(target) == before


def test_loading_one_filing_rewrites_only_its_month(wh: Warehouse, tmp_path: Path) -> None:
    """Guards against missed reloads, and against touching months that did not change."""
    target = tmp_path / "lake"
    export_parquet(wh.con, target)
    before = mtimes(target)
    wh.load_batch(
        [
            make_filing(
                "0002900001-26-000300",
                owners=(owner("0002900014", "Sorensen Ingrid", director=True),),
                rows=(row(1, "P", "10", "2.00", on=date(2026, 3, 2)),),
                filed=date(2026, 3, 3),
            )
        ]
    )
    result = export_parquet(wh.con, target)
    assert {(w.filing_year, w.filing_month) for w in result.written} == {(2026, 3)}
    assert {w.table for w in result.written} == {
        "filings",
        "reporting_owners",
        "transactions",
        "owner_signatures",
        # the views over them: a purchase on its own, so no cluster, no amendment
        "transactions_current",
        "insider_trades",
        "open_market",
        "issuer_daily",
    }
    assert all(mtimes(target)[p] == t for p, t in before.items())
    assert len(read(target, "transactions")) == wh.count("transactions")
    # A reload of a February filing (new loaded_at) rewrites February, and only February.
    wh.load_batch([filing("0002900001-26-000099", transactions=1)])
    result = export_parquet(wh.con, target)
    assert {(w.filing_year, w.filing_month) for w in result.written} == {(2026, 2)}
    assert len(read(target, "transactions")) == wh.count("transactions")


def test_no_temporary_file_is_left_behind_and_a_new_target_gets_everything(
    wh: Warehouse, tmp_path: Path
) -> None:
    """Guards against half-written files left for readers, or state shared between targets."""
    export_parquet(wh.con, tmp_path / "a")
    second = export_parquet(wh.con, tmp_path / "b")
    assert second.written and second.unchanged == 0
    leftovers = [p for p in tmp_path.rglob("*") if ".tmp" in p.name]
    assert leftovers == []


def test_a_range_exports_only_the_months_it_overlaps(wh: Warehouse, tmp_path: Path) -> None:
    """Guards against --from/--to writing partial partitions or months outside the range."""
    result = export_parquet(
        wh.con, tmp_path / "lake", start=date(2026, 3, 1), end=date(2026, 3, 31)
    )
    assert result.written == ()
    result = export_parquet(wh.con, tmp_path / "lake", start=date(2026, 2, 15), end=None)
    assert {(w.filing_year, w.filing_month) for w in result.written} == {(2026, 2)}


def _read_view(target: Path, name: str) -> list[tuple[object, ...]]:
    con = duckdb.connect()
    try:
        columns = [
            r[0]
            for r in con.execute(
                f"DESCRIBE SELECT * FROM read_parquet('{target}/{name}/**/*.parquet', "
                "hive_partitioning=true)"
            ).fetchall()
            if r[0] not in ("filing_year", "filing_month")
        ]
        cols = ", ".join(f'"{c}"' for c in columns)
        return sorted(
            con.execute(
                f"SELECT {cols} FROM read_parquet('{target}/{name}/**/*.parquet', "
                "hive_partitioning=true)"
            ).fetchall(),
            key=repr,
        )
    finally:
        con.close()


def test_every_view_is_exported_with_the_rows_the_warehouse_gives(
    wh: Warehouse, tmp_path: Path
) -> None:
    """Guards against Parquet readers having to re-implement amendments and the sale rules:
    transactions_current and every analyst view must be in the export, row for row (the
    analyst day holds an amended sale, sell-to-cover, awards and exercises)."""
    from form4.warehouse.parquet import EXPORT_VIEWS, MANIFEST_NAME

    target = tmp_path / "lake"
    export_parquet(wh.con, target)
    assert {"transactions_current", "holdings_current", "insider_trades", "issuer_daily"} <= set(
        EXPORT_VIEWS
    )
    for name in EXPORT_VIEWS:
        expected = sorted(wh.con.execute(f"SELECT * FROM {name}").fetchall(), key=repr)
        if not expected:
            assert not (target / name).exists(), name
            continue
        assert _read_view(target, name) == expected, name
    current = wh.con.execute("SELECT count(*) FROM transactions_current").fetchone()
    everything = wh.con.execute("SELECT count(*) FROM transactions").fetchone()
    assert current is not None and everything is not None and current[0] < everything[0]
    manifest = json.loads((target / MANIFEST_NAME).read_text())
    listed = {p["path"] for parts in manifest["tables"].values() for p in parts}
    assert listed == {str(p.relative_to(target)) for p in target.rglob("*.parquet")}
