"""Reprocess: stored raw documents parsed again after a fix, with no network at all."""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import pytest

from form4.flows.cli.main import main
from form4.flows.config import Settings
from form4.flows.ingest_flow import run_ingest
from form4.warehouse.raw import RawLocation, RawStore
from tests.edgar_server import FaultyEdgar
from tests.edgar_tree import build_day
from tests.test_ingest_e2e import DAY, MALFORMED, TODAY, day_submissions, settings_for, snapshot


def _ingested_day(tmp_path: Path) -> Settings:
    """The settings of a warehouse that holds the test day, ingested from a server now gone."""
    with FaultyEdgar(build_day(DAY, day_submissions())) as server:
        settings = settings_for(server, tmp_path)
        run_ingest(settings, DAY, today=TODAY)
    return settings


def test_rejects_fixed_by_a_new_setting_are_reloaded_from_raw_without_refetching(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards against a parser fix needing EDGAR again, or a reprocess duplicating rows."""
    with FaultyEdgar(build_day(DAY, day_submissions())) as server:
        # an XML cap so small that every filing is rejected as oversized
        strict = settings_for(server, tmp_path, FORM4_MAX_XML_BYTES="2048")
        first = run_ingest(strict, DAY, today=TODAY)
        served = len(server.requests)
    assert first.totals.loaded < first.totals.rejected
    con = duckdb.connect(str(strict.db_path), read_only=True)
    assert con.execute("SELECT count(*) FROM rejects WHERE stage = 'xml'").fetchone() != (0,)
    con.close()

    # the server is gone: reprocess must not need it
    assert main(["reprocess", "--rejects", "--db", str(strict.db_path)]) == 0
    out = capsys.readouterr().out
    assert "0 without a raw copy" in out
    rows = snapshot(strict.db_path)
    assert [r[0] for r in rows["rejects"]] == [MALFORMED]
    assert len(rows["filings"]) == first.totals.loaded + first.totals.rejected - 1

    # idempotent, also when the day is split over several reprocess batches
    monkeypatch.setenv("FORM4_REPROCESS_BATCH_SIZE", "3")
    assert main(["reprocess", "--db", str(strict.db_path), "--date", DAY.isoformat()]) == 0
    assert "stored filings" in capsys.readouterr().out
    assert snapshot(strict.db_path) == rows
    assert served == len(server.requests)


def test_a_reject_whose_raw_file_is_gone_is_reparsed_from_its_stored_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Guards against losing a rejected filing when the raw directory is lost."""
    settings = _ingested_day(tmp_path)
    for path in settings.raw_root.rglob("*.gz"):
        path.unlink()
    assert main(["reprocess", "--rejects", "--db", str(settings.db_path)]) == 0
    out = capsys.readouterr().out
    assert "1 stored filings: 0 loaded, 1 rejected, 0 without a raw copy" in out
    con = duckdb.connect(str(settings.db_path), read_only=True)
    row = con.execute("SELECT count(*) FROM raw_documents").fetchone()
    con.close()
    assert row is not None
    stored = int(row[0])
    assert main(["reprocess", "--db", str(settings.db_path)]) == 0
    out = capsys.readouterr().out
    assert f"{stored} stored filings: 0 loaded, 1 rejected, {stored - 1} without a raw copy" in out
    assert len(snapshot(settings.db_path)["filings"]) == stored - 1  # nothing was deleted


def test_a_warehouse_from_before_packs_is_reprocessed_from_its_file_per_filing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Guards against an upgrade losing the raw copies an earlier version wrote."""
    settings = _ingested_day(tmp_path)
    rows = snapshot(settings.db_path)
    store = RawStore(settings.raw_root)
    packs = list(settings.raw_root.rglob("*.gz"))
    assert len(packs) == 1  # the day's submissions share one pack
    # rewrite the store and catalog as the earlier version had them: a file per filing, the
    # catalog without the pack columns
    con = duckdb.connect(str(settings.db_path))
    catalog = con.execute(
        "SELECT accession_number, path, member_offset, member_length FROM raw_documents"
    ).fetchall()
    assert catalog and all(
        r[1] == packs[0].relative_to(settings.raw_root).as_posix() for r in catalog
    )
    for acc, path, offset, length in catalog:
        data = store.read(RawLocation(path, offset, length), acc)
        legacy = f"{acc[:10]}/{acc[11:13]}/{acc}.txt.gz"
        (settings.raw_root / legacy).parent.mkdir(parents=True, exist_ok=True)
        (settings.raw_root / legacy).write_bytes(gzip.compress(data))
        con.execute("UPDATE raw_documents SET path = ? WHERE accession_number = ?", [legacy, acc])
    con.execute("ALTER TABLE raw_documents DROP COLUMN member_offset")
    con.execute("ALTER TABLE raw_documents DROP COLUMN member_length")
    con.close()
    packs[0].unlink()

    assert main(["reprocess", "--db", str(settings.db_path)]) == 0
    out = capsys.readouterr().out
    assert f"{len(catalog)} stored filings" in out and "0 without a raw copy" in out
    assert snapshot(settings.db_path) == rows


def test_a_damaged_pack_loses_only_the_filings_whose_bytes_are_damaged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Guards against a damaged raw copy stopping a reprocess, being loaded as another
    filing, or deleting the filing's rows."""
    settings = _ingested_day(tmp_path)
    rows = snapshot(settings.db_path)
    (pack,) = settings.raw_root.rglob("*.gz")
    con = duckdb.connect(str(settings.db_path), read_only=True)
    query = "SELECT member_offset + member_length FROM raw_documents"
    ends = [int(r[0]) for r in con.execute(query).fetchall()]
    con.close()
    cut = sorted(ends)[len(ends) // 2]  # the first half of the members stay whole
    pack.write_bytes(pack.read_bytes()[:cut] + b"\x00" * 64)
    damaged = sum(1 for end in ends if end > cut)
    assert damaged > 0
    assert main(["reprocess", "--db", str(settings.db_path)]) == 0
    out = capsys.readouterr().out
    assert f"{len(ends)} stored filings" in out and f"{damaged} without a raw copy" in out
    warned = [r.getMessage() for r in caplog.records if r.name == "form4.reprocess"]
    assert len(warned) == damaged and all("raw 0" in m for m in warned), warned
    assert snapshot(settings.db_path) == rows  # nothing deleted, nothing changed
