"""Build Insider Transactions Data Set ZIPs for tests: from the real 2024 Q3 files, from parsed
filings, or synthetic, in the exact layout of the SEC's metadata file.

``metadata_columns`` reads ``../shared/datasets/2024q3/FORM_345_metadata.json``: each table's
columns in order. ``tsv`` writes rows the way the SEC does (tab-separated, UTF-8, a field quoted
only when it holds a double quote, dates ``DD-MON-YYYY``). ``from_filings`` turns parsed XML
filings into the eight tables (so a data set import can be compared with the XML ingest of the
same filings); ``synthetic_missing`` writes the three tables the shared copy lacks
(NONDERIV_TRANS, REPORTINGOWNER, FOOTNOTES) for the accessions of its SUBMISSION.
``index_page`` is the data sets' index page linking the ZIPs.
"""

from __future__ import annotations

import io
import json
import os
import random
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from form4.parsers.records import ParsedFiling

DATASETS = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"
REAL = DATASETS / "2024q3"
INDEX_PATH = "data-research/sec-markets-data/insider-transactions-data-sets"
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
REAL_MEMBERS = (
    "SUBMISSION.tsv",
    "DERIV_TRANS.tsv",
    "DERIV_HOLDING.tsv",
    "NONDERIV_HOLDING.tsv",
    "OWNER_SIGNATURE.tsv",
)


def real_dir() -> Path:
    """The real quarter; under CI its absence is a failure, elsewhere a skip."""
    if not (REAL / "SUBMISSION.tsv").is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the shared data set is missing at {REAL} (required when CI=true)")
        pytest.skip(f"the shared data set is not at {REAL}")
    return REAL


@cache
def metadata_columns() -> dict[str, list[str]]:
    """Table name (``NONDERIV_TRANS``) -> its columns, as the metadata file lists them."""
    meta = json.loads((real_dir() / "FORM_345_metadata.json").read_text())
    return {
        t["url"].removesuffix(".tsv"): [c["name"] for c in t["tableSchema"]["columns"]]
        for t in meta["tables"]
    }


def fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, date):
        return f"{value.day:02d}-{_MONTHS[value.month - 1]}-{value.year}"
    if isinstance(value, Decimal):
        return format(value, "f")
    text = str(value)
    if '"' in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def tsv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> bytes:
    lines = ["\t".join(columns)]
    lines += ["\t".join(fmt(row.get(c)) for c in columns) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def build_zip(members: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def index_page(links: Mapping[str, str]) -> bytes:
    """The index page: ``{label: href}``, e.g. ``{"2024q3": "/files/.../2024q3_form345.zip"}``."""
    items = "".join(f'<li><a href="{href}">{q.upper()}</a></li>' for q, href in links.items())
    return (
        "<html><head><title>Insider Transactions Data Sets</title></head><body>"
        f"<h1>Insider Transactions Data Sets</h1><ul>{items}</ul>"
        '<a href="https://elsewhere.example/files/2001q1_form345.zip">a mirror</a>'
        "</body></html>"
    ).encode()


def real_submissions() -> list[str]:
    lines = (real_dir() / "SUBMISSION.tsv").read_bytes().decode().splitlines()[1:]
    return [line.split("\t", 1)[0] for line in lines if line]


def synthetic_missing(accessions: Sequence[str], seed: int = 16) -> dict[str, bytes]:
    """NONDERIV_TRANS, REPORTINGOWNER and FOOTNOTES for ``accessions``, in the metadata layout:
    one or two owners each, about 1.5 transactions and one footnote per filing."""
    rng = random.Random(seed)
    cols = metadata_columns()
    owners: list[dict[str, Any]] = []
    trans: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    sk = 5_000_000
    for n, acc in enumerate(accessions):
        for k in range(1 + (n % 5 == 0)):
            owners.append(
                {
                    "ACCESSION_NUMBER": acc,
                    "RPTOWNERCIK": f"{1_900_000 + n * 2 + k:010d}",
                    "RPTOWNERNAME": f"Owner {n} {k}",
                    "RPTOWNER_RELATIONSHIP": ("Director", "Officer", "Director,Officer")[n % 3],
                    "RPTOWNER_TITLE": "Chief Executive Officer" if n % 3 else None,
                    "RPTOWNER_STREET1": f"{n} Main St",
                    "RPTOWNER_CITY": "Springfield",
                    "RPTOWNER_STATE": "IL",
                    "RPTOWNER_ZIPCODE": "62701",
                }
            )
        notes.append(
            {
                "ACCESSION_NUMBER": acc,
                "FOOTNOTE_ID": "F1",
                "FOOTNOTE_TXT": (
                    "The price reported is a weighted average price; prices ranged from "
                    f"${10 + n % 7}.05 to ${11 + n % 7}.10, inclusive."
                    if n % 2
                    else 'Shares sold to cover tax withholding on the vesting of "RSUs".'
                ),
            }
        )
        for _ in range(1 + (n % 2)):
            sk += 1
            shares = Decimal(rng.randint(1, 50_000))
            trans.append(
                {
                    "ACCESSION_NUMBER": acc,
                    "NONDERIV_TRANS_SK": sk,
                    "SECURITY_TITLE": "Common Stock",
                    "TRANS_DATE": date(2024, 7 + n % 3, 1 + n % 28),
                    "TRANS_FORM_TYPE": "4",
                    "TRANS_CODE": "SPAMF"[n % 5],
                    "EQUITY_SWAP_INVOLVED": "0",
                    "TRANS_SHARES": shares,
                    "TRANS_PRICEPERSHARE": Decimal(rng.randint(100, 99_999)) / 100,
                    "TRANS_PRICEPERSHARE_FN": "F1",
                    "TRANS_ACQUIRED_DISP_CD": "D" if n % 5 in (0, 4) else "A",
                    "SHRS_OWND_FOLWNG_TRANS": shares * 3,
                    "DIRECT_INDIRECT_OWNERSHIP": "D",
                }
            )
    return {
        "NONDERIV_TRANS.tsv": tsv(cols["NONDERIV_TRANS"], trans),
        "REPORTINGOWNER.tsv": tsv(cols["REPORTINGOWNER"], owners),
        "FOOTNOTES.tsv": tsv(cols["FOOTNOTES"], notes),
    }


def real_quarter_members() -> dict[str, bytes]:
    """The real 2024 Q3 files plus the three tables the shared copy lacks (synthetic)."""
    root = real_dir()
    members = {name: (root / name).read_bytes() for name in REAL_MEMBERS}
    members.update(synthetic_missing(real_submissions()))
    return members


# XML field name -> the _FN column the SEC writes its footnotes in.
_FN_OF_FIELD = {
    "security_title": "SECURITY_TITLE_FN",
    "conversion_or_exercise_price": "CONV_EXERCISE_PRICE_FN",
    "transaction_date": "TRANS_DATE_FN",
    "deemed_execution_date": "DEEMED_EXECUTION_DATE_FN",
    "transaction_code": "EQUITY_SWAP_INVOLVED_FN",
    "timeliness": "TRANS_TIMELINESS_FN",
    "shares": "TRANS_SHARES_FN",
    "value": "TRANS_TOTAL_VALUE_FN",
    "price_per_share": "TRANS_PRICEPERSHARE_FN",
    "acquired_disposed": "TRANS_ACQUIRED_DISP_CD_FN",
    "exercise_date": "EXERCISE_DATE_FN",
    "expiration_date": "EXPIRATION_DATE_FN",
    "underlying_security_title": "UNDLYNG_SEC_TITLE_FN",
    "underlying_shares": "UNDLYNG_SEC_SHARES_FN",
    "underlying_value": "UNDLYNG_SEC_VALUE_FN",
    "shares_owned_after": "SHRS_OWND_FOLWNG_TRANS_FN",
    "value_owned_after": "VALU_OWND_FOLWNG_TRANS_FN",
    "direct_or_indirect": "DIRECT_INDIRECT_OWNERSHIP_FN",
    "nature_of_ownership": "NATURE_OF_OWNERSHIP_FN",
}


def _fn_columns(links: Iterable[Any]) -> dict[str, str]:
    out: dict[str, list[str]] = {}
    for link in links:
        column = _FN_OF_FIELD.get(link.field)
        if column is not None:
            out.setdefault(column, []).append(link.footnote_id)
    return {k: ", ".join(v) for k, v in out.items()}


def _relationship(owner: Any) -> str:
    roles = [
        name
        for name, flag in (
            ("Director", owner.is_director),
            ("Officer", owner.is_officer),
            ("TenPercentOwner", owner.is_ten_percent_owner),
            ("Other", owner.is_other),
        )
        if flag
    ]
    return ",".join(roles)


def from_filings(
    filings: Sequence[ParsedFiling], *, aff10b5_column: bool = True
) -> dict[str, bytes]:
    """The eight tables of a data set holding ``filings`` (as the SEC would extract them);
    SUBMISSION has the ``AFF10B5ONE`` column of newer quarters unless told otherwise."""
    cols = metadata_columns()
    tables: dict[str, list[dict[str, Any]]] = {name: [] for name in cols}
    sk = 1_000
    for filing in filings:
        acc = filing.header.accession_number
        doc = filing.document
        tables["SUBMISSION"].append(
            {
                "ACCESSION_NUMBER": acc,
                "FILING_DATE": filing.header.filing_date,
                "PERIOD_OF_REPORT": doc.period_of_report,
                "DATE_OF_ORIG_SUB": doc.date_of_original_submission,
                "NO_SECURITIES_OWNED": doc.no_securities_owned,
                "NOT_SUBJECT_SEC16": doc.not_subject_to_section16,
                "DOCUMENT_TYPE": doc.document_type,
                "ISSUERCIK": doc.issuer.cik,
                "ISSUERNAME": doc.issuer.name,
                "ISSUERTRADINGSYMBOL": doc.issuer.ticker,
                "REMARKS": doc.remarks,
                "AFF10B5ONE": doc.aff10b5_one,
            }
        )
        for owner in doc.reporting_owners:
            tables["REPORTINGOWNER"].append(
                {
                    "ACCESSION_NUMBER": acc,
                    "RPTOWNERCIK": owner.owner_cik,
                    "RPTOWNERNAME": owner.owner_name,
                    "RPTOWNER_RELATIONSHIP": _relationship(owner),
                    "RPTOWNER_TITLE": owner.officer_title,
                    "RPTOWNER_TXT": owner.other_text,
                    "RPTOWNER_STREET1": owner.street1,
                    "RPTOWNER_STREET2": owner.street2,
                    "RPTOWNER_CITY": owner.city,
                    "RPTOWNER_STATE": owner.state,
                    "RPTOWNER_ZIPCODE": owner.zip_code,
                    "RPTOWNER_STATE_DESC": owner.state_description,
                }
            )
        for t in doc.transactions:
            sk += 1
            table = "DERIV_TRANS" if t.is_derivative else "NONDERIV_TRANS"
            row = {
                "ACCESSION_NUMBER": acc,
                f"{table}_SK": sk,
                "SECURITY_TITLE": t.security_title,
                "CONV_EXERCISE_PRICE": t.conversion_or_exercise_price,
                "TRANS_DATE": t.transaction_date,
                "DEEMED_EXECUTION_DATE": t.deemed_execution_date,
                "TRANS_FORM_TYPE": t.transaction_form_type,
                "TRANS_CODE": t.transaction_code,
                "EQUITY_SWAP_INVOLVED": t.equity_swap_involved,
                "TRANS_TIMELINESS": t.timeliness,
                "TRANS_SHARES": t.shares,
                "TRANS_TOTAL_VALUE": None if t.price_per_share is not None else t.value,
                "TRANS_PRICEPERSHARE": t.price_per_share,
                "TRANS_ACQUIRED_DISP_CD": t.acquired_disposed,
                "EXCERCISE_DATE": t.exercise_date,
                "EXPIRATION_DATE": t.expiration_date,
                "UNDLYNG_SEC_TITLE": t.underlying_security_title,
                "UNDLYNG_SEC_SHARES": t.underlying_shares,
                "SHRS_OWND_FOLWNG_TRANS": t.shares_owned_after,
                "VALU_OWND_FOLWNG_TRANS": t.value_owned_after,
                "DIRECT_INDIRECT_OWNERSHIP": t.direct_or_indirect,
                "NATURE_OF_OWNERSHIP": t.nature_of_ownership,
            }
            fns = _fn_columns(t.field_footnotes)
            if "EXERCISE_DATE_FN" in fns:
                fns["EXCERCISE_DATE_FN"] = fns.pop("EXERCISE_DATE_FN")
            row.update(fns)
            tables[table].append(row)
        for h in doc.holdings:
            sk += 1
            table = "DERIV_HOLDING" if h.is_derivative else "NONDERIV_HOLDING"
            row = {
                "ACCESSION_NUMBER": acc,
                f"{table}_SK": sk,
                "SECURITY_TITLE": h.security_title,
                "CONV_EXERCISE_PRICE": h.conversion_or_exercise_price,
                "EXERCISE_DATE": h.exercise_date,
                "EXPIRATION_DATE": h.expiration_date,
                "UNDLYNG_SEC_TITLE": h.underlying_security_title,
                "UNDLYNG_SEC_SHARES": h.underlying_shares,
                "SHRS_OWND_FOLWNG_TRANS": h.shares_owned_after,
                "VALU_OWND_FOLWNG_TRANS": h.value_owned_after,
                "DIRECT_INDIRECT_OWNERSHIP": h.direct_or_indirect,
                "NATURE_OF_OWNERSHIP": h.nature_of_ownership,
            }
            row.update(_fn_columns(h.field_footnotes))
            tables[table].append(row)
        for note in doc.footnotes:
            tables["FOOTNOTES"].append(
                {
                    "ACCESSION_NUMBER": acc,
                    "FOOTNOTE_ID": note.footnote_id,
                    "FOOTNOTE_TXT": note.text,
                }
            )
        for sig in doc.signatures:
            tables["OWNER_SIGNATURE"].append(
                {
                    "ACCESSION_NUMBER": acc,
                    "OWNERSIGNATURENAME": sig.name,
                    "OWNERSIGNATUREDATE": sig.signed_on,
                }
            )
    out: dict[str, bytes] = {}
    for name, columns in cols.items():
        if name == "SUBMISSION" and aff10b5_column:  # as the quarters since the checkbox do
            columns = [*columns, "AFF10B5ONE"]
        out[f"{name}.tsv"] = tsv(columns, tables[name])
    return out
