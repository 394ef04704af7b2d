"""Analyst views on crafted days: cluster buys, issuer_daily figures, amendments applied."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from form4.parsers.records import ParsedFiling
from form4.warehouse.db import Warehouse
from tests.records_factory import make_filing, owner, row

CSMC = ("0002900002", "CSMC", "Contoso Semiconductor Corp")
D0 = date(2026, 3, 2)


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[Warehouse]:
    warehouse = Warehouse(tmp_path / "views.duckdb")
    yield warehouse
    warehouse.close()


def buy(
    n: int, who: str, day: date, issuer: tuple[str, str, str] = CSMC, shares: str = "100"
) -> ParsedFiling:
    return make_filing(
        f"0002900002-26-{n:06d}",
        issuer=issuer,
        owners=(owner(who, f"Insider {who}", director=True),),
        rows=(row(1, "P", shares, "10.00", on=day),),
        filed=day + timedelta(days=2),
    )


def test_three_insiders_buying_within_ten_days_make_a_cluster(wh: Warehouse) -> None:
    """Guards against the cluster-buy screen missing (or inventing) insider buying sprees."""
    wh.load_batch(
        [
            buy(1, "0000000001", D0),
            buy(2, "0000000002", D0 + timedelta(days=4)),
            buy(3, "0000000003", D0 + timedelta(days=9)),  # day 10 of the window: in
            buy(4, "0000000003", D0 + timedelta(days=9), shares="50"),  # same insider again
        ]
    )
    rows = wh.con.execute(
        "SELECT issuer_ticker, window_start, window_end, insiders, purchases, shares, value "
        "FROM cluster_buys"
    ).fetchall()
    assert rows == [
        ("CSMC", D0, D0 + timedelta(days=9), 3, 4, Decimal("350"), Decimal("3500")),
    ]


def test_buys_spread_over_more_than_ten_days_or_by_two_insiders_are_not_clusters(
    wh: Warehouse,
) -> None:
    """Guards against an off-by-one window or counting one insider's repeated buys."""
    other = ("0002900003", "FBKE", "Fabrikam Energy Inc")
    wh.load_batch(
        [
            buy(1, "0000000001", D0),
            buy(2, "0000000002", D0 + timedelta(days=5)),
            buy(3, "0000000003", D0 + timedelta(days=10)),  # one day too late
            buy(4, "0000000011", D0, issuer=other),
            buy(5, "0000000011", D0 + timedelta(days=1), issuer=other),
            buy(6, "0000000012", D0 + timedelta(days=2), issuer=other),
        ]
    )
    assert wh.con.execute("SELECT count(*) FROM cluster_buys").fetchall() == [(0,)]


def test_a_purchase_reported_by_a_fund_and_its_manager_counts_twice_as_insiders_once_as_shares(
    wh: Warehouse,
) -> None:
    """Guards against joint filings doubling the shares bought."""
    joint = make_filing(
        "0002900024-26-000001",
        issuer=CSMC,
        owners=(
            owner("0000000021", "Fund LP", ten_percent=True),
            owner("0000000022", "Fund Management LLC", ten_percent=True),
        ),
        rows=(row(1, "P", "1000", "10.00", on=D0),),
        filed=D0,
    )
    wh.load_batch([joint, buy(7, "0000000001", D0)])
    (cluster,) = wh.con.execute("SELECT insiders, purchases, shares FROM cluster_buys").fetchall()
    assert cluster == (3, 2, Decimal("1100"))
    daily = wh.con.execute(
        "SELECT insiders, bought_shares FROM issuer_daily WHERE filing_date = ?", [D0]
    ).fetchall()
    assert daily == [(2, Decimal("1000"))]


def test_issuer_daily_splits_sales_by_motive_and_awards_by_kind(wh: Warehouse) -> None:
    """Guards against tax-driven sales, withholding and grants being lumped together."""
    ceo = owner("0000000101", "Doe Jane", title="CEO")
    cfo = owner("0000000102", "Roe Rick", title="CFO")
    wh.load_batch(
        [
            make_filing(
                "0002900001-26-000001",
                owners=(ceo,),
                rows=(
                    row(1, "S", "1000", "2.00", cover=True),
                    row(2, "S", "500", "2.60", plan=True),
                    row(3, "F", "300", "2.10"),
                    row(1, "A", "10000", "0", derivative=True, kind="option"),
                    row(2, "A", "4000", "0", derivative=True, kind="rsu"),
                    row(3, "A", "1000", "0", derivative=True, kind="psu"),
                    row(4, "M", "700", "0", derivative=True, kind="option"),
                ),
            ),
            make_filing(
                "0002900001-26-000002",
                owners=(cfo,),
                rows=(row(1, "A", "250", "0"), row(2, "M", "700", "1.00")),
            ),
        ]
    )
    (day,) = wh.con.execute(
        "SELECT filings, insiders, transactions, sold_shares, sold_avg_price, "
        "sell_to_cover_shares, discretionary_sold_shares, tax_withheld_shares, "
        "options_awarded, rsus_awarded, other_awarded, exercised_shares FROM issuer_daily"
    ).fetchall()
    assert day == (
        2, 2, 9,
        Decimal("1500"), Decimal("2.2000"),  # (2000 + 1300) / 1500
        Decimal("1000"), Decimal("500"), Decimal("300"),
        Decimal("10000"), Decimal("5000"), Decimal("250"),
        Decimal("700"),  # the derivative leg only
    )  # fmt: skip


def test_views_show_an_amendment_instead_of_the_filing_it_amends(wh: Warehouse) -> None:
    """Guards against an amended sale being counted twice in analyst views."""
    ceo = owner("0000000101", "Doe Jane", title="CEO")
    original = make_filing(
        "0002900001-26-000001", owners=(ceo,), rows=(row(1, "S", "1000", "2.00"),), filed=D0
    )
    amendment = make_filing(
        "0002900001-26-000009",
        owners=(ceo,),
        rows=(row(1, "S", "900", "2.00"),),
        filed=D0 + timedelta(days=3),
        form_type="4/A",
        original=D0,
    )
    wh.load_batch([original, amendment])
    trades = wh.con.execute("SELECT accession_number, shares FROM insider_trades").fetchall()
    assert trades == [("0002900001-26-000009", Decimal("900"))]
    for view in ("open_market", "insider_trades"):
        assert wh.con.execute(f"SELECT sum(shares) FROM {view}").fetchall() == [(Decimal("900"),)]


def _scans(plan: object) -> Iterator[dict[str, object]]:
    """Every table scan of a JSON query plan, with its extra info."""
    if isinstance(plan, list):
        for child in plan:
            yield from _scans(child)
    elif isinstance(plan, dict):
        info = plan.get("extra_info")
        if isinstance(info, dict) and "Table" in info:
            yield info
        yield from _scans(plan.get("children", []))


@pytest.mark.parametrize("view", ["insider_trades", "issuer_daily", "open_market", "awards"])
def test_an_issuer_and_period_filter_reaches_every_big_table_scan(wh: Warehouse, view: str) -> None:
    """What keeps one-issuer, one-year questions fast at tens of millions of rows: the filter
    must be applied in the scans of the big tables (where DuckDB prunes row groups), not
    after a join of whole tables."""
    import json

    days = [date(2026, 2, 2), date(2026, 5, 4), date(2026, 8, 3)]
    wh.load_batch(
        [
            make_filing(
                f"0002900001-26-{n:06d}",
                issuer=(f"{n:010d}", f"T{n}", f"Issuer {n}"),
                owners=(owner(f"{n + 100:010d}", "Insider", title="CFO"),),
                rows=(row(1, "S", "100", "10"), row(2, "A", "50", kind="rsu", derivative=True)),
                filed=day,
            )
            for n, day in enumerate(days, start=1)
        ]
    )
    plan = wh.con.execute(
        f"EXPLAIN (FORMAT json) SELECT * FROM {view} "
        "WHERE issuer_cik = '0000000002' AND filing_date BETWEEN ? AND ?",
        [date(2026, 4, 1), date(2026, 6, 30)],
    ).fetchall()[0][1]
    scans = {
        str(s["Table"]).rsplit(".", 1)[-1]: str(s.get("Filters", ""))
        for s in _scans(json.loads(plan))
    }
    # the period prunes transactions statically; owners and filings are then pruned at run
    # time by the join's own filter on filing_date (visible only in EXPLAIN ANALYZE)
    assert "issuer_cik" in scans["transactions"] and "filing_date" in scans["transactions"]
    for table in ("reporting_owners", "filings"):
        if table in scans:
            assert "issuer_cik" in scans[table], (table, scans)


def test_rows_loaded_before_sale_reason_existed_count_by_is_sell_to_cover(
    wh: Warehouse,
) -> None:
    """Guards against an older warehouse (sale_reason NULL until reprocessed) reporting its
    tax sales as discretionary, or as nothing at all."""
    wh.load_batch(
        [
            make_filing(
                "0002900002-26-000091",
                issuer=CSMC,
                owners=(owner("0000000009", "Insider Nine", director=True),),
                rows=(
                    row(1, "S", "700", "10", cover=True),
                    row(2, "S", "300", "10"),
                    row(3, "S", "50", "10", reason="exercise_cost"),
                ),
                filed=D0,
            )
        ]
    )
    query = (
        "SELECT sell_to_cover_shares, exercise_sold_shares, discretionary_sold_shares, "
        "sold_shares FROM issuer_daily"
    )
    assert wh.con.execute(query).fetchall() == [
        (Decimal("700"), Decimal("50"), Decimal("300"), Decimal("1050"))
    ]
    wh.con.execute("UPDATE transactions SET sale_reason = NULL WHERE line_no < 3")
    assert wh.con.execute(query).fetchall() == [
        (Decimal("700"), Decimal("50"), Decimal("300"), Decimal("1050"))
    ]
    assert wh.con.execute("SELECT count(*) FROM open_market").fetchall() == [(1,)]
