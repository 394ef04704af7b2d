"""Fuzzing the values of real filings through the whole ingest (hypothesis, bounded in time).

Each example is one EDGAR day served by the loopback mirror: a few real corpus submissions,
each with hostile text in numeric, date and identifier fields of its first Table I
transaction and its issuer. Whatever the text, the ingest completes; every listed filing ends
in exactly one of ``filings``, ``rejects`` and ``failed_accessions``; and every value stored
equals its XML text read by the documented normalisation (separators, ``$`` and spaces
dropped, rounded half-even to 8 places with a ``data_issues`` row when that changed it).
"""

from __future__ import annotations

import re
import tempfile
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from form4.flows.ingest_flow import run_ingest
from tests.conftest import corpus_dir
from tests.edgar_server import FaultyEdgar
from tests.edgar_tree import build_day, clone_submission, read_header
from tests.hostile import with_value
from tests.test_poison_pills import settings_for

DAY = date(2026, 2, 2)
TODAY = date(2026, 2, 10)
NUMBERS = {
    "transactionShares": "shares",
    "transactionPricePerShare": "price_per_share",
    "sharesOwnedFollowingTransaction": "shares_owned_after",
}
DATES = {"transactionDate": "transaction_date"}
IDS = {"issuerCik": "issuer_cik"}
FIELDS = {**NUMBERS, **DATES, **IDS}
HOSTILE_NUMBERS = [
    "1e999999999", "-1e999999999", "1e-999999999", "99999999999999", "100000000000000000000",
    "1.123456789", "-100", "Infinity", "NaN", "0x10", "12abc", "1O0", "", " ", "$1,234.50",
    "-0", "0", "1E+5", "1" + "0" * 29, "1" + "0" * 30, "0.000000001", "1,2,3", "..", "+5",
]  # fmt: skip
HOSTILE_DATES = ["0000-00-00", "2026-02-30", "2026-13-01", "02/02/2026", "", "2026-02-02Z"]
HOSTILE_IDS = ["12345678901", "0", "ABC", "", " 2900001 ", "-1", "00000000001"]


def _templates() -> list[bytes]:
    """Real Form 4 submissions of the corpus whose first Table I transaction has every field."""
    corpus = corpus_dir()
    found = []
    for path in sorted([*(corpus / "txt").glob("*.txt"), *(corpus / "real/txt").glob("*.txt")]):
        data = path.read_bytes()
        if read_header(data).form_type != "4" or b"<nonDerivativeTransaction>" not in data:
            continue
        try:
            for element in FIELDS:
                with_value(data, element, "1")
        except ValueError:
            continue
        found.append(data)
    return found


TEMPLATES = _templates() if (Path(__file__).resolve().parents[2] / "shared").is_dir() else []

numbers = st.one_of(
    st.sampled_from(HOSTILE_NUMBERS),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers(min_value=-(10**35), max_value=10**35).map(str),
    st.text(alphabet="0123456789.-+eE,$ xO", max_size=24),
)
dates = st.one_of(
    st.sampled_from(HOSTILE_DATES),
    st.dates().map(date.isoformat),
    st.text(alphabet="0123456789-/TZ:", max_size=12),
)
ids = st.one_of(st.sampled_from(HOSTILE_IDS), st.text(alphabet="0123456789 -aO", max_size=12))
mutation = st.fixed_dictionaries(
    {},
    optional={
        **{e: numbers for e in NUMBERS},
        **{e: dates for e in DATES},
        **{e: ids for e in IDS},
    },
)
day_of_filings = st.lists(
    st.tuples(st.integers(min_value=0, max_value=10**6), mutation), min_size=1, max_size=5
)

_JUNK = str.maketrans("", "", ",$ \t\r\n\u00a0")
_PLAIN_NUMBER = re.compile(r"[0-9]{1,12}(\.[0-9]{1,8})?")


def _expected_number(text: str) -> tuple[Decimal | None, bool]:
    """The documented reading of a number that was loaded: (value, whether it was rounded)."""
    cleaned = text.translate(_JUNK)
    if not cleaned:
        return None, False
    value = Decimal(cleaned)
    rounded = value.quantize(Decimal("1E-8"), rounding=ROUND_HALF_EVEN)
    return rounded, rounded != value


def _must_load(changes: dict[str, str]) -> bool:
    """Values no rule refuses: plain decimals, ISO dates, CIKs of 1 to 10 digits."""
    for element, text in changes.items():
        if element in NUMBERS and not _PLAIN_NUMBER.fullmatch(text):
            return False
        if element in DATES:
            try:
                date.fromisoformat(text)
            except ValueError:
                return False
        if element in IDS and not (text.isdigit() and len(text) <= 10):
            return False
    return True


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(day_of_filings)
def test_hostile_values_never_stop_the_day_nor_reach_the_warehouse_altered(
    filings: list[tuple[int, dict[str, str]]],
) -> None:
    """Guards against any numeric, date or identifier text that fails the day, loses a filing
    between the tables, or is stored as something other than what the filing says."""
    assert TEMPLATES, "no corpus templates"
    subs: dict[str, tuple[bytes, dict[str, str]]] = {}
    for n, (pick, changes) in enumerate(filings, 1):
        accession = f"0009600001-26-{n:06d}"
        data = clone_submission(TEMPLATES[pick % len(TEMPLATES)], accession=accession, filed=DAY)
        for element, text in changes.items():
            data = with_value(data, element, text)
        subs[accession] = (data, changes)
    with (
        FaultyEdgar(build_day(DAY, [d for d, _ in subs.values()])) as server,
        tempfile.TemporaryDirectory() as where,
    ):
        config = settings_for(server, Path(where))
        result = run_ingest(config, DAY, today=TODAY)
        assert result.error is None and [d.status for d in result.days] == ["done"]
        con = duckdb.connect(str(config.db_path), read_only=True)
        try:
            _check(con, subs)
        finally:
            con.close()


def _check(con: duckdb.DuckDBPyConnection, subs: dict[str, tuple[bytes, dict[str, str]]]) -> None:
    placed: dict[str, list[str]] = {a: [] for a in subs}
    for table in ("filings", "rejects", "failed_accessions"):
        for (accession,) in con.execute(f"SELECT accession_number FROM {table}").fetchall():
            placed[accession].append(table)
    assert all(len(t) == 1 for t in placed.values()), placed
    for accession, (_, changes) in subs.items():
        if placed[accession] != ["filings"]:
            assert placed[accession] == ["rejects"], (accession, placed[accession])
            assert not _must_load(changes), (changes, _reason(con, accession))
            continue
        row = con.execute(
            "SELECT t.shares, t.price_per_share, t.shares_owned_after, t.transaction_date, "
            "f.issuer_cik FROM transactions t JOIN filings f USING (accession_number) "
            "WHERE accession_number = ? AND t.line_no = 1 AND NOT t.is_derivative",
            [accession],
        ).fetchone()
        assert row is not None
        stored = dict(zip(FIELDS.values(), row, strict=True))
        issues = {
            (field, raw)
            for field, raw in con.execute(
                "SELECT field, raw_value FROM data_issues WHERE accession_number = ?", [accession]
            ).fetchall()
        }
        for element, text in changes.items():
            column = FIELDS[element]
            if element in NUMBERS:
                try:
                    value, rounded = _expected_number(text)
                except InvalidOperation:
                    raise AssertionError(f"{text!r} loaded as {stored[column]!r}") from None
                assert stored[column] == value, (text, stored[column])
                assert ((column, text) in issues) == rounded, (text, issues)
            elif element in DATES:
                expected = date.fromisoformat(text.strip()[:10]) if text.strip() else None
                assert stored[column] == expected, (text, stored[column])
            else:
                expected_id = text.strip().zfill(10) if text.strip() else None
                assert stored[column] == expected_id, (text, stored[column])


def _reason(con: duckdb.DuckDBPyConnection, accession: str) -> object:
    row = con.execute(
        "SELECT reason FROM rejects WHERE accession_number = ?", [accession]
    ).fetchone()
    return row[0] if row else None
