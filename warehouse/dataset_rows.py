"""Staged data set tables -> the rows of the warehouse's data tables, in SQL.

``insert_rows`` writes the rows of the accessions in ``_ds_target`` (a temporary table of the
caller's connection) into the data tables, or into temporary look-alikes for a comparison,
with the XML path's normalisation: code description, category and signed delta from
``parsers.codes``; line numbers in document order (the ``*_SK`` keys rise in document order);
sell-to-cover, Rule 10b5-1, price ranges and security kinds from ``parsers.dataset_facts``,
once per distinct key; owner roles from ``RPTOWNER_RELATIONSHIP``; field footnote links from
the ``_FN`` columns. Neighbours: ``warehouse.dataset_stage`` (the staged tables),
``warehouse.datasets`` (the import's transaction), ``warehouse.dataset_audit``.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from form4.parsers.codes import CODES
from form4.parsers.dataset_facts import (
    TextRanges,
    filing_plan_mentions,
    holding_kinds,
    range_columns,
    text_lookup,
    title_kinds,
    transaction_facts,
)
from form4.parsers.dataset_tables import LAYOUT
from form4.parsers.normalize import KIND_CUES, PLAN_CUES, RANGE_CUES, SALE_CUES
from form4.warehouse.dataset_stage import Staged, release_staged
from form4.warehouse.db import utcnow
from form4.warehouse.schema import DATA_TABLES, TABLES

__all__ = ["insert_rows", "prepare_texts"]


_MACROS = (
    # a footnote id list ("F1, F2") -> its ids; the usual single id without the lambdas
    "CREATE OR REPLACE TEMP MACRO _fn(x) AS CASE WHEN x IS NULL THEN []::VARCHAR[] "
    "WHEN NOT contains(x, ',') THEN CASE WHEN trim(x) = '' THEN []::VARCHAR[] ELSE [trim(x)] END "
    "ELSE list_filter(list_transform(string_split(x, ','), lambda s: trim(s)), "
    "lambda s: s <> '') END",
    "CREATE OR REPLACE TEMP MACRO _dedupe(l) AS "
    "list_filter(l, lambda x, i: list_position(l, x) = i)",
    # the usual list has no repeated id: the lambda only runs where one repeats
    "CREATE OR REPLACE TEMP MACRO _once(l) AS "
    "CASE WHEN len(list_distinct(l)) = len(l) THEN l ELSE _dedupe(l) END",
    "CREATE OR REPLACE TEMP MACRO _cik(x) AS "
    "CASE WHEN regexp_full_match(x, '[0-9]{1,10}') THEN lpad(x, 10, '0') ELSE x END",
    "CREATE OR REPLACE TEMP MACRO _up(x) AS upper(x)",
    # text ids of the packed references (see _SALE) whose classifier bit is set; all of them
    "CREATE OR REPLACE TEMP MACRO _ids(l, mask) AS "
    "list_transform(list_filter(l, lambda x: (x & mask) <> 0), lambda x: x >> 4)",
)

# The _FN columns of a row in the XML document's order, and the field each annotates
# (parsers.ownership.FIELD_OF_ELEMENT's names).
_TX_FN = (
    ("SECURITY_TITLE_FN", "security_title"),
    ("CONV_EXERCISE_PRICE_FN", "conversion_or_exercise_price"),
    ("TRANS_DATE_FN", "transaction_date"),
    ("DEEMED_EXECUTION_DATE_FN", "deemed_execution_date"),
    ("EQUITY_SWAP_INVOLVED_FN", "transaction_code"),
    ("TRANS_TIMELINESS_FN", "timeliness"),
    ("TRANS_SHARES_FN", "shares"),
    ("TRANS_TOTAL_VALUE_FN", "value"),
    ("TRANS_PRICEPERSHARE_FN", "price_per_share"),
    ("TRANS_ACQUIRED_DISP_CD_FN", "acquired_disposed"),
    ("EXERCISE_DATE_FN", "exercise_date"),
    ("EXPIRATION_DATE_FN", "expiration_date"),
    ("UNDLYNG_SEC_TITLE_FN", "underlying_security_title"),
    ("UNDLYNG_SEC_SHARES_FN", "underlying_shares"),
    ("UNDLYNG_SEC_VALUE_FN", "underlying_value"),
    ("SHRS_OWND_FOLWNG_TRANS_FN", "shares_owned_after"),
    ("VALU_OWND_FOLWNG_TRANS_FN", "value_owned_after"),
    ("DIRECT_INDIRECT_OWNERSHIP_FN", "direct_or_indirect"),
    ("NATURE_OF_OWNERSHIP_FN", "nature_of_ownership"),
)
_HOLD_FN = (
    ("SECURITY_TITLE_FN", "security_title"),
    ("CONV_EXERCISE_PRICE_FN", "conversion_or_exercise_price"),
    ("TRANS_FORM_TYPE_FN", "transaction_form_type"),
    *_TX_FN[10:],
)

_FILING_KEYS = "s.ISSUER_CIK AS issuer_cik, s.FILING_DATE AS filing_date"

# A text reference packed in one integer: text id * 16 + which classifiers may read the text
# (1 classify_sale, 2 the price range, 4 the 10b5-1 plan, 8 the security kind).
_SALE, _RANGE, _PLAN, _KIND = 1, 2, 4, 8
_SHIFT = 4


def _holds_any(expr: str, cues: tuple[str, ...]) -> str:
    """SQL: ``expr`` holds one of ``cues`` (one regular-expression pass, not one per cue)."""
    alternation = "|".join(re.sub(r"([\\.^$|?*+()\[\]{}])", r"\\\1", cue) for cue in cues)
    return f"regexp_matches({expr}, '{alternation.replace(chr(39), chr(39) * 2)}')"


# Which classifiers may read a text: one whose words it holds, and every one for a text that
# is not ASCII (the classifiers fold some characters first; see parsers.normalize.SALE_CUES).
_BITS = f"""
    CASE WHEN strlen(text) <> length(text) THEN {_SALE | _RANGE | _PLAN | _KIND} ELSE
        (CASE WHEN {_holds_any("low", SALE_CUES)} THEN {_SALE} ELSE 0 END)
      + (CASE WHEN {_holds_any("low", RANGE_CUES)} THEN {_RANGE} ELSE 0 END)
      + (CASE WHEN {_holds_any("text", PLAN_CUES)} THEN {_PLAN} ELSE 0 END)
      + (CASE WHEN {_holds_any("low", KIND_CUES)} THEN {_KIND} ELSE 0 END) END
"""


_ROW_TABLES = {
    "tx": ("NONDERIV_TRANS", "DERIV_TRANS"),
    "hold": ("NONDERIV_HOLDING", "DERIV_HOLDING"),
}


# The staged columns the narrow working rows keep beside their keys (what the facts' keys and
# the derivative titles read); the rest is read from the staged rows when they are written.
_KEPT = {
    "tx": ("SECURITY_TITLE", "TRANS_CODE", "TRANS_PRICEPERSHARE"),
    "hold": ("SECURITY_TITLE",),
}


def _fn_columns(table: str, kind: str) -> list[tuple[str, str]]:
    """The ``_FN`` columns of a staged Table I or II table, in the XML document's order."""
    fns = _TX_FN if kind == "tx" else _HOLD_FN
    return [(col, name) for col, name in fns if col in LAYOUT[table].columns]


def _rows_sql(kind: str) -> str:
    """The working rows of Table I or II (narrow: the staged rows are not copied): each target
    row's id (``rid`` = its staged row * 2 + is_derivative), line number in document order,
    footnote ids, its filing's keys and the packed references of its texts (footnotes in
    order, remarks)."""
    rows = []
    for n, table in enumerate(_ROW_TABLES[kind]):
        sk = LAYOUT[table].key[1]
        ids = ", ".join(col for col, _ in _fn_columns(table, kind))  # concat_ws skips NULLs
        price = "_fn(TRANS_PRICEPERSHARE_FN)" if kind == "tx" else "[]::VARCHAR[]"
        kept = ", ".join(_KEPT[kind])
        # numbered after the id lists are built: the window then sorts no _FN column
        rows.append(
            f"SELECT rid, ACCESSION_NUMBER, is_derivative, {kept}, row_number() OVER "
            f"(PARTITION BY ACCESSION_NUMBER ORDER BY sk, rid) AS line_no, all_ids, price_ids "
            f"FROM (SELECT _row * 2 + {n} AS rid, ACCESSION_NUMBER, "
            f"{str(bool(n)).lower()} AS is_derivative, {sk} AS sk, {kept}, "
            f"_fn(concat_ws(',', {ids})) AS all_ids, {price} AS price_ids FROM _ds_{table} "
            f"WHERE ACCESSION_NUMBER IN (SELECT accession_number FROM _ds_target))"
        )
    return f"""
        SELECT r.*, s.ISSUER_CIK AS issuer_cik, s.FILING_DATE AS filing_date,
               list_concat(
                   list_filter(list_transform(r.footnote_ids, lambda i: m.refs[i]),
                               lambda x: x IS NOT NULL),
                   CASE WHEN s.remarks_ref IS NULL THEN [] ELSE [s.remarks_ref] END) AS refs,
               list_filter(list_transform(r.price_ids, lambda i: m.refs[i]),
                           lambda x: x IS NOT NULL) AS price_refs
        FROM (SELECT * EXCLUDE (all_ids), _once(all_ids) AS footnote_ids
              FROM ({" UNION ALL ".join(rows)})) r
        JOIN _ds_sub s USING (ACCESSION_NUMBER)
        LEFT JOIN _ds_refmap m USING (ACCESSION_NUMBER)
    """


def _staged_rows(kind: str) -> str:
    """Table I or II's staged rows, every column, with their ``rid`` (joined to the working
    rows, which hold only the target accessions' rows)."""
    return " UNION ALL BY NAME ".join(
        f"SELECT * EXCLUDE (_error, _text), _row * 2 + {n} AS rid FROM _ds_{table}"
        for n, table in enumerate(_ROW_TABLES[kind])
    )


def _arrow(con: duckdb.DuckDBPyConnection, sql: str, batch_rows: int = 1_000_000) -> pa.Table:
    return con.sql(sql).to_arrow_table(batch_rows)


def _temp(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    """An Arrow table as a temporary table of ``con``."""
    view = f"{name}_view"
    con.register(view, table)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {view}")
    con.unregister(view)


def _drop(con: duckdb.DuckDBPyConnection, *tables: str) -> None:
    for table in tables:
        con.execute(f"DROP TABLE IF EXISTS {table}")


def _lookup(con: duckdb.DuckDBPyConnection, ids_sql: str) -> dict[int, str]:
    """{text id: text} for the ids ``ids_sql`` gives (one BIGINT[] column)."""
    return text_lookup(
        _arrow(
            con,
            f"""
            SELECT text_id, text FROM _ds_texts
            WHERE text_id IN (SELECT DISTINCT unnest(ids) FROM ({ids_sql}) k(ids))
            """,
        )
    )


def prepare_texts(con: duckdb.DuckDBPyConnection, staged: Staged) -> None:
    """The quarter's footnote and remarks texts, from the staged FOOTNOTES and SUBMISSION
    alone (so that ``stage_zip`` can run it while it reads the other members): each distinct
    text once (``_ds_texts``: id, text, the classifiers that may read it), which rows hold it
    (``_ds_text_of``), each filing's footnotes (``_ds_notes``) and their map from footnote id
    to text (``_ds_refmap``). Every accession's, not only the target's: the rows of the others
    are never joined to a target row. The staged tables are left as they are (the accessions
    with bad rows are found in them after this)."""
    for macro in _MACROS:
        con.execute(macro)
    # A filing's footnotes: the first row of each id (a narrow aggregation, no text moved).
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ds_note_rows AS
        SELECT ACCESSION_NUMBER, FOOTNOTE_ID, min(_row) AS _row FROM _ds_FOOTNOTES
        WHERE FOOTNOTE_ID IS NOT NULL AND _error IS NULL
        GROUP BY ALL
        """
    )
    # Every distinct text of the quarter (those footnotes and the remarks) once, and the rows
    # that hold it (a footnote's row * 2, a submission's * 2 + 1): texts are hashed once,
    # every later join is on integers. Id 0 is the empty text (a footnote without one).
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ds_text_rows AS
        SELECT row_number() OVER () AS text_id, text, sources FROM (
            SELECT text, list(source) AS sources FROM (
              SELECT f._row * 2 AS source, f.FOOTNOTE_TXT AS text
              FROM _ds_FOOTNOTES f JOIN _ds_note_rows USING (_row)
              WHERE f.FOOTNOTE_TXT <> ''
              UNION ALL
              SELECT _row * 2 + 1, REMARKS FROM _ds_SUBMISSION
              WHERE REMARKS <> '' AND _error IS NULL)
            GROUP BY text)
        """
    )
    # The classifiers that may read each text, found on an Arrow copy in small batches: DuckDB
    # reads a temporary table of fewer than 122,880 rows (one row group) on one thread, an
    # Arrow table on as many threads as it has batches.
    con.register("_ds_text_batches", _arrow(con, "SELECT text_id, text FROM _ds_text_rows", 8192))
    try:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _ds_texts AS
            SELECT text_id, text, {_BITS} AS bits
            FROM (SELECT text_id, text, lower(text) AS low FROM _ds_text_batches)
            """
        )  # (no UNION ALL here: one that keeps the rows' order reads them on one thread)
    finally:
        con.unregister("_ds_text_batches")
    con.execute("INSERT INTO _ds_texts VALUES (0, '', 0)")
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ds_text_of AS
        SELECT unnest(r.sources) AS source, text_id, text_id * 16 + t.bits AS ref
        FROM _ds_text_rows r JOIN _ds_texts t USING (text_id)
        """
    )
    _drop(con, "_ds_text_rows")
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ds_notes AS
        SELECT n.ACCESSION_NUMBER, n.FOOTNOTE_ID, coalesce(x.text_id, 0) AS text_id,
               coalesce(x.ref, 0) AS ref, n._row
        FROM _ds_note_rows n LEFT JOIN _ds_text_of x ON x.source = n._row * 2
        """
    )
    _drop(con, "_ds_note_rows")
    # Per filing: footnote id -> packed reference of its text.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ds_refmap AS
        SELECT ACCESSION_NUMBER,
               map_from_entries(list(struct_pack(k := FOOTNOTE_ID, v := ref))) AS refs
        FROM _ds_notes GROUP BY ACCESSION_NUMBER
        """
    )
    staged.texts_ready = True


def _prepare(con: duckdb.DuckDBPyConnection, staged: Staged) -> None:
    """Temporary tables every load of the target accessions reads: submissions, notes,
    rows, and the facts computed once per distinct key."""
    if not staged.texts_ready:
        prepare_texts(con, staged)
    release_staged(con, "FOOTNOTES")  # its texts are in _ds_texts, its rows in _ds_notes
    submission = staged.headers.get("SUBMISSION")
    has_aff = submission is not None and "AFF10B5ONE" in submission.present
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _ds_sub AS
        SELECT s.* EXCLUDE (_error, _text), _cik(s.ISSUERCIK) AS ISSUER_CIK,
               {"s.AFF10B5ONE" if has_aff else "NULL::BOOLEAN"} AS aff, x.ref AS remarks_ref
        FROM _ds_SUBMISSION s LEFT JOIN _ds_text_of x ON x.source = s._row * 2 + 1
        -- an accession given twice: its first row (found on the keys alone)
        WHERE s._row IN (SELECT min(_row) FROM _ds_SUBMISSION
                         WHERE ACCESSION_NUMBER IN (SELECT accession_number FROM _ds_target)
                         GROUP BY ACCESSION_NUMBER)
        """
    )
    _drop(con, "_ds_text_of")  # working tables are freed once read
    for kind in ("tx", "hold"):
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ds_{kind} AS {_rows_sql(kind)}")
    _drop(con, "_ds_refmap")
    # Does any footnote or the remarks of a filing name a 10b5-1 plan? Only texts holding the
    # plan words can (parsers.normalize.PLAN_CUES): each filing's such texts are asked once.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _ds_filing_plan_ids AS
        SELECT ACCESSION_NUMBER, list(DISTINCT ref >> 4 ORDER BY ref >> 4) AS plan_ids FROM (
            SELECT ACCESSION_NUMBER, ref FROM _ds_notes
            UNION ALL SELECT ACCESSION_NUMBER, remarks_ref FROM _ds_sub
            WHERE remarks_ref IS NOT NULL)
        WHERE (ref & {_PLAN}) <> 0
        GROUP BY ACCESSION_NUMBER
        """
    )
    plan_keys = _arrow(con, "SELECT DISTINCT plan_ids FROM _ds_filing_plan_ids")
    _temp(
        con,
        "_ds_plan_keys",
        filing_plan_mentions(plan_keys, _lookup(con, "SELECT plan_ids FROM _ds_filing_plan_ids")),
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ds_plan AS
        SELECT f.ACCESSION_NUMBER AS accession_number, k.plan_mentioned
        FROM _ds_filing_plan_ids f JOIN _ds_plan_keys k USING (plan_ids)
        """
    )
    # The kind a derivative's title alone gives (security_kind reads the title first).
    titles = _arrow(
        con,
        "SELECT DISTINCT SECURITY_TITLE AS title FROM _ds_tx WHERE is_derivative "
        "UNION SELECT SECURITY_TITLE FROM _ds_hold WHERE is_derivative",
    )
    _temp(con, "_ds_titles", title_kinds(titles))
    # The key of each transaction's facts, as parsers.ownership._Context.facts keys them, with
    # only the texts each classifier may read; joined back to its row by ``rid``.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _ds_tx_keyed AS
        SELECT t.rid, t.is_derivative, _up(t.TRANS_CODE) AS code,
               CASE WHEN _up(t.TRANS_CODE) = 'S' THEN _ids(t.refs, {_SALE})
                    ELSE []::BIGINT[] END AS sale_ids,
               _ids(t.refs, {_PLAN}) AS plan_ids,
               _ids(CASE WHEN len(t.price_refs) > 0 THEN t.price_refs ELSE t.refs END, {_RANGE})
                   AS range_ids,
               CASE WHEN t.is_derivative AND k.title_kind IS NULL THEN _ids(t.refs, {_KIND})
                    ELSE []::BIGINT[] END AS kind_ids,
               CASE WHEN t.is_derivative THEN t.SECURITY_TITLE END AS title,
               s.aff AS aff10b5_one,
               coalesce(p.plan_mentioned, false) AS plan_mentioned,
               t.TRANS_PRICEPERSHARE AS price
        FROM _ds_tx t
        JOIN _ds_sub s USING (ACCESSION_NUMBER)
        LEFT JOIN _ds_titles k ON k.title = t.SECURITY_TITLE AND t.is_derivative
        LEFT JOIN _ds_plan p ON p.accession_number = t.ACCESSION_NUMBER
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _ds_hold_keyed AS
        SELECT h.rid, h.SECURITY_TITLE AS title,
               CASE WHEN k.title_kind IS NULL THEN _ids(h.refs, {_KIND}) ELSE []::BIGINT[] END
                   AS kind_ids
        FROM _ds_hold h LEFT JOIN _ds_titles k ON k.title = h.SECURITY_TITLE
        WHERE h.is_derivative
        """
    )
    codes = pa.table(
        {
            "code": [c.code for c in CODES.values()],
            "description": [c.description for c in CODES.values()],
            "category": [c.category for c in CODES.values()],
            "direction": [c.default_direction for c in CODES.values()],
        }
    )
    _temp(con, "_ds_codes", codes)


_KEY_COLS = (
    "code",
    "sale_ids",
    "plan_ids",
    "range_ids",
    "kind_ids",
    "title",
    "is_derivative",
    "aff10b5_one",
    "plan_mentioned",
)


@dataclass(frozen=True, slots=True)
class _Questions:
    """The distinct keys to answer in Python, and the texts they name."""

    facts: pa.Table  # parsers.dataset_facts.KEY_SCHEMA
    ranges: pa.Table  # RANGE_KEY_SCHEMA: rows whose texts may give a price range
    kinds: pa.Table  # (kind_id, title, kind_ids): derivative holdings
    texts: dict[int, str]


def _questions(con: duckdb.DuckDBPyConnection) -> _Questions:
    """The distinct keys, each kind in the order of its texts (keys that share a text follow
    each other, so the per-text caches of parsers.normalize serve them)."""
    cols = ", ".join(_KEY_COLS)
    facts = _arrow(
        con,
        f"SELECT row_number() OVER () AS fact_id, * FROM (SELECT DISTINCT {cols} "
        "FROM _ds_tx_keyed ORDER BY range_ids, sale_ids, plan_ids, kind_ids)",
    )
    ranges = _arrow(
        con,
        "SELECT row_number() OVER () AS range_id, * FROM (SELECT DISTINCT range_ids, price "
        "FROM _ds_tx_keyed WHERE len(range_ids) > 0 ORDER BY range_ids)",
    )
    kinds = _arrow(
        con,
        "SELECT row_number() OVER () AS kind_id, * FROM "
        "(SELECT DISTINCT title, kind_ids FROM _ds_hold_keyed ORDER BY kind_ids)",
    )
    con.register("_ds_q_facts", facts)
    con.register("_ds_q_kinds", kinds)
    try:
        texts = _lookup(
            con,
            "SELECT list_concat(sale_ids, plan_ids, range_ids, kind_ids) FROM _ds_q_facts "
            "UNION ALL SELECT kind_ids FROM _ds_q_kinds",
        )
    finally:
        con.unregister("_ds_q_facts")
        con.unregister("_ds_q_kinds")
    return _Questions(facts, ranges, kinds, texts)


def _answer(q: _Questions) -> tuple[pa.Table, pa.Table, pa.Table]:
    """The XML path's answers to every key (pure Python: parsers.dataset_facts)."""
    ranges_of = TextRanges(q.texts)  # each key's ranges read once, for both questions
    return (
        transaction_facts(q.facts, q.texts, ranges_of),
        range_columns(q.ranges, q.texts, ranges_of),
        holding_kinds(q.kinds, q.texts),
    )


def _join_answers(
    con: duckdb.DuckDBPyConnection, q: _Questions, answers: tuple[pa.Table, pa.Table, pa.Table]
) -> None:
    """``_ds_tx_facts``, ``_ds_tx_ranges`` and ``_ds_hold_kind``: the answers by row id."""
    facts, ranges, kinds = answers
    views = {
        "_ds_q_facts": q.facts,
        "_ds_a_facts": facts,
        "_ds_q_ranges": q.ranges,
        "_ds_a_ranges": ranges,
        "_ds_q_kinds": q.kinds,
        "_ds_a_kinds": kinds,
    }
    for name, table in views.items():
        con.register(name, table)
    on = " AND ".join(f"k.{c} IS NOT DISTINCT FROM d.{c}" for c in _KEY_COLS)
    try:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _ds_tx_facts AS
            SELECT k.rid, f.* EXCLUDE (fact_id)
            FROM _ds_tx_keyed k
            JOIN _ds_q_facts d ON {on}
            JOIN _ds_a_facts f ON f.fact_id = d.fact_id
            """
        )
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _ds_tx_ranges AS
            SELECT k.rid, r.* EXCLUDE (range_id)
            FROM _ds_tx_keyed k
            JOIN _ds_q_ranges d
              ON k.range_ids = d.range_ids AND k.price IS NOT DISTINCT FROM d.price
            JOIN _ds_a_ranges r ON r.range_id = d.range_id
            WHERE len(k.range_ids) > 0
            """
        )
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _ds_hold_kind AS
            SELECT h.rid, v.security_kind
            FROM _ds_hold_keyed h
            JOIN _ds_q_kinds k
              ON k.title IS NOT DISTINCT FROM h.title AND k.kind_ids = h.kind_ids
            JOIN _ds_a_kinds v ON v.kind_id = k.kind_id
            """
        )
    finally:
        for name in views:
            con.unregister(name)


# The columns a Table I or II row shares, transaction or holding, read from its staged row
# ``w``: the position after it and the derivative terms.
_POSITION = """
    w.SHRS_OWND_FOLWNG_TRANS AS shares_owned_after,
    w.VALU_OWND_FOLWNG_TRANS AS value_owned_after,
    _up(w.DIRECT_INDIRECT_OWNERSHIP) AS direct_or_indirect,
    w.NATURE_OF_OWNERSHIP AS nature_of_ownership,
    w.CONV_EXERCISE_PRICE AS conversion_or_exercise_price,
    w.EXERCISE_DATE AS exercise_date, w.EXPIRATION_DATE AS expiration_date,
    w.UNDLYNG_SEC_TITLE AS underlying_security_title,
    w.UNDLYNG_SEC_SHARES AS underlying_shares
"""


def _select(table: str, source: str, now: object) -> tuple[str, list[object]]:
    """The SELECT giving ``table``'s rows (columns by name) for the target accessions."""
    if table == "filings":
        return (
            """
            SELECT s.ACCESSION_NUMBER AS accession_number, _up(s.DOCUMENT_TYPE) AS form_type,
                   s.FILING_DATE AS filing_date, NULL::TIMESTAMP AS accepted_at,
                   s.PERIOD_OF_REPORT AS period_of_report, s.ISSUER_CIK AS issuer_cik,
                   s.ISSUERNAME AS issuer_name, s.ISSUERTRADINGSYMBOL AS issuer_ticker,
                   s.aff AS aff10b5_one, s.DATE_OF_ORIG_SUB AS date_of_original_submission,
                   s.REMARKS AS remarks, NULL AS schema_version,
                   _up(s.DOCUMENT_TYPE) AS document_type,
                   s.NOT_SUBJECT_SEC16 AS not_subject_to_section16,
                   s.NO_SECURITIES_OWNED AS no_securities_owned,
                   NULL AS issuer_foreign_trading_symbol, NULL AS amends_accession,
                   ?::TIMESTAMP AS loaded_at, ? AS source
            FROM _ds_sub s
            """,
            [now, source],
        )
    if table == "reporting_owners":
        rel = "upper(o.RPTOWNER_RELATIONSHIP)"
        return (
            f"""
            SELECT o.ACCESSION_NUMBER AS accession_number, _cik(o.RPTOWNERCIK) AS owner_cik,
                   o.RPTOWNERNAME AS owner_name,
                   CASE WHEN {rel} IS NOT NULL THEN {rel} LIKE '%DIRECTOR%' END AS is_director,
                   CASE WHEN {rel} IS NOT NULL THEN {rel} LIKE '%OFFICER%' END AS is_officer,
                   CASE WHEN {rel} IS NOT NULL THEN regexp_matches({rel},
                        'TEN ?PERCENT|10 ?%|10PERCENT') END AS is_ten_percent_owner,
                   CASE WHEN {rel} IS NOT NULL THEN regexp_matches({rel}, '(^|[^A-Z])OTHER')
                        END AS is_other,
                   o.RPTOWNER_TITLE AS officer_title, o.RPTOWNER_TXT AS other_text,
                   o.RPTOWNER_STREET1 AS street1, o.RPTOWNER_STREET2 AS street2,
                   o.RPTOWNER_CITY AS city, o.RPTOWNER_STATE AS state,
                   o.RPTOWNER_ZIPCODE AS zip_code, o.RPTOWNER_STATE_DESC AS state_description,
                   {_FILING_KEYS}
            FROM _ds_REPORTINGOWNER o JOIN _ds_sub s USING (ACCESSION_NUMBER)
            -- an owner named twice in a filing: its first row (kept on the keys alone)
            WHERE o._row IN (SELECT min(_row) FROM _ds_REPORTINGOWNER
                             GROUP BY ACCESSION_NUMBER, _cik(RPTOWNERCIK))
            """,
            [],
        )
    if table == "transactions":
        return (
            f"""
            SELECT t.ACCESSION_NUMBER AS accession_number, t.line_no::INTEGER AS line_no,
                   t.is_derivative, w.SECURITY_TITLE AS security_title,
                   w.TRANS_DATE AS transaction_date,
                   w.DEEMED_EXECUTION_DATE AS deemed_execution_date,
                   w.TRANS_FORM_TYPE AS transaction_form_type,
                   _up(w.TRANS_CODE) AS transaction_code,
                   c.description AS code_description,
                   CASE WHEN w.TRANS_CODE IS NULL THEN NULL
                        ELSE coalesce(c.category, 'unknown') END AS category,
                   w.EQUITY_SWAP_INVOLVED AS equity_swap_involved,
                   _up(w.TRANS_ACQUIRED_DISP_CD) AS acquired_disposed,
                   w.TRANS_SHARES AS shares, w.TRANS_PRICEPERSHARE AS price_per_share,
                   CASE WHEN w.TRANS_SHARES IS NULL THEN NULL
                        WHEN _up(w.TRANS_ACQUIRED_DISP_CD) = 'A' THEN w.TRANS_SHARES
                        WHEN _up(w.TRANS_ACQUIRED_DISP_CD) = 'D' THEN -w.TRANS_SHARES
                        WHEN c.direction = 'A' THEN w.TRANS_SHARES
                        WHEN c.direction = 'D' THEN -w.TRANS_SHARES END AS shares_delta,
                   CASE WHEN w.TRANS_SHARES IS NOT NULL AND w.TRANS_PRICEPERSHARE IS NOT NULL
                        THEN CAST(w.TRANS_SHARES * w.TRANS_PRICEPERSHARE AS DECIMAL(38,8))
                        ELSE w.TRANS_TOTAL_VALUE END AS value,
                   {_POSITION},
                   _up(w.TRANS_TIMELINESS) AS timeliness, t.footnote_ids,
                   coalesce(f.sale_reason = 'sell_to_cover', false) AS is_sell_to_cover,
                   f.sale_reason, f.sale_reason_text,
                   coalesce(f.is_10b5_1, false) AS is_10b5_1,
                   r.price_range_low, r.price_range_high,
                   coalesce(r.price_range_unusable, false) AS price_range_unusable,
                   f.security_kind, t.issuer_cik, t.filing_date
            FROM ({_staged_rows("tx")}) w JOIN _ds_tx t USING (rid)
            LEFT JOIN _ds_codes c ON c.code = _up(w.TRANS_CODE)
            LEFT JOIN _ds_tx_facts f USING (rid)
            LEFT JOIN _ds_tx_ranges r USING (rid)
            """,
            [],
        )
    if table == "holdings":
        return (
            f"""
            SELECT h.ACCESSION_NUMBER AS accession_number, h.line_no::INTEGER AS line_no,
                   h.is_derivative, w.SECURITY_TITLE AS security_title,
                   {_POSITION}, h.footnote_ids,
                   CASE WHEN h.is_derivative THEN coalesce(k.security_kind, 'other') END
                       AS security_kind, h.issuer_cik, h.filing_date
            FROM ({_staged_rows("hold")}) w JOIN _ds_hold h USING (rid)
            LEFT JOIN _ds_hold_kind k USING (rid)
            """,
            [],
        )
    if table == "footnotes":
        return (
            f"""
            SELECT n.ACCESSION_NUMBER AS accession_number, n.FOOTNOTE_ID AS footnote_id,
                   x.text, {_FILING_KEYS}
            FROM _ds_notes n JOIN _ds_sub s USING (ACCESSION_NUMBER)
            JOIN _ds_texts x USING (text_id)
            """,
            [],
        )
    if table in ("transaction_footnotes", "holding_footnotes"):
        kind = "tx" if table == "transaction_footnotes" else "hold"
        # one branch per staged table and _FN column, each reading that column of the rows
        # that fill it (an UNPIVOT made 19 rows of each row first), joined once to the working
        # rows (the target accessions' rows, with their line numbers and filing keys); a
        # column annotates its own field, so an id repeated in one column is the only repeat
        # a link can have. The usual single id is read without a list.
        branches = " UNION ALL ".join(
            f"SELECT _row * 2 + {n} AS rid, '{name}' AS field, "
            f"unnest(list_distinct(_fn({col}))) AS footnote_id FROM _ds_{staged} "
            f"WHERE contains({col}, ',') "
            f"UNION ALL SELECT _row * 2 + {n}, '{name}', trim({col}) FROM _ds_{staged} "
            f"WHERE NOT contains({col}, ',') AND trim({col}) <> ''"
            for n, staged in enumerate(_ROW_TABLES[kind])
            for col, name in _fn_columns(staged, kind)
        )
        return (
            f"""
            SELECT r.ACCESSION_NUMBER AS accession_number, r.line_no::INTEGER AS line_no,
                   r.is_derivative, l.field, l.footnote_id, r.issuer_cik, r.filing_date
            FROM ({branches}) l JOIN _ds_{kind} r USING (rid)
            """,
            [],
        )
    if table == "owner_signatures":
        return (
            f"""
            SELECT g.ACCESSION_NUMBER AS accession_number,
                   row_number() OVER (PARTITION BY g.ACCESSION_NUMBER ORDER BY g._row)::INTEGER
                       AS signature_no,
                   g.OWNERSIGNATURENAME AS signature_name,
                   g.OWNERSIGNATUREDATE AS signature_date, {_FILING_KEYS}
            FROM _ds_OWNER_SIGNATURE g JOIN _ds_sub s USING (ACCESSION_NUMBER)
            """,
            [],
        )
    if table == "data_issues":
        # A data set value form4 cannot store as given rejects its row's filing (stage
        # dataset); none is loaded altered, so a data set adds no field problems.
        return (
            """
            SELECT s.ACCESSION_NUMBER AS accession_number, NULL::VARCHAR AS table_name,
                   NULL::INTEGER AS line_no, NULL::BOOLEAN AS is_derivative,
                   NULL::VARCHAR AS field, NULL::VARCHAR AS raw_value, NULL::VARCHAR AS problem,
                   s.ISSUER_CIK AS issuer_cik, s.FILING_DATE AS filing_date
            FROM _ds_sub s WHERE false
            """,
            [],
        )
    raise ValueError(table)  # pragma: no cover - DATA_TABLES only


# Tables written while Python answers the keys: they need no answer.
_NEED_ANSWERS = ("transactions", "holdings")


def _write(
    con: duckdb.DuckDBPyConnection, tables: list[str], source: str, now: object, prefix: str
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table in tables:
        sql, params = _select(table, source, now)
        target = f"{prefix}{table}"
        if prefix:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {target} AS SELECT * FROM {table} LIMIT 0")
        columns = ", ".join(f'"{c.name}"' for c in TABLES[table])
        row = con.execute(
            f"INSERT INTO {target} ({columns}) SELECT {columns} FROM ({sql})", params
        ).fetchone()
        counts[table] = int(row[0]) if row else 0
    return counts


def insert_rows(
    con: duckdb.DuckDBPyConnection,
    staged: Staged,
    *,
    prefix: str = "",
    now: object = None,
) -> dict[str, int]:
    """Insert the rows of the accessions in ``_ds_target`` into the data tables (or, with a
    ``prefix``, into temporary tables ``{prefix}{table}`` shaped like them): rows per table.
    The staged FOOTNOTES and Table I/II tables are emptied (``release_staged``) once read:
    nothing may read them after this.

    The tables that need no classifier's answer are written by a second thread while this
    one answers the keys in Python (DuckDB releases the interpreter lock while it runs a
    statement; the connection is used by one thread at a time)."""
    _prepare(con, staged)  # FOOTNOTES is emptied: its texts and rows have their tables
    source = f"dataset:{staged.quarter.label}"
    now = now or utcnow()
    questions = _questions(con)
    early = [t for t in DATA_TABLES if t not in _NEED_ANSWERS]
    with ThreadPoolExecutor(max_workers=1) as pool:
        writing = pool.submit(_write, con, early, source, now, prefix)
        try:
            answers = _answer(questions)
        finally:
            counts = writing.result()
    _join_answers(con, questions, answers)
    counts |= _write(con, list(_NEED_ANSWERS), source, now, prefix)
    release_staged(con, *_ROW_TABLES["tx"], *_ROW_TABLES["hold"])
    return {table: counts[table] for table in DATA_TABLES}
