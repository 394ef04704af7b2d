"""The docs stay honest: every command, setting, table and column is in the README, and the
deployment in prefect.yaml points at a real flow on the documented schedule."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import yaml

from form4.flows.cli.main import build_parser
from form4.warehouse.schema import TABLES, VIEWS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_every_cli_command_and_option_is_documented() -> None:
    """Guards against a command or flag users cannot discover."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():  # type: ignore[union-attr]
        assert f"form4 {name}" in README, name
        for action in command._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert flag in README, f"form4 {name} {flag}"


def test_every_table_and_column_is_in_the_table_reference() -> None:
    """Guards against the schema and the data dictionary disagreeing."""
    for table, columns in TABLES.items():
        section = README.split(f"#### `{table}`", 1)
        assert len(section) == 2, table
        body = re.split(r"\n#{2,4} ", section[1], maxsplit=1)[0]
        documented = re.findall(r"^\| `([a-z0-9_]+)` \| ([^|]+) \|", body, re.MULTILINE)
        assert [(c.name, c.sql_type) for c in columns] == [(n, t.strip()) for n, t in documented]


def test_every_setting_read_from_the_environment_is_documented() -> None:
    """Guards against undocumented knobs (and documented ones that do nothing)."""
    source = "".join(p.read_text() for p in (ROOT / "flows").rglob("*.py"))
    used = set(re.findall(r'"((?:FORM4|SEC)_[A-Z0-9_]+)"', source))
    assert used, "no settings found"
    for name in used:
        assert f"`{name}`" in README, name


def test_the_nightly_deployment_runs_the_ingest_flow_on_weekday_evenings_in_new_york() -> None:
    """Guards against a deployment pointing at a moved flow or running in UTC."""
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    (deployment,) = [d for d in config["deployments"] if d["name"] == "nightly"]
    path, func = deployment["entrypoint"].split(":")
    module = importlib.import_module("form4." + path.removesuffix(".py").replace("/", "."))
    assert getattr(module, func).name == "form4-ingest"
    (schedule,) = deployment["schedules"]
    assert schedule["cron"] == "30 23 * * 1-5"
    assert schedule["timezone"] == "America/New_York"
    assert "definitions" in config


def test_the_readme_setup_is_two_commands_demo_then_tests() -> None:
    """Guards against the README's set-up drifting from what CI runs."""
    block = README.split("## Set-up", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line for line in block.strip().splitlines() if line.strip()]
    assert len(commands) == 2
    assert commands[0].endswith("form4 demo")
    assert commands[1] in (ROOT / ".ci/run").read_text()


def test_every_view_is_documented() -> None:
    """Guards against a view analysts cannot find in the README."""
    views = README.split("### Views", 1)[1].split("\n## ", 1)[0]
    for name, (doc, _) in VIEWS.items():
        assert f"| `{name}` | {doc} |" in views, name


def test_every_analyst_view_and_its_columns_are_documented(tmp_path: Path) -> None:
    """Guards against a view's columns changing without the README following."""
    from form4.warehouse.db import Warehouse
    from form4.warehouse.views import ANALYST_VIEWS

    section = README.split("### Analyst views", 1)[1].split("\n## ", 1)[0]
    with Warehouse(tmp_path / "d.duckdb") as wh:
        for name in ANALYST_VIEWS:
            body = section.split(f"#### `{name}`", 1)[1].split("####", 1)[0]
            documented = [
                (name_, type_.rstrip(",."))
                for name_, type_ in re.findall(r"`([a-z0-9_]+)` ([^\s`]+)", body)
            ]
            actual = [(r[0], r[1]) for r in wh.con.execute(f"DESCRIBE {name}").fetchall()]
            assert documented == actual, name


def test_the_readmes_first_sql_example_gives_the_shares_sold(tmp_path: Path) -> None:
    """Guards against the first query a newcomer copies double-counting: summing every code,
    both tables, and an original beside its amendment. Its answer must equal the sold shares
    of the analyst rulebook (issuer_daily), on a day with an amended sale."""
    import io
    import shlex

    from form4.flows.cli.main import main
    from form4.warehouse.db import Warehouse
    from tests.analyst_day import analyst_day

    line = next(line for line in README.splitlines() if line.startswith("form4 sql "))
    args = shlex.split(line)[1:]
    db = tmp_path / "a.duckdb"
    with Warehouse(db) as wh:
        wh.load_batch(analyst_day())
        expected = wh.con.execute(
            "SELECT issuer_ticker, sum(sold_shares) FROM issuer_daily GROUP BY ALL ORDER BY 1"
        ).fetchall()
        naive = wh.con.execute("SELECT sum(shares) FROM transactions").fetchone()
    out = io.StringIO()
    assert main([*args, "--db", str(db), "--format", "json"], out=out) == 0
    import json
    from decimal import Decimal

    rows = json.loads(out.getvalue())
    got = sorted((r["issuer_ticker"], Decimal(str(r["shares_sold"]))) for r in rows)
    assert got == [(t, Decimal(v)) for t, v in expected] and got
    assert naive is not None and sum(v for _, v in got) != naive[0]


def test_the_intraday_deployment_polls_the_feed_every_two_minutes_of_watch_hours() -> None:
    """Guards against the intraday deployment running at night, in UTC, two at a time, or
    pointing at a moved flow."""
    from cronsim import CronSim

    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    (deployment,) = [d for d in config["deployments"] if d["name"] == "intraday"]
    path, func = deployment["entrypoint"].split(":")
    module = importlib.import_module("form4." + path.removesuffix(".py").replace("/", "."))
    assert getattr(module, func).name == "form4-intraday"
    assert deployment["concurrency_limit"] == 1
    from datetime import datetime, timedelta

    runs: set[datetime] = set()
    start = datetime(2026, 2, 1)  # a Sunday: the week that follows
    for schedule in deployment["schedules"]:
        assert schedule["timezone"] == "America/New_York"
        for when in CronSim(schedule["cron"], start):
            if when >= start + timedelta(days=7):
                break
            runs.add(when)
    ordered = sorted(runs)
    assert ordered[0] == datetime(2026, 2, 2, 6, 0)
    assert all(r.weekday() < 5 and (6, 0) <= (r.hour, r.minute) <= (22, 30) for r in ordered)
    assert len(ordered) == 5 * (16 * 30 + 1 + 15)  # 06:00-21:58, then 22:00-22:30
    gaps = {b - a for a, b in zip(ordered, ordered[1:], strict=False) if a.date() == b.date()}
    assert gaps == {timedelta(minutes=2)}
