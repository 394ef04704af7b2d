"""The warehouse schema: every table's DDL and the Arrow schema the loader writes with.

One ``Column`` list per table is the single source of truth: ``create_all`` derives the DuckDB
DDL from it and ``warehouse.rows`` the Arrow schema, so the two can never disagree. The
README's table reference documents the same names (a test keeps them in step). Neighbours:
``warehouse.rows`` (records -> Arrow), ``warehouse.db`` (connection, loads, state).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

__all__ = [
    "DATA_TABLES",
    "FILING_KEYS",
    "DECIMAL_SCALE",
    "STATE_TABLES",
    "TABLES",
    "VIEWS",
    "Column",
    "arrow_schema",
    "create_all",
]

DECIMAL_PRECISION = 38
DECIMAL_SCALE = 8
DECIMAL = f"DECIMAL({DECIMAL_PRECISION},{DECIMAL_SCALE})"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    sql_type: str
    doc: str


def _c(name: str, sql_type: str, doc: str) -> Column:
    return Column(name, sql_type, doc)


# The filing's issuer and filing date, repeated on every row that belongs to a filing:
# DuckDB prunes row groups by these (a warehouse grows in filing-date order), so a question
# about one issuer and one period reads a fraction of a large table instead of all of it.
FILING_KEYS: tuple[Column, ...] = (
    Column(
        "issuer_cik",
        "VARCHAR",
        "the filing's issuer_cik (repeated from filings, so one-issuer queries prune)",
    ),
    Column(
        "filing_date",
        "DATE",
        "the filing's filing_date (repeated from filings, so one-period queries prune)",
    ),
)

_POSITION: tuple[Column, ...] = (
    _c(
        "shares_owned_after",
        DECIMAL,
        "shares (or units) owned following the reported transaction(s)",
    ),
    _c(
        "value_owned_after",
        DECIMAL,
        "value owned following the transaction (some filers report value, not shares)",
    ),
    _c("direct_or_indirect", "VARCHAR", "'D' direct or 'I' indirect ownership"),
    _c("nature_of_ownership", "VARCHAR", "nature of indirect ownership, e.g. 'By Trust'"),
    _c("conversion_or_exercise_price", DECIMAL, "derivative rows: conversion or exercise price"),
    _c("exercise_date", "DATE", "derivative rows: date exercisable"),
    _c("expiration_date", "DATE", "derivative rows: expiration date"),
    _c("underlying_security_title", "VARCHAR", "derivative rows: title of the underlying security"),
    _c("underlying_shares", DECIMAL, "derivative rows: amount of underlying securities"),
    _c(
        "footnote_ids",
        "VARCHAR[]",
        "every footnote id referenced anywhere in the row, in document order",
    ),
)

_SECURITY_KIND = _c(
    "security_kind",
    "VARCHAR",
    "derivative rows: option, rsu, psu, warrant, convertible or other (NULL in Table I)",
)

TABLES: dict[str, tuple[Column, ...]] = {
    "filings": (
        _c(
            "accession_number", "VARCHAR", "EDGAR accession number, e.g. 0001127602-25-001055 (key)"
        ),
        _c("form_type", "VARCHAR", "submission type: '3', '3/A', '4', '4/A', '5', '5/A'"),
        _c("filing_date", "DATE", "EDGAR filing date (FILED AS OF DATE)"),
        _c("accepted_at", "TIMESTAMP", "EDGAR acceptance date-time, US/Eastern wall clock"),
        _c("period_of_report", "DATE", "periodOfReport: date of the earliest reported event"),
        _c("issuer_cik", "VARCHAR", "issuer CIK, 10 digits zero-padded"),
        _c("issuer_name", "VARCHAR", "issuer name as filed"),
        _c("issuer_ticker", "VARCHAR", "issuerTradingSymbol as filed (may be NONE or empty)"),
        _c(
            "aff10b5_one",
            "BOOLEAN",
            "Rule 10b5-1 checkbox (aff10b5One); NULL on filings before the checkbox existed",
        ),
        _c("date_of_original_submission", "DATE", "amendments: date of the filing amended"),
        _c("remarks", "VARCHAR", "free-text remarks"),
        _c("schema_version", "VARCHAR", "ownership XML schema version, e.g. X0508"),
        _c("document_type", "VARCHAR", "documentType inside the XML (normally equal to form_type)"),
        _c("not_subject_to_section16", "BOOLEAN", "box: no longer subject to Section 16"),
        _c("no_securities_owned", "BOOLEAN", "Form 3: no securities beneficially owned"),
        _c("issuer_foreign_trading_symbol", "VARCHAR", "issuerForeignTradingSymbol where present"),
        _c(
            "amends_accession",
            "VARCHAR",
            "amendments: the filing amended, when it is in the warehouse (same issuer and "
            "owners; filed on dateOfOriginalSubmission, else same period of report)",
        ),
        _c("loaded_at", "TIMESTAMP", "when this row was (re)loaded, UTC"),
        _c(
            "source",
            "VARCHAR",
            "where the rows come from: 'xml' (the filing's XML) or 'dataset:2024q3' (the SEC's "
            "Insider Transactions Data Set of that quarter); NULL in warehouses made before "
            "data sets, meaning xml",
        ),
    ),
    "reporting_owners": (
        _c("accession_number", "VARCHAR", "filing (key with owner_cik)"),
        _c("owner_cik", "VARCHAR", "reporting owner CIK, 10 digits zero-padded"),
        _c("owner_name", "VARCHAR", "reporting owner name as filed"),
        _c("is_director", "BOOLEAN", "relationship: director"),
        _c("is_officer", "BOOLEAN", "relationship: officer"),
        _c("is_ten_percent_owner", "BOOLEAN", "relationship: 10% owner"),
        _c("is_other", "BOOLEAN", "relationship: other"),
        _c("officer_title", "VARCHAR", "officer title, entities decoded"),
        _c("other_text", "VARCHAR", "description of the 'other' relationship"),
        _c("street1", "VARCHAR", "address line 1"),
        _c("street2", "VARCHAR", "address line 2"),
        _c("city", "VARCHAR", "city"),
        _c("state", "VARCHAR", "state"),
        _c("zip_code", "VARCHAR", "ZIP code"),
        _c("state_description", "VARCHAR", "state description (non-US addresses)"),
        *FILING_KEYS,
    ),
    "transactions": (
        _c("accession_number", "VARCHAR", "filing (key with is_derivative, line_no)"),
        _c("line_no", "INTEGER", "row number within its table, from 1"),
        _c("is_derivative", "BOOLEAN", "Table II (derivative) row"),
        _c("security_title", "VARCHAR", "title of the security"),
        _c("transaction_date", "DATE", "transaction date"),
        _c("deemed_execution_date", "DATE", "deemed execution date, if any"),
        _c("transaction_form_type", "VARCHAR", "form type given in transactionCoding"),
        _c("transaction_code", "VARCHAR", "transaction code as filed (P, S, A, F, M, ...)"),
        _c("code_description", "VARCHAR", "official description of the code (NULL when unknown)"),
        _c(
            "category",
            "VARCHAR",
            "normalised category of the code ('unknown' for unofficial codes)",
        ),
        _c("equity_swap_involved", "BOOLEAN", "equity swap involved"),
        _c("acquired_disposed", "VARCHAR", "'A' acquired or 'D' disposed"),
        _c("shares", DECIMAL, "number of shares (or derivative units) in the transaction"),
        _c("price_per_share", DECIMAL, "price per share; NULL when only footnoted"),
        _c("shares_delta", DECIMAL, "signed shares: + acquired, - disposed"),
        _c("value", DECIMAL, "shares x price_per_share"),
        *_POSITION[:-1],
        _c("timeliness", "VARCHAR", "'E' early or 'L' late; NULL when on time"),
        _POSITION[-1],
        _c(
            "is_sell_to_cover",
            "BOOLEAN",
            "sale_reason = 'sell_to_cover': an S sold to pay the tax due on the vesting or "
            "settlement of an award (false for every other row)",
        ),
        _c(
            "sale_reason",
            "VARCHAR",
            "S rows: why the shares were sold, from the row's footnotes and the remarks: "
            "sell_to_cover, exercise_tax, exercise_cost or discretionary (NULL for other codes)",
        ),
        _c(
            "sale_reason_text",
            "VARCHAR",
            "the footnote or remarks sentence that decided sale_reason (NULL for discretionary)",
        ),
        _c(
            "is_10b5_1",
            "BOOLEAN",
            "made under a Rule 10b5-1 plan: a linked footnote says so, or the aff10b5One box "
            "is checked and no footnote names a plan (then P and S rows)",
        ),
        _c(
            "price_range_low",
            DECIMAL,
            "low end of a weighted-average price range footnote, when it holds the row's price",
        ),
        _c("price_range_high", DECIMAL, "high end of a weighted-average price range footnote"),
        _c(
            "price_range_unusable",
            "BOOLEAN",
            "a footnote gives a price range that cannot be this row's (low above high, the "
            "row's price outside it, or several ranges none of which is clearly the row's); "
            "price_range_low and price_range_high are then NULL",
        ),
        _SECURITY_KIND,
        *FILING_KEYS,
    ),
    "holdings": (
        _c("accession_number", "VARCHAR", "filing (key with is_derivative, line_no)"),
        _c("line_no", "INTEGER", "row number within its table, from 1"),
        _c("is_derivative", "BOOLEAN", "Table II (derivative) row"),
        _c("security_title", "VARCHAR", "title of the security"),
        *_POSITION,
        _SECURITY_KIND,
        *FILING_KEYS,
    ),
    "footnotes": (
        _c("accession_number", "VARCHAR", "filing (key with footnote_id)"),
        _c("footnote_id", "VARCHAR", "footnote id, e.g. F1"),
        _c("text", "VARCHAR", "whole footnote text, markup removed, entities decoded"),
        *FILING_KEYS,
    ),
    "transaction_footnotes": (
        _c("accession_number", "VARCHAR", "filing"),
        _c("line_no", "INTEGER", "transactions.line_no of the row"),
        _c("is_derivative", "BOOLEAN", "Table II row"),
        _c("field", "VARCHAR", "column the footnote annotates, e.g. price_per_share"),
        _c("footnote_id", "VARCHAR", "footnote id, e.g. F1"),
        *FILING_KEYS,
    ),
    "holding_footnotes": (
        _c("accession_number", "VARCHAR", "filing"),
        _c("line_no", "INTEGER", "holdings.line_no of the row"),
        _c("is_derivative", "BOOLEAN", "Table II row"),
        _c("field", "VARCHAR", "column the footnote annotates, e.g. nature_of_ownership"),
        _c("footnote_id", "VARCHAR", "footnote id, e.g. F1"),
        *FILING_KEYS,
    ),
    "owner_signatures": (
        _c("accession_number", "VARCHAR", "filing"),
        _c("signature_no", "INTEGER", "signature number within the filing, from 1"),
        _c("signature_name", "VARCHAR", "name as signed"),
        _c("signature_date", "DATE", "date signed"),
        *FILING_KEYS,
    ),
    "data_issues": (
        _c("accession_number", "VARCHAR", "filing"),
        _c(
            "table_name",
            "VARCHAR",
            "table of the value: transactions, holdings, owner_signatures or filings",
        ),
        _c("line_no", "INTEGER", "line_no of the row (signature_no of a signature; NULL: filings)"),
        _c("is_derivative", "BOOLEAN", "Table II row (NULL outside transactions and holdings)"),
        _c("field", "VARCHAR", "column of the value, e.g. shares"),
        _c("raw_value", "VARCHAR", "the value's text as filed"),
        _c("problem", "VARCHAR", "what is wrong with it and what was stored instead"),
        *FILING_KEYS,
    ),
    "rejects": (
        _c("accession_number", "VARCHAR", "filing (key)"),
        _c(
            "stage",
            "VARCHAR",
            "what failed: sgml, xml, ownership, validate (a value form4 cannot store as "
            "given), load, crash (the process died on it), or dataset (a data set row)",
        ),
        _c("reason", "VARCHAR", "why, in one line (dataset: starts with 'dataset:2024q3 ')"),
        _c(
            "raw",
            "BLOB",
            "the raw submission bytes as fetched (dataset: the bad rows' text, one a line)",
        ),
        _c("seen_at", "TIMESTAMP", "when it was rejected, UTC"),
    ),
    "raw_documents": (
        _c("accession_number", "VARCHAR", "filing (key)"),
        _c("filing_date", "DATE", "date of the index the filing was listed in"),
        _c("cik", "VARCHAR", "CIK of the index row it was fetched by"),
        _c(
            "path",
            "VARCHAR",
            "pack file holding the compressed copy, relative to the raw directory",
        ),
        _c("size", "BIGINT", "uncompressed size in bytes"),
        _c("sha256", "VARCHAR", "SHA-256 of the uncompressed bytes"),
        _c("fetched_at", "TIMESTAMP", "when it was fetched, UTC"),
        _c(
            "member_offset",
            "BIGINT",
            "byte offset of its gzip member in the pack (NULL: whole file)",
        ),
        _c("member_length", "BIGINT", "length in bytes of that gzip member"),
        _c(
            "form_type",
            "VARCHAR",
            "form type of the index row it was fetched by (NULL: fetched by an older form4)",
        ),
    ),
    "ingest_days": (
        _c("day", "DATE", "index date (key with forms)"),
        _c("forms", "VARCHAR", "form types ingested, comma-separated"),
        _c("status", "VARCHAR", "done, no_index (no filings that day) or pending (retry next run)"),
        _c("index_entries", "INTEGER", "distinct accessions of those forms in the index"),
        _c("loaded", "INTEGER", "filings loaded that day (this run and earlier ones)"),
        _c("rejected", "INTEGER", "filings rejected that day"),
        _c("failed", "INTEGER", "filings that could not be fetched (retried next run)"),
        _c("updated_at", "TIMESTAMP", "last run over this day, UTC"),
    ),
    "parquet_exports": (
        _c("target", "VARCHAR", "absolute path of the export directory (key with the next 3)"),
        _c("table_name", "VARCHAR", "table exported"),
        _c("filing_year", "INTEGER", "partition: year of the filing date (0 when unknown)"),
        _c("filing_month", "INTEGER", "partition: month of the filing date (0 when unknown)"),
        _c("exported_at", "TIMESTAMP", "when the partition file was last written, UTC"),
        _c("max_loaded_at", "TIMESTAMP", "newest filings.loaded_at among the rows written"),
        _c("rows", "BIGINT", "rows written"),
        _c("checksum", "UBIGINT", "order-independent hash of the rows written"),
    ),
    "dataset_quarters": (
        _c("quarter", "VARCHAR", "data set quarter, e.g. 2024q3 (key)"),
        _c(
            "status",
            "VARCHAR",
            "done, partial (loaded, with problems: see problems), pending (not yet published) "
            "or failed (not loaded: see problems)",
        ),
        _c("url", "VARCHAR", "the ZIP's URL, as linked from the data sets' index page"),
        _c("zip_path", "VARCHAR", "the ZIP kept in the raw store (for form4 reprocess)"),
        _c("zip_size", "BIGINT", "its size in bytes"),
        _c("zip_sha256", "VARCHAR", "its SHA-256"),
        _c("submissions", "INTEGER", "accessions in its SUBMISSION table"),
        _c("loaded", "INTEGER", "accessions loaded from it"),
        _c("held_from_xml", "INTEGER", "accessions left as loaded from their XML"),
        _c("rejected", "INTEGER", "accessions sent to rejects (stage dataset)"),
        _c("rows", "BIGINT", "rows written to the data tables by its import"),
        _c("problems", "VARCHAR", "what went wrong: missing members, unknown columns, ..."),
        _c("fetched_at", "TIMESTAMP", "when the ZIP was downloaded, UTC"),
        _c("imported_at", "TIMESTAMP", "when it was last imported, UTC"),
    ),
    "source_differences": (
        _c("quarter", "VARCHAR", "data set quarter compared (key with the next 4)"),
        _c("accession_number", "VARCHAR", "a filing held from XML that the data set also holds"),
        _c("table_name", "VARCHAR", "warehouse table compared, e.g. transactions"),
        _c(
            "line",
            "VARCHAR",
            "the row: I.n / II.n (Table I / II line n), the owner CIK, the footnote id, the "
            "signature number, a link 'I.n field Fk'; empty for filings",
        ),
        _c("field", "VARCHAR", "column that differs; '(row)' when one side lacks the row"),
        _c("xml_value", "VARCHAR", "value from the XML, as text (NULL: absent)"),
        _c("dataset_value", "VARCHAR", "value from the data set, as text (NULL: absent)"),
        _c(
            "kind",
            "VARCHAR",
            "'difference', or 'rounding / spacing' (the SEC's rounding of numbers, or text equal "
            "once whitespace is ignored)",
        ),
        _c("checked_at", "TIMESTAMP", "when form4 verify compared them, UTC"),
    ),
    "in_flight": (
        _c("accession_number", "VARCHAR", "filing (key)"),
        _c("day", "DATE", "index date it was listed in"),
        _c(
            "attempts",
            "INTEGER",
            "runs that began parsing it; a row outlives its batch only when the run died",
        ),
        _c("started_at", "TIMESTAMP", "when the last of those runs began, UTC"),
    ),
    "index_problems": (
        _c("index_path", "VARCHAR", "the index file, e.g. daily-index/2026/QTR1/form.20260202.idx"),
        _c("line_no", "INTEGER", "line number in the file, from 1 (key with index_path)"),
        _c("problem", "VARCHAR", "why the line was skipped"),
        _c("line", "VARCHAR", "the line as read (its first 300 characters)"),
        _c("line_length", "INTEGER", "the line's length in characters"),
        _c("seen_at", "TIMESTAMP", "when the index was last read, UTC"),
    ),
    "failed_accessions": (
        _c("accession_number", "VARCHAR", "filing (key)"),
        _c("day", "DATE", "index date it was listed in"),
        _c("cik", "VARCHAR", "CIK of the index row"),
        _c("filename", "VARCHAR", "index file name (edgar/data/...)"),
        _c("form_type", "VARCHAR", "form type from the index"),
        _c("error", "VARCHAR", "last error, one line"),
        _c("attempts", "INTEGER", "how many runs tried it"),
        _c("last_attempt_at", "TIMESTAMP", "UTC"),
    ),
    "feed_entries": (
        _c("accession_number", "VARCHAR", "filing seen in the latest-filings feed (key)"),
        _c("form_type", "VARCHAR", "form type from the feed"),
        _c("cik", "VARCHAR", "CIK of the first feed entry listing it, 10 digits"),
        _c("feed_filed", "DATE", "filing date the feed gave (provisional)"),
        _c("feed_updated", "TIMESTAMP", "the entry's updated time (acceptance), UTC"),
        _c("seen_at", "TIMESTAMP", "when form4 first saw it in the feed, UTC"),
        _c("loaded_at", "TIMESTAMP", "when its rows (or its reject) were committed, UTC"),
        _c("index_day", "DATE", "the daily index day that listed it, once a nightly run saw it"),
    ),
}

DATA_TABLES = (
    "filings",
    "reporting_owners",
    "transactions",
    "holdings",
    "footnotes",
    "transaction_footnotes",
    "holding_footnotes",
    "owner_signatures",
    "data_issues",
)
STATE_TABLES = (
    "rejects",
    "raw_documents",
    "ingest_days",
    "failed_accessions",
    "parquet_exports",
    "feed_entries",
    "dataset_quarters",
    "source_differences",
    "in_flight",
    "index_problems",
)

_ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),
    "BOOLEAN": pa.bool_(),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "UBIGINT": pa.uint64(),
    "BLOB": pa.binary(),
    DECIMAL: pa.decimal128(DECIMAL_PRECISION, DECIMAL_SCALE),
    "VARCHAR[]": pa.list_(pa.string()),
}


def arrow_schema(table: str) -> pa.Schema:
    return pa.schema([pa.field(c.name, _ARROW_TYPES[c.sql_type]) for c in TABLES[table]])


# Views: name -> (documentation, SQL). Kept here with the tables so the README can list both.
VIEWS: dict[str, tuple[str, str]] = {
    "superseded_filings": (
        "accession numbers whose rows are replaced by a later amendment: every amended "
        "original, and every amendment that a later amendment of the same original replaces",
        """
        SELECT amends_accession AS accession_number FROM filings
        WHERE amends_accession IS NOT NULL
        UNION
        SELECT accession_number FROM (
            SELECT accession_number, row_number() OVER (
                PARTITION BY amends_accession
                ORDER BY filing_date DESC NULLS LAST, accepted_at DESC NULLS LAST,
                         accession_number DESC) AS rank
            FROM filings WHERE amends_accession IS NOT NULL)
        WHERE rank > 1
        """,
    ),
    "transactions_current": (
        "transactions as currently reported: for each original filing that has been amended, "
        "the rows of its latest amendment instead of its own",
        """
        SELECT * FROM transactions
        WHERE accession_number NOT IN (SELECT accession_number FROM superseded_filings)
        """,
    ),
    "holdings_current": (
        "holdings as currently reported, amendments applied as in transactions_current",
        """
        SELECT * FROM holdings
        WHERE accession_number NOT IN (SELECT accession_number FROM superseded_filings)
        """,
    ),
}


def create_all(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables, add columns a newer form4 declares, (re)create the views."""
    for name, columns in TABLES.items():
        cols = ", ".join(f'"{c.name}" {c.sql_type}' for c in columns)
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({cols})")
        existing = {
            row[0]
            for row in con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = ?",
                [name],
            ).fetchall()
        }
        added = {c.name for c in columns if c.name not in existing}
        for column in columns:
            if column.name in added:
                con.execute(f'ALTER TABLE {name} ADD COLUMN "{column.name}" {column.sql_type}')
        if name != "filings" and added & {c.name for c in FILING_KEYS} and existing:
            # a warehouse made before these columns existed: copy them from filings once
            con.execute(
                f"UPDATE {name} SET issuer_cik = f.issuer_cik, filing_date = f.filing_date "
                f"FROM filings AS f WHERE {name}.accession_number = f.accession_number"
            )
    for name, (_, sql) in VIEWS.items():
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
