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
