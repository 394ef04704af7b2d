"""``form4 backfill --datasets``, ``form4 verify --datasets`` and ``form4 reprocess --datasets`` as
a user runs them: the console script, real Prefect, the loopback EDGAR serving the index page and
the 2024 Q3 ZIP."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.dataset_zip import build_zip, real_quarter_members
from tests.edgar_server import FaultyEdgar
from tests.test_cli import env, run  # noqa: F401  (the env fixture)
from tests.test_datasets import ZIP_PATH, tree_with


def test_the_three_commands_import_a_quarter_verify_it_and_rebuild_it_offline(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    """Guards against the documented commands not working end to end as the README says."""
    db = tmp_path / "w.duckdb"
    with FaultyEdgar(tree_with({ZIP_PATH: build_zip(real_quarter_members())})) as srv:
        env = {**env, "SEC_USER_AGENT": "form4 tests tests@form4.example"}
        common = ["--db", str(db), "--edgar-url", srv.base_url]
        result = run(["backfill", "--datasets", "2024q3..2024q4", *common], env, tmp_path)
        assert result.returncode == 0, result.stderr
        assert "2024q3: done: 36075 submissions, 36075 loaded" in result.stdout
        assert "2024q4: pending" in result.stdout
        assert "1 quarters imported, 0 imported before, 1 pending, 0 failed; 2 requests" in (
            result.stdout
        )
        verify = run(["verify", "--datasets", "2024q3", *common], env, tmp_path)
        assert verify.returncode == 0, verify.stderr
        assert "0 filings held from XML compared" in verify.stdout
        requests = len(srv.requests)
    offline = {k: v for k, v in env.items() if k != "SEC_USER_AGENT"}
    again = run(["reprocess", "--datasets", "--db", str(db)], offline, tmp_path)
    assert again.returncode == 0, again.stderr
    assert "2024q3: done: 36075 submissions" in again.stdout
    assert requests == 2  # verify used the kept ZIP
    con = duckdb.connect(str(db), read_only=True)
    try:
        counts = con.execute(
            "SELECT count(*), count(DISTINCT accession_number) FROM filings"
        ).fetchone()
        states = con.execute("SELECT quarter, status FROM dataset_quarters ORDER BY 1").fetchall()
    finally:
        con.close()
    assert counts == (36_075, 36_075)
    assert states == [("2024q3", "done"), ("2024q4", "pending")]
    bad = run(["backfill", "--datasets", "2024q9", "--db", str(db)], env, tmp_path)
    assert bad.returncode == 2 and "invalid quarter" in bad.stderr


def test_the_quarterly_deployment_imports_new_quarters_monthly_in_new_york() -> None:
    """Guards against the quarterly deployment pointing at a moved flow or running in UTC."""
    import importlib

    import yaml

    root = Path(__file__).resolve().parent.parent
    config = yaml.safe_load((root / "prefect.yaml").read_text())
    (deployment,) = [d for d in config["deployments"] if d["name"] == "quarterly"]
    path, func = deployment["entrypoint"].split(":")
    module = importlib.import_module("form4." + path.removesuffix(".py").replace("/", "."))
    flow = getattr(module, func)
    assert flow.name == "form4-backfill"
    assert "datasets" in flow.parameters.properties
    assert deployment["parameters"] == {"datasets": "new"}
    (schedule,) = deployment["schedules"]
    assert schedule["cron"] == "0 7 2 * *" and schedule["timezone"] == "America/New_York"
