"""The lxml traps, in one place: safe parsing and the readers every ownership field goes through.

- ``safe_fromstring`` refuses DTDs and entity declarations outright (billion laughs, XXE are
  rejected, never expanded), never touches the network, caps the input size, strips
  namespaces so a namespaced root parses like a plain one, and retries bytes that are not
  UTF-8 (Latin-1/cp1252 filings without a declaration).
- ``children`` maps child local names to elements once per element (fast, and avoids the
  truthiness trap: an lxml element without children is falsy, so always ``is not None``).
- ``text_of`` reads the text of a whole subtree (footnotes hold markup), entities decoded,
  whitespace folded, empty -> None.
- ``value_of`` reads the ``<x><value>..</value><footnoteId id=".."/></x>`` pattern: empty
  ``<value/>`` and footnote-only fields are None, and plain ``<x>text</x>`` works too.
- ``as_bool``/``as_date``/``as_decimal`` accept what real filings contain: ``1/0/true/false``,
  ``2026-06-30-05:00``, ``1,234.50``, ``$1.80``.
Neighbours: ``parsers.ownership`` uses these; nothing else in form4 touches lxml directly.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation

from lxml import etree

from form4.parsers.errors import BadValue, Inexact, ParseError

__all__ = [
    "DEFAULT_MAX_XML_BYTES",
    "EXACT",
    "MAX_DECIMAL",
    "MAX_INTEGER_DIGITS",
    "MAX_NUMBER_CHARS",
    "as_bool",
    "as_date",
    "as_decimal",
    "children",
    "clean",
    "footnote_ids",
    "safe_fromstring",
    "text_of",
    "value_of",
]

DEFAULT_MAX_XML_BYTES = 10 * 1024 * 1024
Element = etree._Element

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
    recover=False,
)
_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*\?>")
_FORBIDDEN = (b"<!DOCTYPE", b"<!ENTITY", b"<!doctype", b"<!entity")
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATE_SUFFIX = re.compile(r"(?:Z|[+-]\d{2}:\d{2}|T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)?")
_USUAL_FLAGS = {"0": False, "1": True, "false": False, "true": True}
_NUMBER_JUNK = str.maketrans("", "", ",$ \t\r\n\u00a0")
# A plain decimal, optionally signed, with an exponent (ASCII digits only).
_NUMBER = re.compile(
    r"(?P<sign>[+-]?)(?P<digits>[0-9]+\.?[0-9]*|\.[0-9]+)(?P<exponent>[eE][+-]?[0-9]+)?",
    re.ASCII,
)
# DECIMAL(38,8) holds 30 integer digits: a value read must have fewer than this many.
MAX_INTEGER_DIGITS = 31
MAX_NUMBER_CHARS = 64
_QUANTUM = Decimal("1E-8")
# Exact for every value the readers return and every product of two of them.
EXACT = Context(prec=100, Emax=200, Emin=-200)
# The smallest value DECIMAL(38,8) cannot hold: 30 integer digits at most.
MAX_DECIMAL = Decimal(10) ** (MAX_INTEGER_DIGITS - 1)


def _parse(data: bytes) -> Element:
    return etree.fromstring(data, _PARSER)


def safe_fromstring(data: bytes, *, max_bytes: int = DEFAULT_MAX_XML_BYTES) -> Element:
    """Parse untrusted XML bytes into an element tree with namespaces stripped."""
    if len(data) > max_bytes:
        raise ParseError(
            f"XML of {len(data)} bytes is over the {max_bytes}-byte limit", stage="xml"
        )
    # "!" is rare in ownership XML and memchr finds it fast; scanning for b"<!" directly stops
    # at every "<" and cost about a quarter of the XML parse itself.
    if b"!" in data and b"<!" in data:
        for marker in _FORBIDDEN:
            if marker in data:
                raise ParseError("XML with a DTD or entity declaration is refused", stage="xml")
    try:
        root = _parse(data.strip())
    except etree.XMLSyntaxError as exc:
        root = _retry_as_latin1(data, exc)
    except ValueError as exc:  # e.g. a str/encoding declaration mismatch
        raise ParseError(f"malformed XML: {exc}", stage="xml") from None
    if isinstance(root.tag, str) and root.tag.startswith("{"):
        for el in root.iter():
            if isinstance(el.tag, str) and el.tag.startswith("{"):
                el.tag = el.tag.rpartition("}")[2]
        etree.cleanup_namespaces(root)
    return root


def _retry_as_latin1(data: bytes, error: etree.XMLSyntaxError) -> Element:
    message = str(error)
    if "UTF-8" not in message and "encoding" not in message.lower():
        raise ParseError(f"malformed XML: {message}", stage="xml") from None
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    body = _DECLARATION.sub(b"", text.encode("utf-8"), count=1)
    try:
        return _parse(body.strip())
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"malformed XML: {exc}", stage="xml") from None


def children(el: Element | None) -> dict[str, Element]:
    """Child elements by tag, the first of each name (lxml comments were removed at parse)."""
    out: dict[str, Element] = {}
    if el is None:
        return out
    for child in el:
        tag = child.tag
        if isinstance(tag, str) and tag not in out:
            out[tag] = child
    return out


def _fold(text: str) -> str | None:
    folded = " ".join(text.split())
    return folded or None


def text_of(el: Element | None) -> str | None:
    """All text of the subtree (markup removed), whitespace folded; None when empty."""
    if el is None:
        return None
    if len(el) == 0:  # a leaf, by far the most common case: no join, no fold unless needed
        return clean(el.text)
    return _fold("".join(str(t) for t in el.itertext()))


def clean(text: str | None) -> str | None:
    """Text as ``text_of`` gives it: stripped, whitespace folded, None when empty. For text
    read raw from a leaf (``parsers.ownership`` reads row values raw and cleans only the
    columns that stay text: numbers, dates and flags are read by converters that ignore the
    same whitespace)."""
    if not text:
        return None
    text = text.strip()
    if not text:
        return None
    # XML text can hold no ASCII whitespace but space, tab, newline and carriage return,
    # so ASCII text (a flag, not a scan) without those is already folded; anything else
    # (e.g. a no-break space) goes through the full fold.
    if text.isascii() and not ("  " in text or "\n" in text or "\t" in text or "\r" in text):
        return text
    return _fold(text)


def value_of(el: Element | None) -> str | None:
    """The ``<value>`` text of a field element, or its own text when it has no ``<value>``."""
    if el is None:
        return None
    if len(el) == 0:
        return text_of(el)
    value = el.find("value")
    if value is not None:
        return text_of(value)
    # children but no <value>: footnote-only, or text beside footnote ids
    own = (el.text or "") + "".join(c.tail or "" for c in el)
    return _fold(own)


def footnote_ids(el: Element | None) -> list[str]:
    """Footnote ids referenced anywhere under ``el``, in document order."""
    if el is None:
        return []
    out = []
    for note in el.iter("footnoteId"):
        ref = note.get("id")
        if ref:
            out.append(ref.strip())
    return out


def as_bool(text: str | None) -> bool | None:
    """``1/0/true/false`` (and ``y/n/yes/no/x``); None when empty; ``BadValue`` otherwise."""
    if text is None:
        return None
    usual = _USUAL_FLAGS.get(text)  # the flag as most filings write it
    if usual is not None:
        return usual
    t = text.strip().lower()
    if t in ("1", "true", "y", "yes", "x"):
        return True
    if t in ("0", "false", "n", "no"):
        return False
    if not t:
        return None
    raise BadValue(text, "not a flag (1, 0, true or false)")


def as_date(text: str | None) -> date | None:
    """``2026-06-30``, also with a time-zone suffix or time; None when empty; ``BadValue`` when
    it is not a date of the calendar (``0000-00-00``, ``2026-02-30``, ``02/02/2026``)."""
    if text is None:
        return None
    if len(text) == 10 and text[4] == "-" and text[7] == "-":  # the usual form, parsed in C
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass  # the general path below decides
    stripped = text.strip()
    if not stripped:
        return None
    match = _DATE.match(stripped)
    if match is None or not _DATE_SUFFIX.fullmatch(stripped, match.end()):
        raise BadValue(text, "not a date (YYYY-MM-DD)")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise BadValue(text, "not a date of the calendar") from None


def as_decimal(text: str | None) -> Decimal | None:
    """A non-negative decimal that DECIMAL(38,8) holds exactly; None when empty.

    ``BadValue`` for anything else: not a finite decimal (``NaN``, ``Infinity``, ``0x10``,
    ``12abc``, ``1O0``), negative, ``MAX_INTEGER_DIGITS`` integer digits or more, an exponent
    beyond +-99, a nonzero value below 0.00000001, or over ``MAX_NUMBER_CHARS`` characters;
    ``Inexact`` (carrying the value rounded half-even) when it has more than 8 decimal places.
    Thousands separators, a dollar sign and spaces are dropped (``$1,234.50``). No value
    reaches ``Decimal`` unbounded: an exponent of a billion makes Decimal arithmetic overflow
    and pyarrow's decimal conversion crash the process."""
    if text is None:
        return None
    # The usual share count or price, decided on the text already read: digits, or digits
    # with one point and at most 8 decimals, short enough to be in range.
    try:
        if text.isdigit():
            if len(text) < MAX_INTEGER_DIGITS:
                return Decimal(text)
        else:
            whole, dot, part = text.partition(".")
            if (
                dot
                and whole.isdigit()
                and part.isdigit()
                and len(part) <= 8
                and len(whole) < MAX_INTEGER_DIGITS
            ):
                return Decimal(text)
    except InvalidOperation:  # a digit Decimal does not read (e.g. a superscript)
        pass
    return _checked_decimal(text)


def _checked_decimal(text: str) -> Decimal | None:
    if not text.strip():
        return None
    cleaned = text.translate(_NUMBER_JUNK)
    if len(cleaned) > MAX_NUMBER_CHARS:
        raise BadValue(text, f"a number of more than {MAX_NUMBER_CHARS} characters")
    match = _NUMBER.fullmatch(cleaned)
    if match is None:
        raise BadValue(text, "not a decimal number")
    if match["sign"] == "-" and match["digits"].strip("0.") != "":
        raise BadValue(text, "negative")
    if match["exponent"] and len(match["exponent"].lstrip("eE+-").lstrip("0")) > 2:
        raise BadValue(text, "an exponent beyond +-99")
    value = Decimal(match["digits"] + (match["exponent"] or ""))
    if not value:
        return value.quantize(_QUANTUM) if value.adjusted() < -8 else value  # a zero: its exponent
    if value.adjusted() >= MAX_INTEGER_DIGITS - 1:
        raise BadValue(text, "too large for DECIMAL(38,8)")
    if value.adjusted() < -8:
        raise BadValue(text, "nonzero but below 0.00000001, the smallest DECIMAL(38,8) step")
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    if exponent < -8:
        rounded = value.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN, context=EXACT)
        if rounded != value:
            raise Inexact(text, rounded)
        return rounded
    return value
