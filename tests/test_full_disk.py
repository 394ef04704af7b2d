"""A full disk at each write point: one line, nothing half-written, a correct re-run; and the
temporary files of an interrupted export removed by the next one.

ENOSPC is injected where form4 writes (the raw packs, the DuckDB load, the Parquet export):
the command runs in a subprocess whose module under test sees an ``os`` (or a warehouse
method) that fails with ``OSError(errno.ENOSPC)``, as a full file system would make it fail.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from form4.flows.cli.main import main
from form4.flows.config import Settings
from form4.flows.edgar.client import build_client
from form4.flows.edgar.endpoints import fetch_to_file
from form4.flows.ingest_flow import run_ingest
from form4.warehouse.parquet import FILE_NAME
from tests.edgar_server import FaultyEdgar
from tests.edgar_tree import build_day
from tests.test_cli import assert_one_line_error, env  # noqa: F401 - the fixture
from tests.test_ingest_e2e import (
    DAY,
    MALFORMED,
    TODAY,
    day_submissions,
    ownership_accessions,
    settings_for,
    snapshot,
)

# Runs the form4 command with one write point failing as on a full disk.
FULL_DISK = """
import errno, os, sys, types
import duckdb
import form4.warehouse.db as db
import form4.warehouse.raw as raw

def full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

def duckdb_full(*args, **kwargs):
    raise duckdb.IOException(
        "IO Error: Could not write file \\"w.duckdb.wal\\": No space left on device"
    )

if sys.argv[1] == "raw":
    shim = types.ModuleType("os")
    shim.__dict__.update(os.__dict__)
    shim.write = full
    raw.os = shim
else:
    db.Warehouse._insert = duckdb_full  # the bulk write of every batch
from form4.flows.cli.main import main
raise SystemExit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("point", ["raw", "duckdb"])
def test_a_full_disk_during_ingest_is_one_line_and_the_rerun_loads_everything(
    point: str,
    env: dict[str, str],  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    """Guards against a traceback on a full disk, and against rows committed for raw copies
    that never reached the disk (or half a batch loaded)."""
    db = tmp_path / "w.duckdb"
    expected = ownership_accessions(day_submissions(), ("4", "4/A")) - {MALFORMED}
    with FaultyEdgar(build_day(DAY, day_submissions())) as server:
        env["SEC_USER_AGENT"] = "form4 tests tests@form4.example"
        args = ["ingest", "--date", str(DAY), "--db", str(db), "--edgar-url", server.base_url]
        full = subprocess.run(
            [sys.executable, "-c", FULL_DISK, point, *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert_one_line_error(full, 1, "No space left on device")
        assert snapshot(db)["filings"] == []  # nothing half-written
        again = subprocess.run(
            [sys.executable, "-m", "form4.flows.cli.main", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert again.returncode == 0, again.stderr
    assert {r[0] for r in snapshot(db)["filings"]} == expected


def test_an_export_on_a_full_disk_fails_in_one_line_and_leaves_no_temporary_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards against a traceback, a half-written partition, or hidden ``.tmp-`` files that a
    later ``aws s3 sync`` would upload."""
    with FaultyEdgar(build_day(DAY, day_submissions())) as server:
        settings = settings_for(server, tmp_path)
        assert run_ingest(settings, DAY, today=TODAY).error is None
    target = tmp_path / "parquet"

    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("form4.warehouse.parquet.os.replace", full)
    capsys.readouterr()  # the ingest's own lines (stderr, once an earlier test ran main())
    assert main(["export", "--parquet", str(target), "--db", str(settings.db_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err
    assert [p for p in target.rglob("*") if p.is_file()] == []
    monkeypatch.undo()
    assert main(["export", "--parquet", str(target), "--db", str(settings.db_path)]) == 0
    assert list(target.rglob(FILE_NAME))


def test_the_next_export_removes_the_temporary_files_of_an_interrupted_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Guards against ``.data.parquet.tmp-*`` files left by a killed export staying for ever."""
    with FaultyEdgar(build_day(DAY, day_submissions())) as server:
        settings = settings_for(server, tmp_path)
        assert run_ingest(settings, DAY, today=TODAY).error is None
    target = tmp_path / "parquet"
    assert main(["export", "--parquet", str(target), "--db", str(settings.db_path)]) == 0
    partition = next(target.rglob(FILE_NAME)).parent
    leftover = partition / f".{FILE_NAME}.tmp-deadbeef"
    leftover.write_bytes(b"half a parquet file")
    unrelated = partition / "notes.txt"
    unrelated.write_text("mine")
    assert main(["export", "--parquet", str(target), "--db", str(settings.db_path)]) == 0
    capsys.readouterr()
    assert not leftover.exists()
    assert unrelated.read_text() == "mine"  # only form4's own temporary files go


def test_a_download_to_a_full_disk_leaves_neither_the_file_nor_a_temporary_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards against a half-written download (or its hidden temporary file) left behind."""

    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with FaultyEdgar({"Archives/big.zip": b"PK" * 100_000}) as server:
        settings = Settings.from_env({"SEC_USER_AGENT": "t t@t.example"}, edgar_url=server.base_url)
        monkeypatch.setattr("form4.flows.edgar.endpoints.os.fsync", full)
        with build_client(settings) as client, pytest.raises(OSError, match="No space"):
            fetch_to_file(client, "/Archives/big.zip", tmp_path / "big.zip", max_bytes=1 << 20)
    assert list(tmp_path.iterdir()) == []
