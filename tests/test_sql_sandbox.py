"""``form4 sql`` in its sandbox: the warehouse read-only, nothing else on the file system, one
statement, a memory limit and a time limit; ``--allow-files`` lifts the file rules and runs
several statements, printing each result.

Each refused attempt is one ``form4: error:`` line (exit 2) and leaves every file as it was.
"""

from __future__ import annotations

import io
from pathlib import Path

import duckdb
import pytest

from form4.flows.cli.main import main
from form4.flows.cli.output import run_statements, sandbox
from form4.parsers.errors import ConfigError


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE filings AS SELECT range AS n, 'x' || range AS s FROM range(5)")
    con.close()
    return path


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    """A stand-in for a raw pack file the warehouse points at."""
    path = tmp_path / "w.raw" / "2026" / "02" / "02" / "pack.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"raw store bytes")
    return path


def sql(db: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["sql", "--db", str(db), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


ATTEMPTS = [
    "COPY (SELECT 1) TO '{tmp}/x.csv'",
    "COPY filings TO '{pack}' (FORMAT csv)",
    "EXPORT DATABASE '{tmp}/export'",
    "ATTACH '{tmp}/other.duckdb' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM read_blob('/proc/self/environ')",
    "SELECT * FROM glob('/**')",
    "SELECT * FROM read_parquet('{tmp}/*.parquet')",
    "SELECT * FROM '{pack}'",
    "SET enable_external_access = true",
    "RESET enable_external_access",
    "SET memory_limit = '100GB'",
    "PRAGMA memory_limit = '100GB'",
    "SELECT 1; COPY (SELECT 1) TO '{tmp}/y.csv'",
    "SELECT * FROM filings; SELECT 2",
    "CALL pragma_version(); SELECT * FROM read_text('/etc/hostname')",
]


@pytest.mark.parametrize("attempt", ATTEMPTS)
def test_writing_or_reading_files_is_refused_in_one_line(
    attempt: str, db: Path, pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Guards against the read-only query command writing files (COPY over a raw pack lost
    data), reading local secrets (/etc/shadow, /proc/self/environ), downloading extensions, or
    lifting its own limits."""
    before = sorted(p for p in tmp_path.rglob("*") if "w.duckdb" not in p.name)
    code, out, err = sql(db, attempt.format(tmp=tmp_path, pack=pack), capsys=capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("form4: error: "), err
    assert any(why in err for why in ("--allow-files", "locked", "does not exist"))
    assert pack.read_bytes() == b"raw store bytes"
    assert sorted(p for p in tmp_path.rglob("*") if "w.duckdb" not in p.name) == before


def test_a_query_runs_as_before_in_every_format(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Guards against the sandbox breaking the ordinary read-only queries it exists for."""
    query = "SELECT n, s FROM filings ORDER BY n"
    code, out, _ = sql(db, query, "--format", "csv", capsys=capsys)
    assert code == 0 and out.splitlines() == ["n,s", *(f"{i},x{i}" for i in range(5))]
    code, out, _ = sql(db, query + " LIMIT 2", "--format", "json", capsys=capsys)
    assert (
        code == 0
        and out
        == '[\n  {\n    "n": 0,\n    "s": "x0"\n  },\n  {\n    "n": 1,\n    "s": "x1"\n  }\n]\n'
    )
    code, out, _ = sql(db, "SELECT count(*) AS c FROM filings", capsys=capsys)
    assert code == 0 and "5" in out


def test_the_query_is_read_from_stdin_with_a_dash(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards against long queries having to fit (and be quoted) on the command line."""
    monkeypatch.setattr("sys.stdin", io.StringIO("SELECT max(n) AS m\nFROM filings;\n"))
    code, out, _ = sql(db, "-", "--format", "csv", capsys=capsys)
    assert code == 0 and out == "m\n4\n"


def test_allow_files_runs_several_statements_and_prints_each_result(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Guards against --allow-files printing only the last statement's result, or still
    refusing the file access it is for."""
    target = tmp_path / "out.csv"
    query = f"SELECT 1 AS a; COPY (SELECT n FROM filings) TO '{target}'; SELECT 2 AS b"
    code, out, err = sql(db, query, "--allow-files", "--format", "csv", capsys=capsys)
    assert (code, err) == (0, "")
    assert out == "a\n1\n\nCount\n5\n\nb\n2\n"
    assert target.read_text().splitlines() == ["n", "0", "1", "2", "3", "4"]


def test_an_endless_query_is_interrupted_at_the_timeout(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Guards against a query that never ends holding the warehouse (and a CPU) forever."""
    endless = "SELECT count(*) FROM range(1000000000000) a"
    code, out, err = sql(db, endless, "--timeout", "0.5", capsys=capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "interrupted after 0.5s" in err


def test_a_query_over_the_memory_limit_fails_in_one_line(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards against one query taking gigabytes of a shared box (it may not spill either)."""
    monkeypatch.setenv("FORM4_DUCKDB_MEMORY_MB", "256")
    code, _, err = sql(db, "SELECT list(range) FROM range(200000000)", capsys=capsys)
    assert code == 2 and err.count("\n") == 1
    assert "Out of Memory" in err


def test_the_sandbox_holds_on_a_read_only_connection_of_the_warehouse(
    db: Path, tmp_path: Path
) -> None:
    """Guards against a sandbox that only works on the connection run_sql opens itself (the
    CLI may open the file differently, say waiting for a lock)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        sandbox(con, memory_mb=128)
        out = io.StringIO()
        run_statements(con, "SELECT count(*) AS c FROM filings", "csv", out)
        assert out.getvalue() == "c\n5\n"
        with pytest.raises(ConfigError, match="refused"):
            run_statements(con, "SELECT * FROM read_text('/etc/hostname')", "csv", out)
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute("SET enable_external_access = true")
        assert con.execute("SELECT current_setting('memory_limit')").fetchone() != ("64.0 GiB",)
    finally:
        con.close()
