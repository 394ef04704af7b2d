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
from decimal import Decimal, InvalidOperation

from lxml import etree

from form4.parsers.errors import ParseError

__all__ = [
    "DEFAULT_MAX_XML_BYTES",
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
_NUMBER_JUNK = str.maketrans("", "", ",$ \t\r\n\u00a0")


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
    if text is None:
        return None
    t = text.strip().lower()
    if t in ("1", "true", "y", "yes", "x"):
        return True
    if t in ("0", "false", "n", "no"):
        return False
    return None


def as_date(text: str | None) -> date | None:
    """``2026-06-30``, also with a time-zone suffix or time; anything else is None."""
    if text is None:
        return None
    if len(text) == 10 and text[4] == "-" and text[7] == "-":  # the usual form, parsed in C
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass  # the general path below decides
    match = _DATE.match(text.strip())
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def as_decimal(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:  # the usual plain number; the cleaning below would leave it as it is
        value = Decimal(text)
    except InvalidOperation:
        pass
    else:
        return value if value.is_finite() else None
    cleaned = text.translate(_NUMBER_JUNK)
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None
