"""The nightly highlights (form4.flows.pipeline.highlights) on the crafted analyst day."""

from __future__ import annotations

from pathlib import Path

from form4.flows.pipeline.highlights import highlights_markdown
from form4.warehouse.db import Warehouse
from tests.analyst_day import DAY, analyst_day


def test_the_highlights_rank_issuers_and_quote_their_report_line(tmp_path: Path) -> None:
    """Guards against a digest without the day's counts or with figures unlike the report's."""
    with Warehouse(tmp_path / "h.duckdb") as wh:
        wh.load_batch(analyst_day())
        wh.mark_day(DAY, ("4", "4/A"), "done", index_entries=8)
        text = highlights_markdown(wh.con, DAY)
    assert text.startswith("# form4 highlights for 2026-02-02")
    assert "| 4,4/A | done | 8 |" in text
    assert "1. **NWTX Northwind Therapeutics Inc**: 156,469 shares sold ($281,884.20)." in text
    assert "150,000 shares bought ($261,000.00)" in text
    assert "Maren Lindqvist (President and Chief Executive Officer) sold 95,269 shares" in text
