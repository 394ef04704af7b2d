"""The nightly highlights: a Markdown digest of one filing day, for a Prefect artifact.

``highlights_markdown`` reads the day's counts (``ingest_days``), its rejects, and the top
issuers by insider selling (value sold), buying (value bought) and awards (options, RSUs and
other units granted) from ``issuer_daily``, each with its ``form4 report`` summary line. The
flow publishes it with ``prefect.artifacts.create_markdown_artifact``; this module does not
import Prefect and only reads the warehouse. Neighbours: ``warehouse.insider_report`` (the
summary), ``warehouse.views`` (``issuer_daily``), ``flows.ingest_flow`` (publishes it).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb

from form4.warehouse.insider_report import build_report, summary_paragraph

__all__ = ["TOP", "highlights_markdown"]

TOP = 5

_RANKINGS: tuple[tuple[str, str, str, str], ...] = (
    # title, filter, order, figure shown
    (
        "Insider selling",
        "sold_shares > 0",
        "sold_value DESC NULLS LAST, sold_shares DESC",
        "sold_shares",
    ),
    (
        "Insider buying",
        "bought_shares > 0",
        "bought_value DESC NULLS LAST, bought_shares DESC",
        "bought_shares",
    ),
    (
        "Awards",
        "awarded > 0",
        "awarded DESC",
        "awarded",
    ),
)


def _num(d: Decimal | None) -> str:
    if d is None:
        return "n/a"
    return f"{int(d):,}" if d == d.to_integral_value() else format(d.normalize(), ",f")


def _money(d: Decimal | None) -> str:
    return "n/a" if d is None else f"${d:,.2f}"


def _counts(con: duckdb.DuckDBPyConnection, day: date) -> list[str]:
    rows = con.execute(
        "SELECT forms, status, index_entries, loaded, rejected, failed FROM ingest_days "
        "WHERE day = ? ORDER BY forms",
        [day],
    ).fetchall()
    lines = [
        "| forms | status | listed | loaded | rejected | failed |",
        "|---|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {f} | {s} | {n} | {ld} | {r} | {x} |" for f, s, n, ld, r, x in rows]
    if not rows:
        lines = ["The day has not been ingested."]
    by_form = con.execute(
        "SELECT form_type, count(*) FROM filings WHERE filing_date = ? GROUP BY ALL ORDER BY 1",
        [day],
    ).fetchall()
    if by_form:
        lines += [
            "",
            "Filings in the warehouse filed that day: "
            + ", ".join(f"{n} × Form {form}" for form, n in by_form)
            + ".",
        ]
    return lines


def _rejects(con: duckdb.DuckDBPyConnection, day: date) -> list[str]:
    rows = con.execute(
        "SELECT j.accession_number, j.stage, j.reason FROM rejects j "
        "JOIN raw_documents r USING (accession_number) WHERE r.filing_date = ? "
        "ORDER BY j.accession_number",
        [day],
    ).fetchall()
    if not rows:
        return ["None."]
    return [f"- `{a}` ({stage}): {reason}" for a, stage, reason in rows]


def highlights_markdown(con: duckdb.DuckDBPyConnection, day: date) -> str:
    """The Markdown digest of ``day`` (a filing date)."""
    cur = con.cursor()
    try:
        lines = [f"# form4 highlights for {day.isoformat()}", "", "## Counts", ""]
        lines += _counts(cur, day)
        lines += ["", "## Rejects", "", *_rejects(cur, day)]
        for title, where, order, figure in _RANKINGS:
            lines += ["", f"## {title} (top {TOP})", ""]
            rows = cur.execute(
                f"""
                SELECT * FROM (
                    SELECT issuer_cik, issuer_ticker, issuer_name, sold_shares, sold_value,
                        bought_shares, bought_value,
                        coalesce(options_awarded, 0) + coalesce(rsus_awarded, 0)
                            + coalesce(other_awarded, 0) AS awarded
                    FROM issuer_daily WHERE filing_date = ?)
                WHERE {where}
                ORDER BY {order}, issuer_cik LIMIT {TOP}
                """,
                [day],
            ).fetchall()
            if not rows:
                lines.append("None.")
            for rank, (cik, ticker, name, sold, sold_v, bought, bought_v, awarded) in enumerate(
                rows, 1
            ):
                figures = {
                    "sold_shares": f"{_num(sold)} shares sold ({_money(sold_v)})",
                    "bought_shares": f"{_num(bought)} shares bought ({_money(bought_v)})",
                    "awarded": f"{_num(awarded)} options, RSUs and other units awarded",
                }
                summary = summary_paragraph(build_report(cur, str(cik), day, day))
                label = f"{ticker} " if ticker else ""
                lines.append(f"{rank}. **{label}{name}**: {figures[figure]}. {summary}")
        return "\n".join(lines) + "\n"
    finally:
        cur.close()
