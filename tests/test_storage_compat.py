"""The warehouse file is readable by older DuckDB releases (1.4 and later) by default.

The check that matters runs a real older ``duckdb`` in its own virtual environment, named by
``FORM4_TEST_DUCKDB14_PYTHON`` (a Python interpreter with ``duckdb`` 1.4.x installed; ``.ci/run``
makes one in ``.venv-duckdb14``). Without it the test is skipped on a developer's machine and
fails under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import duckdb
import pytest

from form4.flows.config import Settings
from form4.parsers.errors import ConfigError
from form4.warehouse.db import Warehouse
from tests.records_factory import filing

OLD_DUCKDB_ENV = "FORM4_TEST_DUCKDB14_PYTHON"


def _old_duckdb_python() -> str:
    python = os.environ.get(OLD_DUCKDB_ENV, "").strip()
    if python and Path(python).is_file():
        return python
    message = f"{OLD_DUCKDB_ENV} does not name a Python with duckdb 1.4.x ({python!r})"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (required when CI=true)")
    pytest.skip(message)


def _storage_version(path: Path) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute(
            "SELECT tags['storage_version'] FROM duckdb_databases() "
            "WHERE database_name = current_database()"
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return str(row[0])


def _warehouse(path: Path, **kwargs: str) -> None:
    with Warehouse(path, **kwargs) as wh:
        wh.load_batch(
            [filing("0002900001-26-000011"), filing("0002900001-26-000012", transactions=3)]
        )


def test_a_new_warehouse_is_written_in_duckdb_1_4_storage_by_default(tmp_path: Path) -> None:
    """Guards against a warehouse that only the newest DuckDB can open (the CLI data engineers
    have, or a BI tool's bundled driver, refuses it)."""
    db = tmp_path / "w.duckdb"
    _warehouse(db)
    assert _storage_version(db).startswith("v1.4.0")
    _warehouse(db)  # reopened and written again: the file keeps its format
    assert _storage_version(db).startswith("v1.4.0")


def test_the_storage_format_is_a_setting(tmp_path: Path) -> None:
    """Guards against FORM4_DUCKDB_STORAGE being ignored, or a typo in it going unnoticed."""
    settings = Settings.from_env({"FORM4_DUCKDB_STORAGE": "latest"}, require_user_agent=False)
    db = tmp_path / "latest.duckdb"
    _warehouse(db, storage_version=settings.duckdb_storage)
    assert _storage_version(db) != "v1.4.0+"
    assert _storage_version(db).startswith(f"v{duckdb.__version__.split('-')[0][:3]}")
    with pytest.raises(ConfigError, match="FORM4_DUCKDB_STORAGE"):
        Settings.from_env({"FORM4_DUCKDB_STORAGE": "1.4"}, require_user_agent=False)


_READ = """
import json, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
out = {"version": duckdb.__version__}
for name in ("filings", "transactions", "transactions_current", "insider_trades"):
    out[name] = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
out["shares"] = str(con.execute("SELECT sum(shares) FROM transactions_current").fetchone()[0])
print(json.dumps(out))
"""


def test_duckdb_1_4_opens_a_form4_warehouse_and_its_views(tmp_path: Path) -> None:
    """Guards against the storage setting not taking effect for a real older reader: DuckDB 1.4,
    in its own environment, must open the file and read the tables and the views."""
    python = _old_duckdb_python()
    db = tmp_path / "w.duckdb"
    _warehouse(db)
    result = subprocess.run(
        [python, "-c", _READ, str(db)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["version"].startswith("1.4.")
    con = duckdb.connect(str(db), read_only=True)
    try:
        for name in ("filings", "transactions", "transactions_current", "insider_trades"):
            row = con.execute(f"SELECT count(*) FROM {name}").fetchone()
            assert row is not None and seen[name] == row[0] and row[0] > 0, name
        total = con.execute("SELECT sum(shares) FROM transactions_current").fetchone()
    finally:
        con.close()
    assert total is not None and seen["shares"] == str(total[0])
