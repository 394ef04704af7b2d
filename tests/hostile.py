"""Hostile variants of real filings for the validation tests: one value of a submission replaced.

``SAMPLE`` is a bundled sample Form 4 (a sale of 95,269 shares at $1.80 on line 1 of Table I);
``with_value(submission, element, text)`` replaces the ``<value>`` of the first ``element`` of
its first Table I transaction (or the text of an identifier such as ``issuerCik``), and
``pill(...)`` does that to a copy with a new accession number, ready for ``build_day``.
Neighbours: ``tests/edgar_tree.py`` (trees), ``tests/test_poison_pills.py`` and
``tests/test_validation.py`` (the tests).
"""

from __future__ import annotations

import re
from datetime import date

from form4.flows.cli.demo import SAMPLE_DATA
from tests.edgar_tree import clone_submission

SAMPLE = (SAMPLE_DATA / "Archives/edgar/data/2900001/0002900001-26-000011.txt").read_bytes()
SAMPLE_ACCESSION = "0002900001-26-000011"
IDENTIFIERS = ("issuerCik", "rptOwnerCik")


def with_value(submission: bytes, element: str, text: str) -> bytes:
    """``submission`` with the value of ``element`` replaced by ``text`` (bytes as given)."""
    raw = text.encode("utf-8")
    if element in IDENTIFIERS:
        pattern = re.compile(rb"(<" + element.encode() + rb">)[^<]*(</)")
        new, n = pattern.subn(lambda m: m[1] + raw + m[2], submission, count=1)
    else:
        start = submission.index(b"<nonDerivativeTransaction>")
        end = submission.index(b"</nonDerivativeTransaction>", start)
        row = submission[start:end]
        pattern = re.compile(rb"(<" + element.encode() + rb">\s*<value>)[^<]*(</value>)")
        row, n = pattern.subn(lambda m: m[1] + raw + m[2], row, count=1)
        new = submission[:start] + row + submission[end:]
    if n != 1:
        raise ValueError(f"no {element} value in the submission")
    return new


def pill(number: int, element: str, text: str, *, filed: date, template: bytes = SAMPLE) -> bytes:
    """A copy of ``template`` under accession ``0009900001-26-{number:06d}`` with one value."""
    clone = clone_submission(template, accession=accession_of(number), filed=filed)
    return with_value(clone, element, text)


def accession_of(number: int) -> str:
    return f"0009900001-26-{number:06d}"
