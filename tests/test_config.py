"""Settings and argument validation: clear errors for what EDGAR or the user would reject."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from form4.flows.config import Settings, parse_date, parse_forms, validate_user_agent
from form4.parsers.errors import ConfigError


@pytest.mark.parametrize("ua", [None, "", "   ", "form4", "Acme Research", "ops at acme dot com"])
def test_a_user_agent_without_an_email_is_refused(ua: str | None) -> None:
    """Guards against starting a run EDGAR would block as an undeclared automated tool."""
    with pytest.raises(ConfigError):
        validate_user_agent(ua)


def test_a_declared_user_agent_is_accepted_as_given() -> None:
    """Guards against mangling the User-Agent the operator declared."""
    assert (
        validate_user_agent(" Acme Research ops@acme.example ") == "Acme Research ops@acme.example"
    )


def test_arguments_win_over_environment_and_environment_over_defaults() -> None:
    """Guards against a --db flag silently ignored in favour of FORM4_DB."""
    env = {
        "SEC_USER_AGENT": "Env Co env@env.example",
        "FORM4_DB": "/tmp/env.duckdb",
        "FORM4_MAX_RPS": "4",
        "FORM4_EDGAR_URL": "http://127.0.0.1:9/",
    }
    s = Settings.from_env(env, db_path="/tmp/arg.duckdb")
    assert s.db_path == Path("/tmp/arg.duckdb")
    assert s.user_agent == "Env Co env@env.example"
    assert s.max_rps == 4.0
    assert s.edgar_url == "http://127.0.0.1:9"
    assert s.raw_root == Path("/tmp/arg.raw")
    assert Settings.from_env({"SEC_USER_AGENT": "a b@c.de"}).max_rps == 10.0


def test_reprocess_workers_default_to_the_cpus_and_zero_means_in_process() -> None:
    """Guards against a default that spawns more processes (each holding a batch) than CPUs."""
    env = {"SEC_USER_AGENT": "a b@c.de"}
    assert Settings.from_env(env).workers == min(os.cpu_count() or 1, 4)
    assert Settings(user_agent="a b@c.de").workers == Settings.from_env(env).workers
    assert Settings.from_env({**env, "FORM4_WORKERS": "0"}).workers == 0


def test_the_shared_rate_limit_lives_in_the_users_cache_unless_told_otherwise() -> None:
    """Guards against two runs of one user each taking EDGAR's whole allowance (no shared
    directory by default), and against a shared limit that cannot be turned off."""
    ua = {"SEC_USER_AGENT": "a b@c.de"}
    assert Settings.from_env({**ua, "HOME": "/home/ops"}).rate_dir == Path("/home/ops/.cache/form4")
    cached = {**ua, "HOME": "/home/ops", "XDG_CACHE_HOME": "/var/cache/ops"}
    assert Settings.from_env(cached).rate_dir == Path("/var/cache/ops/form4")
    assert Settings.from_env({**cached, "FORM4_RATE_DIR": "/srv/rate"}).rate_dir == Path(
        "/srv/rate"
    )
    assert Settings.from_env({**cached, "FORM4_RATE_DIR": "none"}).rate_dir is None
    assert Settings.from_env(ua).rate_dir is None  # no home at all: this process only
    # a loopback mirror (new port each run) would leave a file per run in the cache
    local = Settings.from_env(cached, edgar_url="http://127.0.0.1:8123")
    assert local.rate_dir is None
    assert Settings.from_env(
        {**cached, "FORM4_RATE_DIR": "/srv/rate"}, edgar_url="http://localhost:8123"
    ).rate_dir == Path("/srv/rate")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FORM4_MAX_RPS", "fast"),
        ("FORM4_MAX_RPS", "0"),
        ("FORM4_CONCURRENCY", "-1"),
        ("FORM4_DUCKDB_MEMORY_MB", "8"),
        ("FORM4_DUCKDB_MEMORY_MB", "128"),  # below the 256 MB a checkpoint needs
        ("FORM4_REPROCESS_BATCH_SIZE", "0"),
        ("FORM4_WORKERS", "-1"),
    ],
)
def test_bad_numeric_settings_are_refused_with_their_name(name: str, value: str) -> None:
    """Guards against a typo in an environment variable turning off the rate limit."""
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({"SEC_USER_AGENT": "a b@c.de", name: value})


def test_dates_and_forms_are_validated() -> None:
    """Guards against ingesting a wrong day or an unsupported form without saying so."""
    assert parse_date("2026-02-02") == date(2026, 2, 2)
    with pytest.raises(ConfigError, match="YYYY-MM-DD"):
        parse_date("2026-13-01")
    assert parse_forms("4, 4/a,3,4") == ("4", "4/A", "3")
    with pytest.raises(ConfigError, match="unsupported"):
        parse_forms("10-K")


def test_a_base_url_must_be_http() -> None:
    """Guards against a mistyped mirror URL reaching httpx as a relative path."""
    with pytest.raises(ConfigError, match="http"):
        Settings.from_env({"SEC_USER_AGENT": "a b@c.de"}, edgar_url="sec.gov")


def test_prefect_deploy_settings_are_checked_before_a_deployment_is_stored(
    tmp_path: Path,
) -> None:
    """Guards against 'prefect deploy' storing a literal '{{ $FORM4_HOME }}' as the worker's
    working directory, an empty FORM4_DB, or a relative one the worker resolves elsewhere."""
    from form4.flows.config import check_deploy_environment

    root = Path(__file__).resolve().parent.parent
    with pytest.raises(ConfigError, match="FORM4_HOME and FORM4_DB not set"):
        check_deploy_environment({})
    with pytest.raises(ConfigError, match="FORM4_DB not set"):
        check_deploy_environment({"FORM4_HOME": str(root)})
    with pytest.raises(ConfigError, match="not a form4 checkout"):
        check_deploy_environment({"FORM4_HOME": str(tmp_path), "FORM4_DB": "/x/w.duckdb"})
    with pytest.raises(ConfigError, match="absolute path"):
        check_deploy_environment({"FORM4_HOME": str(root), "FORM4_DB": "w.duckdb"})
    good = {"FORM4_HOME": str(root), "FORM4_DB": str(tmp_path / "w.duckdb")}
    assert check_deploy_environment(good) == good


def test_an_s3_parquet_target_is_kept_as_a_url() -> None:
    """Guards against FORM4_PARQUET_DIR=s3://bucket/prefix becoming the local path 's3:/...'."""
    settings = Settings.from_env(
        {"FORM4_PARQUET_DIR": "s3://lake/form4", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
        require_user_agent=False,
    )
    assert settings.parquet_dir == "s3://lake/form4"
    assert settings.s3_endpoint_url == "http://127.0.0.1:9"
    local = Settings.from_env({"FORM4_PARQUET_DIR": "lake"}, require_user_agent=False)
    assert local.parquet_dir == Path("lake")


def test_the_lock_wait_defaults_to_60_s_for_readers_and_600_s_for_writers() -> None:
    """Guards against the nightly writer giving up after a reader's minute, or one setting
    (FORM4_LOCK_WAIT_S) not reaching both roles."""
    default = Settings.from_env({}, require_user_agent=False)
    assert (default.wait_s(writer=False), default.wait_s(writer=True)) == (60.0, 600.0)
    set_ = Settings.from_env({"FORM4_LOCK_WAIT_S": "5"}, require_user_agent=False)
    assert (set_.wait_s(writer=False), set_.wait_s(writer=True)) == (5.0, 5.0)
    with pytest.raises(ConfigError, match="FORM4_LOCK_WAIT_S"):
        Settings.from_env({"FORM4_LOCK_WAIT_S": "soon"}, require_user_agent=False)
