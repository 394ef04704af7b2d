"""The insider-activity report of one issuer over a period: figures, text, Markdown, JSON.

``build_report`` reads the analyst views (``warehouse.views``; the same figure rulebook) for the
filings *filed* between two dates, one entry per reporting owner, and the issuer totals with
each transaction counted once (a fund and its manager reporting one purchase together are two
insiders but one purchase). Owners who reported exactly the same rows (joint filers of one
filing) are one entry with all their names; an owner whose rows are partly someone else's is
marked as sharing them, so insiders' figures never seem to add up to more than the totals.
Sales are split by ``sale_reason``; gifts (G) and every code no figure counts get their own
lines with accession numbers. ``summary_paragraph`` writes the plain-English headline, e.g.
"On 2026-02-02 at Northwind Therapeutics Inc (NWTX): Maren Lindqvist (CEO) sold 95,269 shares
at $1.80 to cover taxes on vested awards while receiving 1,387,931 options and 392,586 RSUs;
Daniel Okafor (CFO) sold 31,756 shares ..." ("did the same" only for identical figures).
Neighbours: ``warehouse.views`` (FIGURES), ``flows.cli.main`` (``form4 report``).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

import duckdb

from form4.parsers.codes import code_info
from form4.warehouse.views import FIGURE_ROWS, FIGURES, REASON_SQL

__all__ = [
    "FIGURE_NAMES",
    "InsiderActivity",
    "OtherActivity",
    "IssuerReport",
    "build_report",
    "render_json",
    "render_markdown",
    "render_text",
    "summary_paragraph",
]

FIGURE_NAMES = tuple(FIGURES)
_CODES_OF: dict[str, str] = dict(FIGURE_ROWS)
_CODES_OF["sold_avg_price"] = FIGURE_ROWS["sold_shares"]
# Rows that no figure counts (conversions, other dispositions, Table II sales, ...); the
# share leg (Table I) of an exercise is the exercise counted in Table II, not another event.
_COUNTED = [*FIGURE_ROWS.values(), "transaction_code IN ('M', 'X', 'O') AND NOT is_derivative"]
_OTHER_ROWS = "NOT coalesce(" + " OR ".join(f"({c})" for c in _COUNTED) + ", false)"
_SALE_REASONS = ("sell_to_cover", "exercise_tax", "exercise_cost", "discretionary")
_COMPANY = re.compile(
    r"\b(?:llc|l\.l\.c|lp|l\.p|inc|corp|co|ltd|fund|trust|partners|capital|holdings|"
    r"management|group|plc|gmbh|n\.v|s\.a|foundation|bank|advisors|ventures)\b\.?",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class OtherActivity:
    """Rows of one code (and table) that no figure counts, for one insider."""

    code: str
    is_derivative: bool
    description: str
    transactions: int
    shares: Decimal | None
    accessions: tuple[str, ...]


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
    sale_reasons: dict[str, Decimal] = field(default_factory=dict)  # reason -> shares sold
    other: tuple[OtherActivity, ...] = ()
    # owners who reported exactly these rows too (joint filers): one entry, all the names
    joint_owners: tuple[str, ...] = ()
    # owners who reported some of these rows too: the same shares, not more of them
    shares_also_reported_by: tuple[str, ...] = ()

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
    reasons_sql = ", ".join(
        f"sum(shares) FILTER (WHERE {_CODES_OF['sold_shares']} AND {REASON_SQL} = '{reason}')"
        for reason in _SALE_REASONS
    )
    period = "issuer_cik = ? AND filing_date BETWEEN ? AND ?"
    rows = con.execute(
        f"""
        SELECT owner_cik, any_value(owner_name), bool_or(is_director), bool_or(is_officer),
            bool_or(is_ten_percent_owner), bool_or(is_other), any_value(officer_title),
            any_value(other_text),
            arg_max(shares_owned_after, (transaction_date, accepted_at, line_no))
                FILTER (WHERE NOT is_derivative AND shares_owned_after IS NOT NULL),
            bool_and(is_10b5_1) FILTER (WHERE {_CODES_OF["discretionary_sold_shares"]}),
            count(*), {reasons_sql},
            list(DISTINCT accession_number || '/' || is_derivative || '/' || line_no),
            {figures_sql}, {accession_sql}
        FROM insider_trades WHERE {period}
        GROUP BY owner_cik ORDER BY owner_cik
        """,
        [cik, start, end],
    ).fetchall()
    others: dict[str, list[OtherActivity]] = {}
    for owner_cik, code, derivative, count, shares, accs in con.execute(
        f"""
        SELECT owner_cik, coalesce(transaction_code, '?'), is_derivative, count(*), sum(shares),
            list(DISTINCT accession_number ORDER BY accession_number)
        FROM insider_trades WHERE {period} AND {_OTHER_ROWS}
        GROUP BY ALL ORDER BY ALL
        """,
        [cik, start, end],
    ).fetchall():
        info = code_info(code)
        description = (info.description if info else None) or "an unofficial code"
        others.setdefault(owner_cik, []).append(
            OtherActivity(code, bool(derivative), description, int(count), shares, tuple(accs))
        )
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
    first = 11 + len(_SALE_REASONS) + 1  # where the figures start
    insiders: dict[str, InsiderActivity] = {}
    row_keys: dict[str, frozenset[str]] = {}
    for row in rows:
        figures = dict(zip(FIGURES, row[first : first + n], strict=True))
        accessions = {
            fig: tuple(value or ())
            for fig, value in zip(_CODES_OF, row[first + n :], strict=True)
            if value
        }
        reasons = {
            reason: shares
            for reason, shares in zip(_SALE_REASONS, row[11 : 11 + len(_SALE_REASONS)], strict=True)
            if shares
        }
        row_keys[row[0]] = frozenset(row[first - 1] or ())
        insiders[row[0]] = InsiderActivity(
            owner_cik=row[0],
            owner_name=row[1],
            roles=_roles(*row[2:8]),
            figures=figures,
            shares_owned_after=row[8],
            accessions=accessions,
            sold_under_10b5_1=bool(row[9]),
            transactions=int(row[10]),
            sale_reasons=reasons,
            other=tuple(others.get(row[0], ())),
        )
    insiders = _merge_joint_filers(insiders, row_keys)
    for row in holders:
        if row[0] not in row_keys:  # merged joint filers are in row_keys too
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


def _merge_joint_filers(
    insiders: dict[str, InsiderActivity], row_keys: dict[str, frozenset[str]]
) -> dict[str, InsiderActivity]:
    """Owners with exactly the same rows become one entry (the first one's figures, every
    name); owners whose rows partly overlap say who else reported those shares."""
    merged: dict[str, InsiderActivity] = {}
    by_rows: dict[frozenset[str], str] = {}
    for cik, person in insiders.items():
        keys = row_keys[cik]
        if keys and keys in by_rows:
            lead = merged[by_rows[keys]]
            name = display_name(person.owner_name)
            roles = tuple(dict.fromkeys((*lead.roles, *person.roles)))
            merged[lead.owner_cik] = replace(
                lead, joint_owners=(*lead.joint_owners, name), roles=roles
            )
            continue
        if keys:
            by_rows[keys] = cik
        merged[cik] = person
    for cik, person in list(merged.items()):
        keys = row_keys[cik]
        sharing = tuple(
            _names(other)
            for other_cik, other in merged.items()
            if other_cik != cik and keys & row_keys[other_cik]
        )
        if sharing:
            merged[cik] = replace(person, shares_also_reported_by=sharing)
    return merged


def _names(person: InsiderActivity) -> str:
    """Every name of an entry: the owner's, then its joint filers'."""
    return _join([display_name(person.owner_name), *person.joint_owners])


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


_REASON_WORDS = {
    "sell_to_cover": "to cover taxes on vested awards",
    "exercise_tax": "to pay the taxes on an option exercise",
    "exercise_cost": "to pay an option exercise price",
    "discretionary": "",
}


def _activity(person: InsiderActivity) -> str:
    """A phrase for what one insider did: each sale by its reason, then every other figure."""
    parts: list[str] = []
    reasons = person.sale_reasons or (
        {"discretionary": person.get("sold_shares")} if person.get("sold_shares") else {}
    )
    avg = person.figures.get("sold_avg_price")
    for reason in _SALE_REASONS:
        shares = reasons.get(reason)
        if not shares:
            continue
        price = _price(avg) if len(reasons) == 1 else ""
        why = _REASON_WORDS[reason]
        if reason == "discretionary":
            why = "under a Rule 10b5-1 plan" if person.sold_under_10b5_1 else "(discretionary)"
        parts.append(f"sold {_n(shares)} shares{price}" + (f" {why}" if why else ""))
    if person.get("bought_shares"):
        parts.append(f"bought {_n(person.get('bought_shares'))} shares")
    if person.get("tax_withheld_shares"):
        parts.append(f"had {_n(person.get('tax_withheld_shares'))} shares withheld for taxes")
    if person.get("gifted_shares"):
        accs = ", ".join(person.accessions.get("gifted_shares", ()))
        parts.append(f"gave {_n(person.get('gifted_shares'))} shares as gifts ({accs})")
    if person.get("exercised_shares"):
        parts.append(f"exercised {_n(person.get('exercised_shares'))} derivative securities")
    for other in person.other:
        amount = f" of {_n(other.shares)} shares" if other.shares else ""
        table = " in Table II" if other.is_derivative else ""
        parts.append(
            f"reported {other.transactions} code {other.code} transaction(s){table}"
            f" ({other.description[:1].lower()}{other.description[1:]}){amount}"
            f" ({', '.join(other.accessions)})"
        )
    grants = [
        f"{_n(person.get(fig))} {label}"
        for fig, label in (
            ("options_awarded", "options"),
            ("rsus_awarded", "RSUs"),
            ("other_awarded", "other awards"),
        )
        if person.get(fig)
    ]
    text = ", ".join(parts)
    if grants:
        text = f"{text} while receiving {_join(grants)}" if text else f"received {_join(grants)}"
    return text or "filed without a reported transaction"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _who(person: InsiderActivity) -> str:
    role = f" ({person.roles[0]})" if person.roles else ""
    who = f"{display_name(person.owner_name)}{role}"
    if person.joint_owners:
        who = f"{_join([who, *person.joint_owners])} (joint filers, the same shares)"
    if person.shares_also_reported_by:
        who += f" (shares also reported by {_join(list(person.shares_also_reported_by))})"
    return who


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
                + p.get("gifted_shares")
                + p.get("options_awarded")
                + p.get("rsus_awarded")
                + p.get("other_awarded")
            ),
            p.owner_cik,
        ),
    )
    # "did the same" only for insiders whose phrase, figures included, is identical
    groups: dict[str, list[InsiderActivity]] = {}
    for person in people:
        groups.setdefault(_activity(person), []).append(person)
    sentences = []
    for text, members in groups.items():
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
    ("exercise_sold_shares", "exercise sales"),
    ("discretionary_sold_shares", "discretionary"),
    ("tax_withheld_shares", "F withheld"),
    ("bought_shares", "bought"),
    ("gifted_shares", "gifted"),
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
                _names(p) + (" (same shares)" if p.joint_owners else ""),
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
        accs = sorted(
            {a for values in p.accessions.values() for a in values}
            | {a for o in p.other for a in o.accessions}
        )
        if accs:
            lines.append(f"{_names(p)}: {', '.join(accs)}")
        for o in p.other:
            shares = f", {_n(o.shares)} shares" if o.shares else ""
            lines.append(
                f"  code {o.code}{' (Table II)' if o.is_derivative else ''}: {o.description}:"
                f" {o.transactions} transaction(s){shares}: {', '.join(o.accessions)}"
            )
    return "\n".join(lines) + "\n"


def render_markdown(report: IssuerReport) -> str:
    out = [summary_paragraph(report), ""]
    if report.empty:
        return out[0] + "\n"
    header, rows = _table_rows(report)
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "|".join("---" if i < 2 else "---:" for i in range(len(header))) + "|")
    out += ["| " + " | ".join(row) + " |" for row in rows]
    others = [
        f"- {_names(p)}: code {o.code}{' (Table II)' if o.is_derivative else ''}, "
        f"{o.description}: {o.transactions} transaction(s)"
        + (f", {_n(o.shares)} shares" if o.shares else "")
        + f" ({', '.join(o.accessions)})"
        for p in report.insiders
        for o in p.other
    ]
    if others:
        out += ["", "Other transactions:", "", *others]
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
