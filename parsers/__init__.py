"""Pure parsing: EDGAR index files, submission text files and ownership XML into records.

Bytes in, frozen dataclasses out; no I/O, no imports from ``flows`` or ``warehouse``. Modules:
``index`` (daily/quarterly index files), ``feed`` (the latest-filings Atom feed), ``sgml``
(full submission text: header and XML),
``ownership`` (the ownership document), ``codes`` (transaction codes), ``xmlutil`` (safe lxml
parsing and the traps of real filings), ``records`` (the dataclasses), ``errors`` (the one
exception module of form4).
"""

from form4.parsers.codes import CODES, CodeInfo, code_info, signed_delta
from form4.parsers.errors import (
    BadValue,
    BlockedError,
    ConfigError,
    FetchError,
    Form4Error,
    Inexact,
    LoadError,
    ParseError,
    WorkerError,
)
from form4.parsers.index import ownership_entries, parse_index, read_index
from form4.parsers.normalize import classify_sale, price_range
from form4.parsers.ownership import parse_ownership
from form4.parsers.records import (
    DataIssue,
    FieldFootnote,
    Footnote,
    Holding,
    IndexEntry,
    IndexProblem,
    Issuer,
    OwnershipDocument,
    ParsedFiling,
    ReportingOwner,
    Signature,
    Submission,
    SubmissionHeader,
    Transaction,
)
from form4.parsers.sgml import parse_submission

__all__ = [
    "CODES",
    "BadValue",
    "BlockedError",
    "CodeInfo",
    "ConfigError",
    "DataIssue",
    "FetchError",
    "FieldFootnote",
    "Footnote",
    "Form4Error",
    "Holding",
    "Inexact",
    "IndexEntry",
    "IndexProblem",
    "Issuer",
    "LoadError",
    "OwnershipDocument",
    "ParseError",
    "ParsedFiling",
    "ReportingOwner",
    "Signature",
    "Submission",
    "SubmissionHeader",
    "Transaction",
    "WorkerError",
    "classify_sale",
    "code_info",
    "ownership_entries",
    "parse_index",
    "parse_ownership",
    "parse_submission",
    "price_range",
    "read_index",
    "signed_delta",
]
