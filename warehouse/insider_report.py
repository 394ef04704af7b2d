"""The insider-activity report of one issuer over a period: figures, text, Markdown, JSON.

``build_report`` reads the analyst views (``warehouse.views``; the same figure rulebook) for the
filings *filed* between two dates, one entry per reporting owner, and the issuer totals with
each transaction counted once (a fund and its manager reporting one purchase together are two
insiders but one purchase). ``summary_paragraph`` writes the plain-English headline, e.g.
"On 2026-02-02 at Northwind Therapeutics Inc (NWTX): Maren Lindqvist (CEO) sold 95,269 shares
at $1.80 to cover taxes on vested awards while receiving 1,387,931 options and 392,586 RSUs;
Daniel Okafor (CFO) and Priya Reyes (General Counsel) did the same."
Neighbours: ``warehouse.views`` (FIGURES), ``flows.cli.main`` (``form4 report``).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import duckdb

from form4.warehouse.views import FIGURES

__all__ = [
    "FIGURE_NAMES",
    "InsiderActivity",
    "IssuerReport",
    "build_report",
    "render_json",
    "render_markdown",
    "render_text",
    "summary_paragraph",
]

FIGURE_NAMES = tuple(FIGURES)
_CODES_OF: dict[str, str] = {
    "sold_shares": "transaction_code = 'S' AND NOT is_derivative",
    "sold_avg_price": "transaction_code = 'S' AND NOT is_derivative",
    "sell_to_cover_shares": "transaction_code = 'S' AND NOT is_derivative AND is_sell_to_cover",
    "discretionary_sold_shares": (
        "transaction_code = 'S' AND NOT is_derivative AND NOT coalesce(is_sell_to_cover, false)"
    ),
    "tax_withheld_shares": "transaction_code = 'F' AND NOT is_derivative",
    "bought_shares": "transaction_code = 'P' AND NOT is_derivative",
    "options_awarded": "transaction_code = 'A' AND security_kind = 'option'",
    "rsus_awarded": "transaction_code = 'A' AND security_kind IN ('rsu', 'psu')",
    "other_awarded": (
        "transaction_code = 'A' AND coalesce(security_kind, '') NOT IN ('option', 'rsu', 'psu')"
    ),
    "exercised_shares": "transaction_code IN ('M', 'X', 'O') AND is_derivative",
}
_COMPANY = re.compile(
    r"\b(?:llc|l\.l\.c|lp|l\.p|inc|corp|co|ltd|fund|trust|partners|capital|holdings|"
    r"management|group|plc|gmbh|n\.v|s\.a|foundation|bank|advisors|ventures)\b\.?",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class InsiderActivity:
    owner_cik: str
    owner_name: str | None
    roles: tuple[str, ...]
    figures: dict[str, Decimal | None]
    shares_owned_after: Decimal | None
    accessions: dict[str, tuple[str, ...]]  # figure name -> accession numbers behind it
    sold_under_10b5_1: bool = False
    transactions: int = 0  # rows reported in the period, of any code

    def get(self, name: str) -> Decimal:
        return self.figures.get(name) or Decimal(0)


@dataclass(frozen=True, slots=True)
class IssuerReport:
    issuer_query: str
    issuer_cik: str | None
    issuer_name: str | None
    issuer_ticker: str | None
    start: date
    end: date
    insiders: tuple[InsiderActivity, ...]
    totals: dict[str, Decimal | None] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.insiders


def _resolve_issuer(
    con: duckdb.DuckDBPyConnection, issuer: str
) -> tuple[str, str | None, str | None] | None:
    text = issuer.strip()
    if text.isdigit():
        row = con.execute(
            "SELECT issuer_cik, any_value(issuer_name), any_value(issuer_ticker) FROM filings "
            "WHERE issuer_cik = ? GROUP BY issuer_cik",
            [text.zfill(10)],
        ).fetchall()
    else:
        row = con.execute(
            "SELECT issuer_cik, arg_max(issuer_name, filing_date), "
            "arg_max(issuer_ticker, filing_date) FROM filings "
            "WHERE upper(trim(issuer_ticker)) = upper(?) GROUP BY issuer_cik "
            "ORDER BY max(filing_date) DESC LIMIT 1",
            [text],
        ).fetchall()
    return (row[0][0], row[0][1], row[0][2]) if row else None


def _roles(
    is_director: bool | None,
    is_officer: bool | None,
    ten: bool | None,
    other: bool | None,
    title: str | None,
    other_text: str | None,
) -> tuple[str, ...]:
    roles = []
    if is_officer:
        roles.append(title or "Officer")
    if is_director:
        roles.append("Director")
    if ten:
        roles.append("10% owner")
    if other:
        roles.append(other_text or "Other")
    return tuple(roles)


def build_report(
    con: duckdb.DuckDBPyConnection, issuer: str, start: date, end: date
) -> IssuerReport:
    """The report of ``issuer`` (ticker or CIK) for filings filed from ``start`` to ``end``."""
    resolved = _resolve_issuer(con, issuer)
    if resolved is None:
        return IssuerReport(issuer, None, None, None, start, end, ())
    cik, name, ticker = resolved
    figures_sql = ", ".join(f"{sql} AS {fig}" for fig, sql in FIGURES.items())
    accession_sql = ", ".join(
        f"list(DISTINCT accession_number ORDER BY accession_number) FILTER (WHERE {cond}) AS {fig}"
        for fig, cond in _CODES_OF.items()
    )
    period = "issuer_cik = ? AND filing_date BETWEEN ? AND ?"
    rows = con.execute(
        f"""
        SELECT owner_cik, any_value(owner_name), bool_or(is_director), bool_or(is_officer),
            bool_or(is_ten_percent_owner), bool_or(is_other), any_value(officer_title),
            any_value(other_text),
            arg_max(shares_owned_after, (transaction_date, accepted_at, line_no))
                FILTER (WHERE NOT is_derivative AND shares_owned_after IS NOT NULL),
            bool_and(is_10b5_1) FILTER (WHERE transaction_code = 'S' AND NOT is_derivative
                AND NOT coalesce(is_sell_to_cover, false)),
            count(*), {figures_sql}, {accession_sql}
        FROM insider_trades WHERE {period}
        GROUP BY owner_cik ORDER BY owner_cik
        """,
        [cik, start, end],
    ).fetchall()
    # insiders who filed in the period without a transaction (holdings only) still appear
    holders = con.execute(
        f"""
        SELECT o.owner_cik, any_value(o.owner_name), bool_or(o.is_director), bool_or(o.is_officer),
            bool_or(o.is_ten_percent_owner), bool_or(o.is_other), any_value(o.officer_title),
            any_value(o.other_text)
        FROM filings f JOIN reporting_owners o USING (accession_number)
        WHERE {period.replace("issuer_cik", "f.issuer_cik").replace("filing_date", "f.filing_date")}
        GROUP BY o.owner_cik
        """,
        [cik, start, end],
    ).fetchall()
    n = len(FIGURES)
    insiders: dict[str, InsiderActivity] = {}
    for row in rows:
        figures = dict(zip(FIGURES, row[11 : 11 + n], strict=True))
        accessions = {
            fig: tuple(value or ())
            for fig, value in zip(_CODES_OF, row[11 + n :], strict=True)
            if value
        }
        insiders[row[0]] = InsiderActivity(
            owner_cik=row[0],
            owner_name=row[1],
            roles=_roles(*row[2:8]),
            figures=figures,
            shares_owned_after=row[8],
            accessions=accessions,
            sold_under_10b5_1=bool(row[9]),
            transactions=int(row[10]),
        )
    for row in holders:
        if row[0] not in insiders:
            insiders[row[0]] = InsiderActivity(
                row[0], row[1], _roles(*row[2:8]), dict.fromkeys(FIGURES), None, {}
            )
    totals_row = con.execute(
        f"""
        SELECT {figures_sql}
        FROM transactions_current t JOIN filings f USING (accession_number)
        WHERE {period.replace("issuer_cik", "f.issuer_cik").replace("filing_date", "f.filing_date")}
        """,
        [cik, start, end],
    ).fetchall()
    totals = dict(zip(FIGURES, totals_row[0], strict=True)) if totals_row else {}
    return IssuerReport(issuer, cik, name, ticker, start, end, tuple(insiders.values()), totals)


# ----------------------------------------------------------------- wording


def display_name(name: str | None) -> str:
    """EDGAR lists people as "Last First Middle"; show "First Middle Last" (not companies)."""
    if not name:
        return "an unnamed insider"
    parts = name.split()
    if _COMPANY.search(name) or len(parts) < 2 or len(parts) > 4:
        return name
    return (
        " ".join([*parts[1:], parts[0]]).title()
        if name.isupper()
        else " ".join([*parts[1:], parts[0]])
    )


def _n(value: Decimal) -> str:
    return f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.4f}".rstrip("0")


def _price(value: Decimal | None) -> str:
    return "" if value is None else f" at ${value:,.2f}"


def _activity(person: InsiderActivity) -> tuple[str, tuple[bool, ...]]:
    """A phrase for what one insider did, and its shape (to say "did the same")."""
    parts: list[str] = []
    cover, disc = person.get("sell_to_cover_shares"), person.get("discretionary_sold_shares")
    avg = person.figures.get("sold_avg_price")
    if cover:
        price = _price(avg if not disc else None)
        parts.append(f"sold {_n(cover)} shares{price} to cover taxes on vested awards")
    if disc:
        plan = " under a Rule 10b5-1 plan" if person.sold_under_10b5_1 else ""
        parts.append(f"sold {_n(disc)} shares{_price(avg if not cover else None)}{plan}")
    if person.get("bought_shares"):
        parts.append(f"bought {_n(person.get('bought_shares'))} shares")
    if person.get("tax_withheld_shares"):
        parts.append(f"had {_n(person.get('tax_withheld_shares'))} shares withheld for taxes")
    if person.get("exercised_shares"):
        parts.append(f"exercised {_n(person.get('exercised_shares'))} derivative securities")
    grants = [
        f"{_n(person.get(fig))} {label}"
        for fig, label in (
            ("options_awarded", "options"),
            ("rsus_awarded", "RSUs"),
            ("other_awarded", "other awards"),
        )
        if person.get(fig)
    ]
    shape = (
        bool(cover),
        bool(disc),
        bool(person.get("bought_shares")),
        bool(person.get("tax_withheld_shares")),
        bool(person.get("exercised_shares")),
        *(bool(person.get(f)) for f in ("options_awarded", "rsus_awarded", "other_awarded")),
    )
    text = ", ".join(parts)
    if grants:
        text = f"{text} while receiving {_join(grants)}" if text else f"received {_join(grants)}"
    if not text:
        text = (
            f"reported {person.transactions} other transaction(s) (gifts, conversions, ...)"
            if person.transactions
            else "filed without a reported transaction"
        )
    return text, shape


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _who(person: InsiderActivity) -> str:
    role = f" ({person.roles[0]})" if person.roles else ""
    return f"{display_name(person.owner_name)}{role}"


def summary_paragraph(report: IssuerReport) -> str:
    period = (
        f"On {report.start}"
        if report.start == report.end
        else f"From {report.start} to {report.end}"
    )
    if report.issuer_cik is None:
        return f"No filings in the warehouse for issuer {report.issuer_query!r}."
    label = f"{report.issuer_name or report.issuer_cik}" + (
        f" ({report.issuer_ticker})" if report.issuer_ticker else ""
    )
    if report.empty:
        return f"{period}, no insider filings for {label}."
    people = sorted(
        report.insiders,
        key=lambda p: (
            -(
                p.get("sold_shares")
                + p.get("bought_shares")
                + p.get("options_awarded")
                + p.get("rsus_awarded")
                + p.get("other_awarded")
            ),
            p.owner_cik,
        ),
    )
    groups: list[tuple[str, list[InsiderActivity]]] = []
    shapes: dict[tuple[bool, ...], int] = {}
    for person in people:
        text, shape = _activity(person)
        if shape in shapes and any(shape):
            groups[shapes[shape]][1].append(person)
        else:
            shapes[shape] = len(groups)
            groups.append((text, [person]))
    sentences = []
    for text, members in groups:
        head = f"{_who(members[0])} {text}"
        if len(members) > 1:
            others = _join([_who(p) for p in members[1:]])
            head += f"; {others} did the same"
        sentences.append(head)
    return f"{period} at {label}: " + "; ".join(sentences) + "."


# ----------------------------------------------------------------- rendering

_COLUMNS = (
    ("sold_shares", "sold"),
    ("sold_avg_price", "avg $"),
    ("sell_to_cover_shares", "to cover"),
    ("discretionary_sold_shares", "discretionary"),
    ("tax_withheld_shares", "F withheld"),
    ("bought_shares", "bought"),
    ("options_awarded", "options"),
    ("rsus_awarded", "RSUs"),
    ("other_awarded", "other awards"),
    ("exercised_shares", "exercised"),
)


def _cell(value: Decimal | None, price: bool = False) -> str:
    if value is None:
        return ""
    return f"{value:,.2f}" if price else _n(value)


def _table_rows(report: IssuerReport) -> tuple[list[str], list[list[str]]]:
    header = ["insider", "roles", *(label for _, label in _COLUMNS), "owned after"]
    rows = []
    for p in report.insiders:
        rows.append(
            [
                display_name(p.owner_name),
                ", ".join(p.roles),
                *(_cell(p.figures.get(f), f == "sold_avg_price") for f, _ in _COLUMNS),
                _cell(p.shares_owned_after),
            ]
        )
    rows.append(
        [
            "TOTAL",
            "",
            *(_cell(report.totals.get(f), f == "sold_avg_price") for f, _ in _COLUMNS),
            "",
        ]
    )
    return header, rows


def render_text(report: IssuerReport) -> str:
    lines = [summary_paragraph(report)]
    if report.empty:
        return lines[0] + "\n"
    header, rows = _table_rows(report)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines.append("")
    for row in [header, *rows]:
        lines.append(
            "  ".join(
                c.rjust(w) if i > 1 else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
    lines.append("")
    for p in report.insiders:
        accs = sorted({a for values in p.accessions.values() for a in values})
        if accs:
            lines.append(f"{display_name(p.owner_name)}: {', '.join(accs)}")
    return "\n".join(lines) + "\n"


def render_markdown(report: IssuerReport) -> str:
    out = [summary_paragraph(report), ""]
    if report.empty:
        return out[0] + "\n"
    header, rows = _table_rows(report)
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "|".join("---" if i < 2 else "---:" for i in range(len(header))) + "|")
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        normal = value.normalize()
        return format(normal, "f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def render_json(report: IssuerReport) -> str:
    """JSON with decimals as strings (exact), dates as ISO strings."""
    insiders = []
    for p in report.insiders:
        item = asdict(p)
        figures = item.pop("figures")
        item.update(figures)
        item["roles"] = list(p.roles)
        insiders.append(item)
    doc = {
        "issuer": {
            "query": report.issuer_query,
            "cik": report.issuer_cik,
            "name": report.issuer_name,
            "ticker": report.issuer_ticker,
        },
        "period": {"start": report.start, "end": report.end},
        "insiders": insiders,
        "totals": report.totals,
        "summary": summary_paragraph(report),
    }
    return json.dumps(_jsonable(doc), indent=2) + "\n"
