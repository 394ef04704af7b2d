"""Transaction codes: every official code described and categorised; signs from the A/D flag."""

from __future__ import annotations

from decimal import Decimal

import pytest

from form4.parsers.codes import CODES, code_info, signed_delta

OFFICIAL = "P S V A D F I M C E H O X G L W Z J K U".split()
CATEGORIES = {
    "P": "purchase",
    "S": "sale",
    "A": "award",
    "D": "disposition_to_issuer",
    "F": "tax_withholding",
    "I": "discretionary",
    "M": "exercise",
    "X": "exercise",
    "O": "exercise",
    "C": "conversion",
    "E": "expiration",
    "H": "expiration",
    "G": "gift",
    "L": "small_acquisition",
    "W": "inheritance",
    "Z": "voting_trust",
    "J": "other",
    "K": "equity_swap",
    "U": "tender",
    "V": "voluntary",
}


def test_every_official_code_has_a_description_and_its_category() -> None:
    """Guards against a code missing from the table (its rows would read 'unknown')."""
    assert set(CODES) == set(OFFICIAL)
    for code in OFFICIAL:
        info = code_info(code)
        assert info is not None and info.description, code
        assert info.category == CATEGORIES[code], code


def test_the_four_codes_analysts_rely_on_are_described_exactly() -> None:
    """Guards against F (withholding) or M (exercise) being described as something else."""
    f, s, a, m = (code_info(c) for c in "FSAM")
    assert f is not None and f.description is not None and "withholding" in f.description
    assert s is not None and s.description is not None and "sale" in s.description
    assert a is not None and a.description is not None and "16b-3(d)" in a.description
    assert m is not None and m.description is not None and "Exercise or conversion" in m.description


@pytest.mark.parametrize("raw", ["Q", "s ", "?"])
def test_unknown_codes_are_kept_raw_with_category_unknown(raw: str) -> None:
    """Guards against an unofficial code being dropped or guessed."""
    info = code_info(raw)
    assert info is not None
    if raw.strip().upper() in CODES:
        assert info.category == "sale"
    else:
        assert info.category == "unknown" and info.code == raw.strip().upper()
    assert code_info(None) is None and code_info("  ") is None


@pytest.mark.parametrize(
    ("shares", "flag", "code", "expected"),
    [
        ("100", "A", "S", "100"),  # the filed flag wins over the code
        ("100", "D", "P", "-100"),
        ("100", None, "F", "-100"),  # no flag: the code's direction
        ("100", None, "A", "100"),
        ("100", None, "J", None),  # no flag and a two-way code: unknown sign
        (None, "D", "S", None),
        ("0.5", "d", "S", "-0.5"),
    ],
)
def test_signed_delta_follows_the_flag_then_the_code(
    shares: str | None, flag: str | None, code: str, expected: str | None
) -> None:
    """Guards against sold shares counted as bought (or the reverse) in sums."""
    result = signed_delta(Decimal(shares) if shares else None, flag, code)
    assert result == (Decimal(expected) if expected else None)
