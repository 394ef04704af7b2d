"""The real corpus must be present under CI: corpus tests must never silently vanish."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import corpus_files


def test_corpus_folders_hold_the_files_the_manifest_lists(corpus: Path) -> None:
    """Guards against parametrized corpus tests collecting zero cases because a path moved."""
    listed = [
        line.split("\t", 1)[0]
        for line in (corpus / "MANIFEST.tsv").read_text().splitlines()[1:]
        if line.strip()
    ]
    assert listed, "MANIFEST.tsv lists no files"
    for rel in listed:
        assert (corpus / rel).is_file(), rel
    assert corpus_files("xml", "*.xml"), "no ownership XML found in the corpus"


def test_the_real_corpus_holds_every_filing_its_manifest_lists(corpus: Path) -> None:
    """Guards against the 329 real filings silently dropping out of the parametrized tests
    (a moved folder collects zero cases, which pytest does not count as a failure)."""
    lines = (corpus / "real/MANIFEST.tsv").read_text().splitlines()[1:]
    listed = {line.split("\t", 1)[0] for line in lines if line.strip()}
    files = corpus_files("real/xml", "*.xml") + corpus_files("real/txt", "*.txt")
    assert len(listed) == len(files) == 329
    assert {f"{p.parent.name}/{p.name}" for p in files} == listed
