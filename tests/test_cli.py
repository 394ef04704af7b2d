"""The ``form4`` command as a user runs it: real subprocesses, real Prefect, a loopback EDGAR.

Each test starts the console script in a clean environment with its own PREFECT_HOME, so the
flow runs in an ephemeral Prefect instance exactly as on a fresh machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from form4.flows.cli.main import main
from tests.edgar_server import FaultyEdgar
from tests.edgar_tree import build_day
from tests.test_ingest_e2e import DAY, MALFORMED, day_submissions, ownership_accessions

_SCRIPT = Path(sys.executable).with_name("form4")  # the installed console script
FORM4 = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "form4.flows.cli.main"]
ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FORM4, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR")
    out = {k: v for k, v in os.environ.items() if k in keep}
    out["PYTHONPATH"] = str(ROOT)
    out["PREFECT_HOME"] = str(tmp_path / "prefect")
    out["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    out["DO_NOT_TRACK"] = "1"  # Prefect's SDK usage report
    out["FORM4_RETRY_BASE_S"] = "0.01"
    out["FORM4_MAX_RETRIES"] = "1"
    out["FORM4_RATE_DIR"] = str(tmp_path / "rate")
    return out


@pytest.fixture
def server() -> Iterator[FaultyEdgar]:
    with FaultyEdgar(build_day(DAY, day_submissions())) as srv:
        yield srv


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("form4: error:")]
    assert len(errors) == 1, result.stderr
    assert text in errors[0]


def test_form4_ingest_loads_a_day_and_a_rerun_changes_nothing(
    server: FaultyEdgar, env: dict[str, str], tmp_path: Path
) -> None:
    """Guards against the Prefect-wrapped command diverging from the tested functions."""
    env["SEC_USER_AGENT"] = "Acme Research ops@acme.example"
    env["FORM4_PARQUET_DIR"] = str(tmp_path / "parquet")
    db = tmp_path / "cli.duckdb"
    args = ["ingest", "--date", DAY.isoformat(), "--db", str(db), "--edgar-url", server.base_url]
    first = run(args, env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "1 rejected" in first.stdout
    expected = ownership_accessions(day_submissions(), ("4", "4/A")) - {MALFORMED}
    con = duckdb.connect(str(db), read_only=True)
    counts = {
        t: con.execute(f"SELECT count(*) FROM {t}").fetchone()
        for t in ("filings", "transactions", "holdings", "footnotes")
    }
    con.close()
    assert counts["filings"] == (len(expected),)
    exported = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{tmp_path}/parquet/transactions/**/*.parquet', "
        "hive_partitioning = true)"
    ).fetchall()
    assert exported == [counts["transactions"]]  # the nightly export ran after the load
    requests_before = len(server.requests)

    second = run(args, env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert len(server.requests) == requests_before + 2  # the index and the one reject
    con = duckdb.connect(str(db), read_only=True)
    assert {t: con.execute(f"SELECT count(*) FROM {t}").fetchone() for t in counts} == counts
    con.close()

    query = run(
        [
            "sql",
            "--db",
            str(db),
            "--format",
            "json",
            "select count(distinct accession_number) as n from transactions",
        ],
        env,
        tmp_path,
    )
    assert query.returncode == 0, query.stderr
    assert json.loads(query.stdout)[0]["n"] > 5


def test_form4_backfill_loads_a_range_and_reports_it(
    server: FaultyEdgar, env: dict[str, str], tmp_path: Path
) -> None:
    """Guards against the backfill flow's wiring (parameters, summary) breaking unnoticed."""
    env["SEC_USER_AGENT"] = "Acme Research ops@acme.example"
    db = tmp_path / "bf.duckdb"
    args = ["backfill", "--from", "2026-02-02", "--to", "2026-02-03", "--db", str(db)]
    result = run([*args, "--edgar-url", server.base_url], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 business days (2 complete)" in result.stdout
    con = duckdb.connect(str(db), read_only=True)
    days = con.execute("SELECT day, status FROM ingest_days ORDER BY day").fetchall()
    filings = con.execute("SELECT count(*) FROM filings").fetchone()
    con.close()
    assert [d[1] for d in days] == ["done", "no_index"]
    expected = ownership_accessions(day_submissions(), ("4", "4/A")) - {MALFORMED}
    assert filings == (len(expected),)


def test_an_unreachable_edgar_gives_one_line_and_exit_1(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Guards against a traceback (or a silent success) when EDGAR cannot be reached."""
    with FaultyEdgar({}) as srv:
        url = srv.base_url  # closed once the block ends: nothing listens there
    env["SEC_USER_AGENT"] = "Acme Research ops@acme.example"
    result = run(
        ["ingest", "--date", "2026-02-02", "--db", str(tmp_path / "x.duckdb"), "--edgar-url", url],
        env,
        tmp_path,
    )
    assert_one_line_error(result, 1, "ConnectError")


@pytest.mark.parametrize(
    ("args", "environ", "code", "text"),
    [
        (["ingest", "--date", "2026-02-02"], {}, 2, "SEC_USER_AGENT"),
        (["ingest", "--date", "2026-02-02"], {"SEC_USER_AGENT": "acme"}, 2, "no email"),
        (["ingest", "--date", "2026-13-01"], {"SEC_USER_AGENT": "a b@c.de"}, 2, "invalid date"),
        (
            ["ingest", "--date", "2026-02-03", "--to", "2026-02-01"],
            {"SEC_USER_AGENT": "a b@c.de"},
            2,
            "before",
        ),
        (["ingest", "--forms", "10-K"], {"SEC_USER_AGENT": "a b@c.de"}, 2, "unsupported form"),
        (["ingest", "--edgar-url", "sec.gov"], {"SEC_USER_AGENT": "a b@c.de"}, 2, "http"),
        (["ingest"], {"SEC_USER_AGENT": "a b@c.de", "FORM4_MAX_RPS": "lots"}, 2, "FORM4_MAX_RPS"),
        (["sql", "select 1", "--db", "missing.duckdb"], {}, 2, "no warehouse"),
        (["backfill"], {"SEC_USER_AGENT": "a b@c.de"}, 2, "--cik"),
        (["backfill", "--cik", "12ab"], {"SEC_USER_AGENT": "a b@c.de"}, 2, "invalid CIK"),
        (["backfill", "--to", "2026-02-02"], {"SEC_USER_AGENT": "a b@c.de"}, 2, "needs --from"),
        (["reprocess", "--db", "missing.duckdb"], {}, 2, "no warehouse"),
        (["frobnicate"], {}, 2, "invalid choice"),
    ],
)
def test_bad_input_gives_one_line_and_a_nonzero_exit(
    args: list[str],
    environ: dict[str, str],
    code: int,
    text: str,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    """Guards against tracebacks or usage dumps in front of users for ordinary mistakes."""
    result = run(args, {**env, **environ}, tmp_path)
    assert_one_line_error(result, code, text)


def test_bad_sql_is_reported_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Guards against a DuckDB exception escaping from 'form4 sql'."""
    db = tmp_path / "w.duckdb"
    duckdb.connect(str(db)).close()
    assert main(["sql", "--db", str(db), "select * from nowhere"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("form4: error: query failed")


def test_form4_demo_runs_offline_and_is_idempotent(env: dict[str, str], tmp_path: Path) -> None:
    """Guards against the README's first command breaking on a fresh machine."""
    first = run(["demo"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "rejected" in first.stdout and "NWTX" in first.stdout
    assert "to cover taxes on vested awards" in first.stdout  # the report's summary
    db = tmp_path / "form4-demo.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    before = con.execute("SELECT count(*) FROM transactions").fetchone()
    con.close()
    second = run(["demo"], env, tmp_path)
    assert second.returncode == 0, second.stderr
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM transactions").fetchone() == before
    con.close()


def test_the_demo_switches_prefect_telemetry_off_by_itself(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Guards against the offline demo letting Prefect try to report usage when the user set
    nothing (no CI, no DO_NOT_TRACK): the SDK's client must never be created."""
    for name in ("DO_NOT_TRACK", "PREFECT_SERVER_ANALYTICS_ENABLED", "CI"):
        env.pop(name, None)
    code = (
        "import io, sys\n"
        "from form4.flows.cli.main import main\n"
        "assert main(['demo', '--db', sys.argv[1]], out=io.StringIO()) == 0\n"
        "from prefect._internal.analytics import client, is_telemetry_enabled\n"
        "from prefect.settings import get_current_settings\n"
        "print(is_telemetry_enabled(), client._amplitude_client is None,"
        " get_current_settings().server.analytics_enabled)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "d.duckdb")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "False"]


def test_form4_version_prints_the_installed_version(env: dict[str, str], tmp_path: Path) -> None:
    """Guards against a deployment that cannot tell which form4 it runs."""
    from importlib.metadata import version

    result = run(["--version"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"form4 {version('form4')}"


def test_a_second_ingest_on_a_busy_warehouse_exits_with_a_clear_message(
    server: FaultyEdgar, env: dict[str, str], tmp_path: Path
) -> None:
    """Guards against two writers corrupting one DuckDB file (or a traceback instead), and a
    wait for the file that ends without a notice or without naming who holds it."""
    db = tmp_path / "busy.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,sys; c=duckdb.connect({str(db)!r}); print('ready', flush=True); "
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        env["SEC_USER_AGENT"] = "Acme Research ops@acme.example"
        env["FORM4_LOCK_WAIT_S"] = "1"
        args = ["ingest", "--date", DAY.isoformat(), "--db", str(db)]
        result = run([*args, "--edgar-url", server.base_url], env, tmp_path)
        assert_one_line_error(result, 1, f"in use by PID {holder.pid}")
        notices = [line for line in result.stderr.splitlines() if "waiting up to 1 s" in line]
        assert len(notices) == 1, result.stderr
        assert server.requests == []  # nothing fetched for a warehouse it cannot write
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()
