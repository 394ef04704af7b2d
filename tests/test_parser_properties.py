"""Property tests: mutated real filings either parse or raise the project's ParseError.

Hypothesis drops, duplicates and garbles elements of the corpus documents and truncates or
splices their bytes; whatever comes out, the parser must return records (with the invariants
below) or raise ``ParseError`` — never ``KeyError``, ``ValueError``, lxml errors or worse.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from form4.parsers.errors import ParseError
from form4.parsers.ownership import parse_ownership
from form4.parsers.sgml import parse_submission
from tests.conftest import corpus_dir


@cache
def documents() -> tuple[bytes, ...]:
    corpus = corpus_dir()
    docs = [p.read_bytes() for p in sorted((corpus / "xml").glob("*.xml"))]
    for path in sorted((corpus / "txt").glob("*.txt")) + sorted((corpus / "feed").glob("*.nc")):
        docs.append(parse_submission(path.read_bytes()).xml)
    return tuple(docs)


@cache
def submissions() -> tuple[bytes, ...]:
    corpus = corpus_dir()
    paths = sorted((corpus / "txt").glob("*.txt")) + sorted((corpus / "feed").glob("*.nc"))
    return tuple(p.read_bytes() for p in paths)


def check(xml: bytes) -> None:
    try:
        doc = parse_ownership(xml)
    except ParseError:
        return
    assert doc.issuer.cik
    for table in (doc.transactions, doc.holdings):
        for kind in (False, True):
            lines = [r.line_no for r in table if r.is_derivative is kind]
            assert lines == list(range(1, len(lines) + 1))
    for t in doc.transactions:
        if t.shares is not None and t.shares_delta is not None:
            assert abs(t.shares_delta) == abs(t.shares)


def mutate(tree_bytes: bytes, data: st.DataObject) -> bytes:
    root = etree.fromstring(tree_bytes, etree.XMLParser(resolve_entities=False, no_network=True))
    elements = [el for el in root.iter() if isinstance(el.tag, str)]
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        el = elements[data.draw(st.integers(0, len(elements) - 1), label="element")]
        action = data.draw(st.sampled_from(["drop", "duplicate", "garble", "empty", "rename"]))
        parent = el.getparent()
        if action == "drop" and parent is not None:
            parent.remove(el)
        elif action == "duplicate" and parent is not None:
            parent.insert(parent.index(el), etree.fromstring(etree.tostring(el)))
        elif action == "garble":
            el.text = data.draw(st.text(max_size=20), label="text").replace("\x00", "")
        elif action == "empty":
            for child in list(el):
                el.remove(child)
            el.text = None
        elif action == "rename":
            el.tag = data.draw(st.sampled_from(["value", "footnoteId", "x", "transactionCode"]))
    return etree.tostring(root)


SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SETTINGS
@given(st.data())
def test_element_level_mutations_parse_or_raise_parse_error(data: st.DataObject) -> None:
    """Guards against any exception but ParseError escaping on structurally odd filings."""
    source = data.draw(st.sampled_from(documents()), label="document")
    try:
        mutated = mutate(source, data)
    except (ValueError, etree.XMLSyntaxError):  # a garbled text lxml refuses to serialise
        return
    check(mutated)


@SETTINGS
@given(st.data())
def test_byte_level_damage_parses_or_raises_parse_error(data: st.DataObject) -> None:
    """Guards against truncated or spliced bytes crashing the parser."""
    source = data.draw(st.sampled_from(documents()), label="document")
    cut = data.draw(st.integers(0, len(source)), label="cut")
    junk = data.draw(st.binary(max_size=16), label="junk")
    keep_tail = data.draw(st.booleans(), label="keep tail")
    check(source[:cut] + junk + (source[cut:] if keep_tail else b""))


@SETTINGS
@given(st.data())
def test_damaged_submissions_parse_or_raise_parse_error(data: st.DataObject) -> None:
    """Guards against a truncated .txt getting past the SGML reader as a whole filing."""
    source = data.draw(st.sampled_from(submissions()), label="submission")
    cut = data.draw(st.integers(0, len(source)), label="cut")
    try:
        sub = parse_submission(source[:cut])
    except ParseError:
        return
    assert sub.xml.rstrip().endswith(b"</ownershipDocument>")
    check(sub.xml)


def test_the_corpus_is_not_empty() -> None:
    """Guards against the property tests passing vacuously over no documents."""
    assert len(documents()) >= 10 and Path(corpus_dir()).is_dir()
