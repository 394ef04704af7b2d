"""EDGAR's identifiers, checked before any of them becomes part of a path or a URL.

A CIK is 1 to 10 digits; an accession number is ``NNNNNNNNNN-NN-NNNNNN``; a submissions JSON
page is ``CIK##########-submissions-NNN.json``. ``flows.edgar.endpoints`` builds every EDGAR
path from these alone (never from a file name an index or a JSON document gives), and
``parsers.submissions`` skips JSON rows whose accession is not one. Pure.
"""

from __future__ import annotations

import re

__all__ = ["ACCESSION", "CIK", "SUBMISSIONS_PAGE", "is_accession", "is_cik"]

CIK = re.compile(r"[0-9]{1,10}")
ACCESSION = re.compile(r"[0-9]{10}-[0-9]{2}-[0-9]{6}")
SUBMISSIONS_PAGE = re.compile(r"CIK[0-9]{10}(?:-submissions-[0-9]{1,6})?\.json")


def is_cik(text: object) -> bool:
    return isinstance(text, str) and CIK.fullmatch(text) is not None


def is_accession(text: object) -> bool:
    return isinstance(text, str) and ACCESSION.fullmatch(text) is not None
