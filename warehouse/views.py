"""Analyst views: who traded, who sold to cover taxes, who was granted what, per issuer and day.

Every view reads ``transactions_current`` (amendments applied, ``warehouse.schema``) so an
amended filing is never counted twice. ``insider_trades`` has one row per transaction *per
reporting owner* (a fund and its manager filing together both appear); ``issuer_daily`` counts
each transaction once. Figures follow one rulebook, shared with ``warehouse.report``:

- sold: code S in Table I, split by ``sale_reason``: sell-to-cover (tax on vested or settled
  awards), exercise sales (``exercise_tax`` and ``exercise_cost``: taxes or the price of an
  option or warrant exercise) and discretionary (every other sale, 10b5-1 plan sales
  included). Rows loaded before ``sale_reason`` existed (NULL) count by ``is_sell_to_cover``;
- tax withheld: code F in Table I (shares withheld by the issuer, not sold);
- bought: code P in Table I (Table II purchases and sales are of derivative units, not
  shares, and stay out of these sums);
- options awarded: A rows of kind ``option``; RSUs awarded: A rows of kind ``rsu`` or
  ``psu``; other awarded: every other A row (stock awards in Table I included);
- gifted: code G in Table I;
- exercised: M, X and O rows in Table II (the derivative leg only, so a cashless exercise is
  not counted twice);
- average sale price: share-weighted over S rows that have a price.

``VIEW_COLUMNS`` documents every column; the README lists them and a test compares them with
what DuckDB reports.
"""

from __future__ import annotations

import duckdb

__all__ = ["ANALYST_VIEWS", "FIGURES", "FIGURE_ROWS", "REASON_SQL", "create_views"]

# An S row's reason; rows loaded before sale_reason existed fall back on is_sell_to_cover.
REASON_SQL = (
    "coalesce(sale_reason, CASE WHEN is_sell_to_cover THEN 'sell_to_cover' "
    "ELSE 'discretionary' END)"
)
_SOLD = "transaction_code = 'S' AND NOT is_derivative"
# Each per-insider figure of the report: the rows it sums (over insider_trades or a
# transactions join: columns transaction_code, shares, security_kind, sale_reason,
# is_sell_to_cover, is_derivative).
FIGURE_ROWS: dict[str, str] = {
    "sold_shares": _SOLD,
    "sold_avg_price": f"{_SOLD} AND price_per_share IS NOT NULL",
    "sell_to_cover_shares": f"{_SOLD} AND {REASON_SQL} = 'sell_to_cover'",
    "exercise_sold_shares": f"{_SOLD} AND {REASON_SQL} IN ('exercise_tax', 'exercise_cost')",
    "discretionary_sold_shares": f"{_SOLD} AND {REASON_SQL} = 'discretionary'",
    "tax_withheld_shares": "transaction_code = 'F' AND NOT is_derivative",
    "bought_shares": "transaction_code = 'P' AND NOT is_derivative",
    "gifted_shares": "transaction_code = 'G' AND NOT is_derivative",
    "options_awarded": "transaction_code = 'A' AND security_kind = 'option'",
    "rsus_awarded": "transaction_code = 'A' AND security_kind IN ('rsu', 'psu')",
    "other_awarded": (
        "transaction_code = 'A' AND coalesce(security_kind, '') NOT IN ('option', 'rsu', 'psu')"
    ),
    "exercised_shares": "transaction_code IN ('M', 'X', 'O') AND is_derivative",
}
# The figures as SQL aggregates.
FIGURES: dict[str, str] = {
    name: (
        f"CAST(sum(value) FILTER (WHERE {rows}) / nullif(sum(shares) FILTER (WHERE {rows}), 0)"
        " AS DECIMAL(38, 4))"
        if name == "sold_avg_price"
        else f"sum(shares) FILTER (WHERE {rows})"
    )
    for name, rows in FIGURE_ROWS.items()
}
_FIGURES_SQL = ",\n    ".join(f"{sql} AS {name}" for name, sql in FIGURES.items())


def _same_filing(a: str, b: str) -> str:
    """Join condition between two tables that carry the filing keys (``FILING_KEYS``): the
    accession, plus issuer and filing date so a filter on either reaches both sides and DuckDB
    skips row groups of other issuers and periods."""
    return (
        f"{a}.accession_number = {b}.accession_number AND {a}.issuer_cik = {b}.issuer_cik "
        f"AND {a}.filing_date IS NOT DISTINCT FROM {b}.filing_date"
    )


_TRADE_COLUMNS = """
    t.accession_number, f.form_type, t.filing_date, f.accepted_at,
    t.issuer_cik, f.issuer_name, f.issuer_ticker,
    o.owner_cik, o.owner_name, o.is_director, o.is_officer, o.is_ten_percent_owner,
    o.is_other, o.officer_title, o.other_text,
    t.line_no, t.is_derivative, t.security_title, t.security_kind, t.transaction_date,
    t.transaction_code, t.category, t.acquired_disposed, t.shares, t.price_per_share,
    t.shares_delta, t.value, t.shares_owned_after, t.direct_or_indirect,
    t.nature_of_ownership, t.is_sell_to_cover, t.sale_reason, t.sale_reason_text, t.is_10b5_1,
    t.price_range_low, t.price_range_high, f.aff10b5_one, t.footnote_ids
"""

# name -> (documentation, SQL)
ANALYST_VIEWS: dict[str, tuple[str, str]] = {
    "insider_trades": (
        "transactions (amendments applied) with their filing and each reporting owner's roles: "
        "one row per transaction per owner",
        f"""
        SELECT {_TRADE_COLUMNS}
        FROM transactions_current t
        JOIN filings f ON {_same_filing("f", "t")}
        JOIN reporting_owners o ON {_same_filing("o", "t")}
        """,
    ),
    "sell_to_cover": (
        "Table I insider_trades rows that are sales to cover tax on vested or settled awards",
        f"SELECT * FROM insider_trades WHERE {FIGURE_ROWS['sell_to_cover_shares']}",
    ),
    "open_market": (
        "Table I insider_trades rows of open-market purchases (P) and discretionary sales (S "
        "with sale_reason discretionary: not sold for taxes or an exercise price)",
        f"""
        SELECT * FROM insider_trades
        WHERE NOT is_derivative AND (transaction_code = 'P'
           OR ({FIGURE_ROWS["discretionary_sold_shares"]}))
        """,
    ),
    "awards": (
        "insider_trades rows of grants and awards (A), with security_kind",
        "SELECT * FROM insider_trades WHERE transaction_code = 'A'",
    ),
    "exercises": (
        "insider_trades rows of option and derivative exercises (M, X, O)",
        "SELECT * FROM insider_trades WHERE transaction_code IN ('M', 'X', 'O')",
    ),
    "issuer_daily": (
        "per issuer and filing date, the report's figures, each transaction counted once "
        "(however many owners filed it)",
        f"""
        WITH tx AS (
            SELECT t.*, f.issuer_name, f.issuer_ticker
            FROM transactions_current t JOIN filings f ON {_same_filing("f", "t")}
        ),
        people AS (
            SELECT f.issuer_cik, f.filing_date, count(DISTINCT o.owner_cik) AS insiders,
                   count(DISTINCT f.accession_number) AS filings
            FROM filings f JOIN reporting_owners o ON {_same_filing("o", "f")}
            WHERE f.accession_number NOT IN (SELECT accession_number FROM superseded_filings)
            GROUP BY ALL
        )
        SELECT tx.issuer_cik, any_value(tx.issuer_ticker) AS issuer_ticker,
            any_value(tx.issuer_name) AS issuer_name, tx.filing_date,
            any_value(people.filings) AS filings, any_value(people.insiders) AS insiders,
            count(*) AS transactions,
            {_FIGURES_SQL},
            sum(value) FILTER (WHERE transaction_code = 'S' AND NOT is_derivative) AS sold_value,
            sum(value) FILTER (WHERE transaction_code = 'P' AND NOT is_derivative) AS bought_value
        FROM tx LEFT JOIN people USING (issuer_cik, filing_date)
        GROUP BY tx.issuer_cik, tx.filing_date
        """,
    ),
    "cluster_buys": (
        "issuers where at least three distinct insiders bought in the open market (P) within "
        "ten days: one row per window starting on a purchase date (overlapping windows of one "
        "cluster can each appear)",
        """
        WITH buys AS (
            SELECT DISTINCT issuer_cik, issuer_ticker, issuer_name, owner_cik, transaction_date,
                   accession_number, is_derivative, line_no, shares, value
            FROM insider_trades
            WHERE transaction_code = 'P' AND NOT is_derivative AND transaction_date IS NOT NULL
        ),
        rows_once AS (
            SELECT DISTINCT issuer_cik, transaction_date, accession_number, is_derivative,
                   line_no, shares, value
            FROM buys
        ),
        starts AS (SELECT DISTINCT issuer_cik, transaction_date AS window_start FROM buys),
        clusters AS (
            SELECT s.issuer_cik, s.window_start,
                CAST(s.window_start + INTERVAL 9 DAY AS DATE) AS window_end,
                any_value(b.issuer_ticker) AS issuer_ticker,
                any_value(b.issuer_name) AS issuer_name,
                count(DISTINCT b.owner_cik) AS insiders
            FROM starts s JOIN buys b ON b.issuer_cik = s.issuer_cik
                AND b.transaction_date BETWEEN s.window_start
                    AND CAST(s.window_start + INTERVAL 9 DAY AS DATE)
            GROUP BY s.issuer_cik, s.window_start
            HAVING count(DISTINCT b.owner_cik) >= 3
        )
        SELECT c.issuer_cik, c.issuer_ticker, c.issuer_name, c.window_start, c.window_end,
            c.insiders, count(*) AS purchases, sum(r.shares) AS shares, sum(r.value) AS value
        FROM clusters c JOIN rows_once r ON r.issuer_cik = c.issuer_cik
            AND r.transaction_date BETWEEN c.window_start AND c.window_end
        GROUP BY c.issuer_cik, c.issuer_ticker, c.issuer_name, c.window_start, c.window_end,
            c.insiders
        """,
    ),
}


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create the analyst views; ``warehouse.schema.create_all`` must have run first."""
    for name, (_, sql) in ANALYST_VIEWS.items():
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
