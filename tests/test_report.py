"""``form4 report``: the insider picture of an issuer's day, from crafted filings and the demo."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from form4.flows.cli.main import main
from form4.warehouse.db import Warehouse
from form4.warehouse.insider_report import (
    build_report,
    render_markdown,
    render_text,
    summary_paragraph,
)
from tests.records_factory import make_filing, owner, row

DAY = date(2026, 2, 2)
CEO = owner("0000000101", "Lindqvist Maren", title="CEO")
CFO = owner("0000000102", "Okafor Daniel", title="CFO")
GC = owner("0000000103", "Reyes Priya", title="General Counsel")
EVP = owner("0000000104", "Moreau Lucien", title="EVP R&D")
DIR = owner("0000000105", "Sorensen Ingrid", director=True)


def tax_sale_and_grants(n: int, who: object, sold: str, options: str, rsus: str) -> object:
    return make_filing(
        f"0002900001-26-{n:06d}",
        owners=(who,),  # type: ignore[arg-type]
        rows=(
            row(1, "S", sold, "1.80", cover=True, after="100000"),
            row(1, "A", options, "0", derivative=True, kind="option"),
            row(2, "A", rsus, "0", derivative=True, kind="rsu"),
        ),
    )


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "report.duckdb"
    with Warehouse(path) as wh:
        wh.load_batch(
            [
                tax_sale_and_grants(11, CEO, "95269", "1387931", "392586"),  # type: ignore[list-item]
                tax_sale_and_grants(12, CFO, "31756", "462644", "130862"),  # type: ignore[list-item]
                tax_sale_and_grants(13, GC, "23817", "346983", "98147"),  # type: ignore[list-item]
                # the EVP's original filing, then a 4/A correcting its sale: only the 4/A counts
                make_filing(
                    "0002900001-26-000014",
                    owners=(EVP,),
                    rows=(row(1, "S", "5000", "1.90", plan=True), row(2, "F", "800", "1.85")),
                ),
                make_filing(
                    "0002900001-26-000015",
                    owners=(EVP,),
                    rows=(row(1, "S", "4000", "1.90", plan=True), row(2, "F", "800", "1.85")),
                    form_type="4/A",
                    original=DAY,
                ),
                make_filing(
                    "0002900001-26-000016",
                    owners=(DIR,),
                    rows=(row(1, "P", "50000", "1.84", after="162500"),),
                ),
                # another day: outside the period
                make_filing(
                    "0002900001-26-000017",
                    owners=(DIR,),
                    rows=(row(1, "P", "7", "1.84"),),
                    filed=DAY + timedelta(days=1),
                ),
            ]
        )
    yield path


def test_the_report_gives_each_insider_figures_by_motive_and_kind(db: Path) -> None:
    """Guards against mixing tax sales with discretionary ones, or options with RSUs."""
    with Warehouse(db) as wh:
        report = build_report(wh.con, "nwtx", DAY, DAY)
    people = {p.owner_name: p for p in report.insiders}
    assert set(people) == {
        "Lindqvist Maren", "Okafor Daniel", "Reyes Priya", "Moreau Lucien", "Sorensen Ingrid"
    }  # fmt: skip
    ceo = people["Lindqvist Maren"]
    assert ceo.roles == ("CEO",)
    assert ceo.figures["sell_to_cover_shares"] == Decimal("95269")
    assert ceo.figures["discretionary_sold_shares"] is None
    assert ceo.figures["sold_avg_price"] == Decimal("1.8000")
    assert (ceo.figures["options_awarded"], ceo.figures["rsus_awarded"]) == (
        Decimal("1387931"), Decimal("392586")
    )  # fmt: skip
    assert ceo.shares_owned_after == Decimal("100000")
    assert ceo.accessions["sell_to_cover_shares"] == ("0002900001-26-000011",)
    evp = people["Moreau Lucien"]
    assert evp.figures["discretionary_sold_shares"] == Decimal("4000")  # the 4/A, not 5000
    assert evp.figures["tax_withheld_shares"] == Decimal("800")
    assert evp.accessions["tax_withheld_shares"] == ("0002900001-26-000015",)
    assert evp.sold_under_10b5_1
    assert people["Sorensen Ingrid"].figures["bought_shares"] == Decimal("50000")  # not the 7
    totals = report.totals
    assert totals["sold_shares"] == Decimal("95269") + 31756 + 23817 + 4000
    assert totals["sell_to_cover_shares"] == Decimal("150842")
    assert totals["tax_withheld_shares"] == Decimal("800")


def test_the_summary_reads_like_the_headline_an_analyst_writes(db: Path) -> None:
    """Guards against a summary that hides who sold to cover taxes and what was granted."""
    with Warehouse(db) as wh:
        text = summary_paragraph(build_report(wh.con, "0002900001", DAY, DAY))
    assert text.startswith("On 2026-02-02 at Northwind Therapeutics Inc (NWTX): ")
    assert (
        "Maren Lindqvist (CEO) sold 95,269 shares at $1.80 to cover taxes on vested awards "
        "while receiving 1,387,931 options and 392,586 RSUs; Daniel Okafor (CFO) sold 31,756 "
        "shares at $1.80 to cover taxes on vested awards while receiving 462,644 options and "
        "130,862 RSUs; Priya Reyes (General Counsel) sold 23,817 shares" in text
    )
    assert "did the same" not in text  # their figures differ
    assert "Lucien Moreau (EVP R&D) sold 4,000 shares at $1.90 under a Rule 10b5-1 plan" in text
    assert "Ingrid Sorensen (Director) bought 50,000 shares" in text


def test_text_markdown_and_json_outputs_carry_the_same_figures(db: Path) -> None:
    """Guards against one output format drifting from the others."""
    with Warehouse(db) as wh:
        report = build_report(wh.con, "NWTX", DAY, DAY)
    text, md = render_text(report), render_markdown(report)
    assert "95,269" in text and "95,269" in md and "| TOTAL |" in md
    assert "0002900001-26-000015" in text and "0002900001-26-000014" not in text


def test_form4_report_json_has_the_documented_shape(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Guards against the JSON contract (issuer, period, insiders, totals, summary) breaking."""
    args = ["report", "--issuer", "NWTX", "--date", "2026-02-02", "--format", "json"]
    assert main([*args, "--db", str(db)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"issuer", "period", "insiders", "totals", "summary"}
    assert doc["period"] == {"start": "2026-02-02", "end": "2026-02-02"}
    ceo = next(p for p in doc["insiders"] if p["owner_cik"] == "0000000101")
    assert ceo["sell_to_cover_shares"] == "95269" and ceo["sold_avg_price"] == "1.8"
    assert doc["totals"]["rsus_awarded"] == "621595"


def test_an_unknown_issuer_or_an_empty_period_is_an_empty_report_not_an_error(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Guards against a traceback (or a non-zero exit) for a question with no answer."""
    assert main(["report", "--issuer", "ZZZZ", "--date", "2026-02-02", "--db", str(db)]) == 0
    assert "No filings in the warehouse for issuer 'ZZZZ'" in capsys.readouterr().out
    args = ["report", "--issuer", "NWTX", "--date", "2026-03-02", "--format", "json"]
    assert main([*args, "--db", str(db)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["insiders"] == [] and "no insider filings" in doc["summary"]
    with pytest.raises(SystemExit) as bad_date:
        main(["report", "--issuer", "NWTX", "--date", "2026-02-30", "--db", str(db)])
    assert bad_date.value.code == 2
    assert capsys.readouterr().err.startswith("form4: error: argument --date: invalid date")


def _report(tmp_path: Path, filings: list[object]) -> str:
    with Warehouse(tmp_path / "r.duckdb") as wh:
        wh.load_batch(filings)  # type: ignore[arg-type]
        return summary_paragraph(build_report(wh.con, "NWTX", DAY, DAY))


def test_did_the_same_is_said_only_of_insiders_whose_figures_are_identical(
    tmp_path: Path,
) -> None:
    """Guards against "X bought 150,000 shares; Y and Z did the same" when Y and Z bought
    2,500 and 1,000: the same kind of trade is not the same trade."""
    buys = [
        make_filing(f"0002900001-26-{n:06d}", owners=(who,), rows=(row(1, "P", shares, "2"),))
        for n, who, shares in ((21, CEO, "150000"), (22, CFO, "2500"), (23, GC, "1000"))
    ]
    text = _report(tmp_path, buys)
    assert "did the same" not in text
    assert "Daniel Okafor (CFO) bought 2,500 shares" in text
    assert "Priya Reyes (General Counsel) bought 1,000 shares" in text
    same = [
        make_filing(f"0002900001-26-{n:06d}", owners=(who,), rows=(row(1, "P", "500", "2"),))
        for n, who in ((24, EVP, ), (25, DIR, ))
    ]  # fmt: skip
    text = _report(tmp_path / "same", same) if (tmp_path / "same").mkdir() is None else ""
    assert "bought 500 shares; Ingrid Sorensen (Director) did the same" in text


def test_joint_filers_are_shown_once_with_every_name_so_figures_do_not_double(
    tmp_path: Path,
) -> None:
    """Guards against one filing by a fund and its manager reading as two sales of 10,000
    shares when the issuer's total is 10,000."""
    fund = owner("0000000201", "Founders Fund IV LP", ten_percent=True)
    manager = owner("0000000202", "Thiel Peter", ten_percent=True)
    joint = make_filing(
        "0002900001-26-000031", owners=(fund, manager), rows=(row(1, "S", "10000", "5"),)
    )
    with Warehouse(tmp_path / "j.duckdb") as wh:
        wh.load_batch([joint])
        report = build_report(wh.con, "NWTX", DAY, DAY)
    (entry,) = report.insiders
    assert entry.joint_owners == ("Peter Thiel",)
    assert entry.figures["sold_shares"] == report.totals["sold_shares"] == Decimal("10000")
    text = summary_paragraph(report)
    assert text.count("10,000") == 1
    assert "Founders Fund IV LP (10% owner) and Peter Thiel (joint filers, the same shares)" in text
    assert "Founders Fund IV LP and Peter Thiel (same shares)" in render_text(report)


def test_an_owner_sharing_some_rows_is_marked_as_reporting_the_same_shares(
    tmp_path: Path,
) -> None:
    """Guards against overlapping filers (a manager on one of a fund's two filings) whose
    figures seem to add up to more than the issuer's."""
    fund = owner("0000000201", "Founders Fund IV LP", ten_percent=True)
    manager = owner("0000000202", "Thiel Peter", ten_percent=True)
    text = _report(
        tmp_path,
        [
            make_filing("0002900001-26-000032", owners=(fund,), rows=(row(1, "S", "700", "5"),)),
            make_filing(
                "0002900001-26-000033", owners=(fund, manager), rows=(row(1, "S", "300", "5"),)
            ),
        ],
    )
    assert "Founders Fund IV LP (10% owner) (shares also reported by Peter Thiel) sold 1,000" in (
        text
    )
    assert "Peter Thiel (10% owner) (shares also reported by Founders Fund IV LP) sold 300" in text


def test_gifts_and_other_codes_get_their_own_figures_with_accession_numbers(
    tmp_path: Path,
) -> None:
    """Guards against a gift or a conversion summarised as "2 other transaction(s)", with no
    way to find the filing behind it."""
    filings = [
        make_filing("0002900001-26-000041", owners=(DIR,), rows=(row(1, "G", "1200", "0"),)),
        make_filing(
            "0002900001-26-000042",
            owners=(DIR,),
            rows=(row(1, "C", "3000", "0"), row(2, "J", "40", None)),
        ),
    ]
    with Warehouse(tmp_path / "g.duckdb") as wh:
        wh.load_batch(filings)  # type: ignore[arg-type]
        report = build_report(wh.con, "NWTX", DAY, DAY)
    (person,) = report.insiders
    assert person.figures["gifted_shares"] == Decimal("1200")
    assert person.accessions["gifted_shares"] == ("0002900001-26-000041",)
    assert [(o.code, o.shares, o.accessions) for o in person.other] == [
        ("C", Decimal("3000"), ("0002900001-26-000042",)),
        ("J", Decimal("40"), ("0002900001-26-000042",)),
    ]
    text = summary_paragraph(report)
    assert "gave 1,200 shares as gifts (0002900001-26-000041)" in text
    assert "reported 1 code C transaction(s) (conversion of derivative security)" in text
    assert "other transaction" not in text
    assert "code J: Other acquisition or disposition" in render_text(report)
    markdown = render_markdown(report)
    assert "code C, Conversion of derivative security: 1 transaction(s), 3,000 shares" in markdown
    assert "(0002900001-26-000042)" in markdown


def test_the_summary_says_which_reason_each_insiders_sales_had(tmp_path: Path) -> None:
    """Guards against sales to pay an option's taxes or price read as discretionary selling."""
    filing = make_filing(
        "0002900001-26-000051",
        owners=(CEO,),
        rows=(
            row(1, "S", "100", "3", reason="exercise_tax"),
            row(2, "S", "200", "3", reason="exercise_cost"),
            row(3, "S", "300", "3", reason="discretionary"),
        ),
    )
    with Warehouse(tmp_path / "e.duckdb") as wh:
        wh.load_batch([filing])
        report = build_report(wh.con, "NWTX", DAY, DAY)
        daily = wh.con.execute(
            "SELECT exercise_sold_shares, discretionary_sold_shares FROM issuer_daily"
        ).fetchall()
        open_market = wh.con.execute(
            "SELECT shares, sale_reason FROM open_market WHERE transaction_code = 'S'"
        ).fetchall()
    assert open_market == [(Decimal("300"), "discretionary")]  # exercise sales stay out
    (ceo,) = report.insiders
    assert ceo.figures["exercise_sold_shares"] == Decimal("300")
    assert ceo.figures["discretionary_sold_shares"] == Decimal("300")
    assert daily == [(Decimal("300"), Decimal("300"))]
    text = summary_paragraph(report)
    assert (
        "sold 100 shares to pay the taxes on an option exercise, sold 200 shares to pay an "
        "option exercise price, sold 300 shares" in text
    )


def test_an_exercises_share_leg_is_not_reported_again_as_another_transaction(
    tmp_path: Path,
) -> None:
    """Guards against one option exercise (Table II, with its Table I share leg) showing up
    both as an exercise and as "1 code M transaction" of something else."""
    filing = make_filing(
        "0002900001-26-000061",
        owners=(CEO,),
        rows=(
            row(1, "M", "2000", "1"),
            row(2, "S", "2000", "3"),
            row(1, "M", "2000", "1", derivative=True, kind="option"),
        ),
    )
    with Warehouse(tmp_path / "m.duckdb") as wh:
        wh.load_batch([filing])
        report = build_report(wh.con, "NWTX", DAY, DAY)
    (ceo,) = report.insiders
    assert ceo.other == ()
    assert ceo.figures["exercised_shares"] == Decimal("2000")
    text = summary_paragraph(report)
    assert "sold 2,000 shares at $3.00 (discretionary), exercised 2,000 derivative" in text
    assert "code M" not in text
