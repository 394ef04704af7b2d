"""The eight tables of a data set ZIP -> typed Arrow batches, with every bad row set apart.

Pure: a binary stream in (a ZIP member, opened by the caller), Arrow record batches out. Each
file is read with pyarrow's CSV reader, in blocks, as the SEC writes it: tab-separated, UTF-8,
a field quoted (RFC 4180, inner quotes doubled) only when it holds a double quote. Columns are
found by the file's own header, not by position: names drift between the metadata and the
files (``EQUITY_SWAP_TRANS_CD_FN``, the misspelt ``EXCERCISE_DATE``) and newer quarters add
columns (``AFF10B5ONE``). Every value is converted by Arrow compute kernels, never a Python
loop over rows:

- dates ``DD-MON-YYYY``, numbers (plain decimals, at most 8 decimals and 30 integer digits:
  what ``DECIMAL(38,8)`` stores), flags ``0/1/true/false`` (and the XML reader's ``y/n``);
- text stripped and whitespace folded (as the XML reader's ``clean``; the ``_FN`` id lists are
  split and trimmed by the loader), empty -> NULL;
- a value that does not convert makes its row *bad*: ``_error`` says which column and value,
  ``_text`` holds the row as read (its fields joined by tabs); the row's other values are kept
  only for the message. A line with the wrong number of fields is bad too.

``LAYOUT`` declares each table's columns (canonical name -> kind) and key. Neighbours:
``parsers.dataset_index`` (quarters, links), ``parsers.dataset_facts`` (footnote facts),
``warehouse.dataset_stage`` and ``warehouse.dataset_rows`` (the load into the XML path's
tables).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from form4.parsers.errors import ParseError

__all__ = [
    "ALIASES",
    "LAYOUT",
    "MEMBERS",
    "TableHeader",
    "OPTIONAL",
    "TableLayout",
    "output_schema",
    "read_bytes",
    "read_header",
    "read_table",
]

DATE, NUMBER, FLAG, KEY_INT, TEXT = "date", "number", "flag", "key", "text"


@dataclass(frozen=True, slots=True)
class TableLayout:
    member: str  # file name in the ZIP, e.g. "NONDERIV_TRANS.tsv"
    key: tuple[str, ...]  # columns a row cannot be placed without
    columns: dict[str, str]  # canonical name -> kind, in the metadata's order


def _fn(*names_kinds: tuple[str, str]) -> dict[str, str]:
    """Columns with their ``_FN`` footnote column after each."""
    out: dict[str, str] = {}
    for name, kind in names_kinds:
        out[name] = kind
        out[name + "_FN"] = TEXT
    return out


_POSITION = (
    ("SHRS_OWND_FOLWNG_TRANS", NUMBER),
    ("VALU_OWND_FOLWNG_TRANS", NUMBER),
    ("DIRECT_INDIRECT_OWNERSHIP", TEXT),
    ("NATURE_OF_OWNERSHIP", TEXT),
)
_UNDERLYING = (
    ("EXERCISE_DATE", DATE),
    ("EXPIRATION_DATE", DATE),
    ("UNDLYNG_SEC_TITLE", TEXT),
    ("UNDLYNG_SEC_SHARES", NUMBER),
    ("UNDLYNG_SEC_VALUE", NUMBER),
)


def _trans(derivative: bool) -> dict[str, str]:
    cols: dict[str, str] = {"ACCESSION_NUMBER": TEXT}
    cols[("DERIV" if derivative else "NONDERIV") + "_TRANS_SK"] = KEY_INT
    cols |= _fn(("SECURITY_TITLE", TEXT))
    if derivative:
        cols |= _fn(("CONV_EXERCISE_PRICE", NUMBER))
    cols |= _fn(("TRANS_DATE", DATE), ("DEEMED_EXECUTION_DATE", DATE))
    cols |= {"TRANS_FORM_TYPE": TEXT, "TRANS_CODE": TEXT}
    cols |= _fn(("EQUITY_SWAP_INVOLVED", FLAG), ("TRANS_TIMELINESS", TEXT))
    cols |= _fn(("TRANS_SHARES", NUMBER))
    if derivative:
        cols |= _fn(("TRANS_TOTAL_VALUE", NUMBER))
    cols |= _fn(("TRANS_PRICEPERSHARE", NUMBER), ("TRANS_ACQUIRED_DISP_CD", TEXT))
    if derivative:
        cols |= _fn(*_UNDERLYING)
    return cols | _fn(*_POSITION)


def _hold(derivative: bool) -> dict[str, str]:
    cols: dict[str, str] = {"ACCESSION_NUMBER": TEXT}
    cols[("DERIV" if derivative else "NONDERIV") + "_HOLDING_SK"] = KEY_INT
    cols |= _fn(("SECURITY_TITLE", TEXT))
    if derivative:
        cols |= _fn(("CONV_EXERCISE_PRICE", NUMBER))
    cols |= _fn(("TRANS_FORM_TYPE", TEXT))
    if derivative:
        cols |= _fn(*_UNDERLYING)
    return cols | _fn(*_POSITION)


LAYOUT: dict[str, TableLayout] = {
    "SUBMISSION": TableLayout(
        "SUBMISSION.tsv",
        ("ACCESSION_NUMBER",),
        {
            "ACCESSION_NUMBER": TEXT,
            "FILING_DATE": DATE,
            "PERIOD_OF_REPORT": DATE,
            "DATE_OF_ORIG_SUB": DATE,
            "NO_SECURITIES_OWNED": FLAG,
            "NOT_SUBJECT_SEC16": FLAG,
            "FORM3_HOLDINGS_REPORTED": FLAG,
            "FORM4_TRANS_REPORTED": FLAG,
            "DOCUMENT_TYPE": TEXT,
            "ISSUERCIK": TEXT,
            "ISSUERNAME": TEXT,
            "ISSUERTRADINGSYMBOL": TEXT,
            "CONTACT_NAME": TEXT,  # in the metadata, not in the 2024 Q3 files: not stored
            "CONTACT_PHONE_NUMBER": TEXT,
            "CONTACT_EMAIL_ADDRESS": TEXT,
            "NOTIFICATION_EMAIL_ADDRESS": TEXT,
            "REMARKS": TEXT,
            "AFF10B5ONE": FLAG,  # newer quarters only
        },
    ),
    "REPORTINGOWNER": TableLayout(
        "REPORTINGOWNER.tsv",
        ("ACCESSION_NUMBER", "RPTOWNERCIK"),
        {
            "ACCESSION_NUMBER": TEXT,
            "RPTOWNERCIK": TEXT,
            "RPTOWNERNAME": TEXT,
            "RPTOWNER_RELATIONSHIP": TEXT,
            "RPTOWNER_TITLE": TEXT,
            "RPTOWNER_TXT": TEXT,
            "RPTOWNER_STREET1": TEXT,
            "RPTOWNER_STREET2": TEXT,
            "RPTOWNER_CITY": TEXT,
            "RPTOWNER_STATE": TEXT,
            "RPTOWNER_ZIPCODE": TEXT,
            "RPTOWNER_STATE_DESC": TEXT,
            "FILE_NUMBER": TEXT,
        },
    ),
    "NONDERIV_TRANS": TableLayout(
        "NONDERIV_TRANS.tsv", ("ACCESSION_NUMBER", "NONDERIV_TRANS_SK"), _trans(False)
    ),
    "NONDERIV_HOLDING": TableLayout(
        "NONDERIV_HOLDING.tsv", ("ACCESSION_NUMBER", "NONDERIV_HOLDING_SK"), _hold(False)
    ),
    "DERIV_TRANS": TableLayout(
        "DERIV_TRANS.tsv", ("ACCESSION_NUMBER", "DERIV_TRANS_SK"), _trans(True)
    ),
    "DERIV_HOLDING": TableLayout(
        "DERIV_HOLDING.tsv", ("ACCESSION_NUMBER", "DERIV_HOLDING_SK"), _hold(True)
    ),
    "FOOTNOTES": TableLayout(
        "FOOTNOTES.tsv",
        ("ACCESSION_NUMBER", "FOOTNOTE_ID"),
        {"ACCESSION_NUMBER": TEXT, "FOOTNOTE_ID": TEXT, "FOOTNOTE_TXT": TEXT},
    ),
    "OWNER_SIGNATURE": TableLayout(
        "OWNER_SIGNATURE.tsv",
        ("ACCESSION_NUMBER",),
        {"ACCESSION_NUMBER": TEXT, "OWNERSIGNATURENAME": TEXT, "OWNERSIGNATUREDATE": DATE},
    ),
}
MEMBERS = tuple(layout.member for layout in LAYOUT.values())

# Names the files use for a canonical column (the metadata and the files disagree).
ALIASES: dict[str, str] = {
    "EQUITY_SWAP_TRANS_CD_FN": "EQUITY_SWAP_INVOLVED_FN",
    "EXCERCISE_DATE": "EXERCISE_DATE",
    "EXCERCISE_DATE_FN": "EXERCISE_DATE_FN",
    "FORM3_HOLDING_REPORTED": "FORM3_HOLDINGS_REPORTED",
    "AFF10B5_ONE": "AFF10B5ONE",
}
# Columns a quarter may lack without anything being wrong (added in later quarters).
OPTIONAL = frozenset(
    {
        "AFF10B5ONE",
        "CONTACT_NAME",
        "CONTACT_PHONE_NUMBER",
        "CONTACT_EMAIL_ADDRESS",
        "NOTIFICATION_EMAIL_ADDRESS",
    }
)


@dataclass(frozen=True, slots=True)
class TableHeader:
    """What a file's header says: the canonical name of each field (None: unknown column)."""

    table: str
    names: tuple[str | None, ...]
    unknown: tuple[str, ...] = ()  # columns form4 does not know (read, not stored)
    missing: tuple[str, ...] = ()  # known columns the file lacks (NULL in every row)
    problems: tuple[str, ...] = field(default=())

    @property
    def present(self) -> frozenset[str]:
        return frozenset(n for n in self.names if n is not None)


def read_header(table: str, line: bytes) -> TableHeader:
    """The header line of ``table``'s file; ParseError when a key column is missing."""
    layout = LAYOUT[table]
    text = line.decode("utf-8", "replace").lstrip("\ufeff").rstrip("\r\n")
    raw = [name.strip().strip('"').upper() for name in text.split("\t")]
    names: list[str | None] = []
    unknown: list[str] = []
    for name in raw:
        canonical = ALIASES.get(name, name)
        if canonical in layout.columns and canonical not in names:
            names.append(canonical)
        else:
            names.append(None)
            unknown.append(name)
    missing = tuple(c for c in layout.columns if c not in names and c not in OPTIONAL)
    lacking_key = [c for c in layout.key if c not in names]
    if lacking_key:
        raise ParseError(
            f"{layout.member}: no {', '.join(lacking_key)} column in the header",
            stage="dataset",
        )
    problems = []
    if unknown:
        problems.append(f"{layout.member}: unknown columns ignored: {', '.join(unknown)}")
    if missing:
        problems.append(f"{layout.member}: columns missing (NULL): {', '.join(missing)}")
    return TableHeader(table, tuple(names), tuple(unknown), missing, tuple(problems))


# ----------------------------------------------------------------------------- conversion

# Python's str.split() whitespace, which the XML reader folds (RE2's \s lacks \x0b, \x1c-\x1f).
_SPACE = (
    r"[\s\x0b\x1c-\x1f\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}"
    r"\x{205f}\x{3000}]+"
)
_NUMBER = r"^[+-]?(?:\d{1,30}(?:\.\d{0,8})?|\.\d{1,8})$"
_TRUE = pa.array(["1", "true", "t", "y", "yes", "x"])
_FALSE = pa.array(["0", "false", "f", "n", "no"])
_DECIMAL = pa.decimal128(38, 8)


_DOUBLE_SPACE = re.compile(b"  ")


def _unfolded(col: Any) -> Any:
    """The values the fold may change: a value of printable ASCII with no leading, trailing or
    doubled space is folded already. Doubled spaces are looked for value by value only when
    the column's bytes hold one at all (a search of the whole buffer at memory speed; it may
    find one across two values, which costs only that look)."""
    flags = pc.or_(
        pc.invert(pc.ascii_is_printable(col)),
        pc.or_(pc.starts_with(col, " "), pc.ends_with(col, " ")),
    )
    data = col.buffers()[2]
    if data is not None and _DOUBLE_SPACE.search(memoryview(data)):
        # RE2 is the faster search in long texts, Arrow's substring kernel in short ones
        long = data.size > 64 * max(len(col), 1)
        doubled = pc.match_substring_regex(col, "  ") if long else pc.match_substring(col, "  ")
        flags = pc.or_(flags, doubled)
    return pc.fill_null(flags, False)


def _fold(col: Any) -> Any:
    return pc.utf8_trim(pc.replace_substring_regex(col, _SPACE, " "), " ")


def _text(col: Any) -> Any:
    unfolded = _unfolded(col)
    if pc.any(unfolded).as_py():  # only those go through the (much slower) regex fold
        col = pc.replace_with_mask(col, unfolded, _fold(pc.filter(col, unfolded)))
    empty = pc.equal(col, "")
    if pc.any(empty).as_py():
        col = pc.if_else(empty, pa.scalar(None, pa.string()), col)
    return col


def _by_value(convert: Any) -> Any:
    """``convert`` run once per distinct value (dates and flags repeat: a quarter has some
    hundred distinct dates in 200,000 rows), its results spread back to the rows."""

    def run(col: Any) -> tuple[Any, Any]:
        encoded = pc.dictionary_encode(col)
        value, bad = convert(encoded.dictionary)
        return pc.take(value, encoded.indices), pc.take(bad, encoded.indices)

    return run


def _number(col: Any) -> tuple[Any, Any]:
    text = pc.utf8_trim_whitespace(col)
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    ok = pc.match_substring_regex(text, _NUMBER)
    good = pc.if_else(ok, text, pa.scalar(None, pa.string()))
    if pc.any(pc.ends_with(good, ".")).as_py():  # rare: a whole copy only when needed
        good = pc.replace_substring_regex(good, r"\.$", "")  # "12." -> "12"
    return pc.cast(good, _DECIMAL), pc.and_kleene(pc.is_valid(text), pc.invert(ok))


def _key_int(col: Any) -> tuple[Any, Any]:
    text = pc.utf8_trim_whitespace(col)
    ok = pc.match_substring_regex(text, r"^\d{1,18}(?:\.0*)?$")
    good = pc.if_else(ok, pc.replace_substring_regex(text, r"\..*$", ""), None)
    return pc.cast(good, pa.int64()), pc.invert(pc.fill_null(ok, False))


def _date(col: Any) -> tuple[Any, Any]:
    text = pc.utf8_trim_whitespace(col)
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    ok = pc.match_substring_regex(text, r"^\d{1,2}-[A-Za-z]{3}-\d{4}$")
    stamp = pc.strptime(
        pc.if_else(ok, text, pa.scalar(None, pa.string())),
        format="%d-%b-%Y",
        unit="s",
        error_is_null=True,
    )
    # Arrow's strptime rolls an impossible day over (31-FEB -> 2 March): the day read back
    # must be the day written
    written = pc.cast(pc.struct_field(pc.extract_regex(text, r"^(?P<d>\d{1,2})-"), 0), pa.int64())
    real = pc.equal(pc.cast(pc.day(stamp), pa.int64()), written)
    value = pc.if_else(real, pc.cast(stamp, pa.date32()), pa.scalar(None, pa.date32()))
    return value, pc.and_kleene(pc.is_valid(text), pc.is_null(value))


def _flag(col: Any) -> tuple[Any, Any]:
    text = pc.utf8_lower(pc.utf8_trim_whitespace(col))
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    is_true = pc.is_in(text, value_set=_TRUE)
    is_false = pc.is_in(text, value_set=_FALSE)
    value = pc.if_else(is_true, True, pc.if_else(is_false, False, pa.scalar(None, pa.bool_())))
    return value, pc.and_kleene(pc.is_valid(text), pc.is_null(value))


_CONVERT = {NUMBER: _number, DATE: _by_value(_date), FLAG: _by_value(_flag), KEY_INT: _key_int}
_WHAT = {
    NUMBER: "is not a number form4 can store",
    DATE: "is not a DD-MON-YYYY date",
    FLAG: "is not a 0/1/true/false flag",
    KEY_INT: "is not a whole number",
}
_ARROW = {
    TEXT: pa.string(),
    NUMBER: _DECIMAL,
    DATE: pa.date32(),
    FLAG: pa.bool_(),
    KEY_INT: pa.int64(),
}


def output_schema(table: str) -> pa.Schema:
    """The batches ``read_table`` yields: every known column, then _row, _error and _text."""
    layout = LAYOUT[table]
    fields = [pa.field(name, _ARROW[kind]) for name, kind in layout.columns.items()]
    fields += [
        pa.field("_row", pa.int64()),
        pa.field("_error", pa.string()),
        pa.field("_text", pa.string()),
    ]
    return pa.schema(fields)


def _convert(header: TableHeader, batch: pa.RecordBatch, first_row: int) -> pa.RecordBatch:
    layout = LAYOUT[header.table]
    n = batch.num_rows
    by_name = {name: batch.column(i) for i, name in enumerate(header.names) if name is not None}
    columns: list[Any] = []
    error: Any = pa.nulls(n, pa.string())
    for name, kind in layout.columns.items():
        raw = by_name.get(name)
        if raw is None:
            columns.append(pa.nulls(n, _ARROW[kind]))
            continue
        if kind == TEXT:
            # footnote id lists ("F1, F2") are split and trimmed by the loader: no fold needed
            columns.append(raw if name.endswith("_FN") else _text(raw))
            continue
        value, bad = _CONVERT[kind](raw)
        columns.append(value)
        if pc.any(bad).as_py():
            shown = pc.utf8_slice_codeunits(pc.fill_null(raw, ""), 0, 60)
            message = pc.binary_join_element_wise(f"{name} '", shown, f"' {_WHAT[kind]}", "")
            error = pc.if_else(pc.and_(pc.fill_null(bad, False), pc.is_null(error)), message, error)
    rows = pa.array(range(first_row, first_row + n), pa.int64())
    has_error = pc.is_valid(error)
    if pc.any(has_error).as_py():
        fields = [pc.fill_null(batch.column(i), "") for i in range(batch.num_columns)]
        joined = pc.binary_join_element_wise(*fields, "\t")
        text = pc.if_else(has_error, joined, pa.scalar(None, pa.string()))
    else:
        text = pa.nulls(n, pa.string())
    columns += [rows, error, text]
    return pa.RecordBatch.from_arrays(columns, schema=output_schema(header.table))


def read_table(
    table: str,
    stream: IO[bytes],
    *,
    block_size: int = 1 << 20,
    on_header: Any = None,
) -> Iterator[pa.RecordBatch]:
    """Typed record batches of one table's file (see the module docstring).

    ``on_header`` (optional) is called with the ``TableHeader`` before the first batch. A line
    with the wrong number of fields becomes a bad row (``_error`` set, only ``_text`` and, if
    it parses, ``ACCESSION_NUMBER`` filled). The header is read at once (``ParseError`` when
    a key column is missing); the rows as the iterator is consumed."""
    header_line = stream.readline()
    if not header_line.strip():
        raise ParseError(f"{LAYOUT[table].member}: empty file, no header", stage="dataset")
    header = read_header(table, header_line)
    if on_header is not None:
        on_header(header)
    width = len(header.names)
    column_names = [f"c{i}" for i in range(width)]
    malformed: list[str] = []

    def invalid(row: Any) -> str:
        malformed.append(row.text)
        return "skip"

    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(
                column_names=column_names, block_size=block_size, encoding="utf8"
            ),
            parse_options=pacsv.ParseOptions(
                delimiter="\t",
                quote_char='"',
                double_quote=True,
                escape_char=False,
                newlines_in_values=True,
                invalid_row_handler=invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in column_names},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):  # a header and no rows
            return iter(())
        raise ParseError(f"{LAYOUT[table].member}: {exc}", stage="dataset") from None
    return _batches(table, header, reader, malformed)


def _batches(
    table: str, header: TableHeader, reader: Any, malformed: list[str]
) -> Iterator[pa.RecordBatch]:
    width = len(header.names)
    row = 1
    acc_index = header.names.index("ACCESSION_NUMBER")
    for batch in reader:
        if batch.num_rows:
            yield _convert(header, batch, row)
            row += batch.num_rows
        if malformed:
            yield _malformed(table, malformed, width, acc_index, row)
            row += len(malformed)
            malformed.clear()
    if malformed:
        yield _malformed(table, malformed, width, acc_index, row)


def _malformed(
    table: str, lines: list[str], width: int, acc_index: int, first_row: int
) -> pa.RecordBatch:
    schema = output_schema(table)
    n = len(lines)
    arrays: list[Any] = [pa.nulls(n, f.type) for f in schema]
    accessions = []
    for line in lines:  # only rows that failed to parse: a handful, if any
        parts = line.split("\t")
        accessions.append(parts[acc_index].strip() if len(parts) > acc_index else None)
    arrays[schema.get_field_index("ACCESSION_NUMBER")] = pa.array(accessions, pa.string())
    arrays[-3] = pa.array(range(first_row, first_row + n), pa.int64())
    arrays[-2] = pa.array(
        [f"{len(line.split(chr(9)))} fields where the header has {width}" for line in lines],
        pa.string(),
    )
    arrays[-1] = pa.array(lines, pa.string())
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def read_bytes(table: str, data: bytes) -> pa.Table:
    """A whole table from bytes (tests, small files): ``read_table`` over a memory stream."""
    batches = list(read_table(table, io.BytesIO(data)))
    return pa.Table.from_batches(batches, schema=output_schema(table))
