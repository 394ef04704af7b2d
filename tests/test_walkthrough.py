"""The README's deployment walkthrough, command for command, against a real Prefect server.

The commands are read from the README's walkthrough block and run as written, from the
checkout, with three substitutions: free ports instead of 4200 and 8765, a temporary folder
for ``PREFECT_HOME`` and the warehouse, and this interpreter's ``bin/`` for ``.venv/bin/``.
A ``prefect server start`` on 127.0.0.1, ``prefect work-pool create``, ``prefect deploy`` from
``prefect.yaml``, a process worker pointed at the loopback mirror of the sample days, and
``prefect deployment run`` twice. Slow (a minute or two): marked ``prefect_server`` and run by
its own CI step (``pytest -m prefect_server``); the check of the commands' form runs always.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest

from form4.warehouse.schema import DATA_TABLES

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BIN = Path(sys.executable).parent


def walkthrough() -> list[str]:
    section = README.split("### Nightly deployment (Prefect)", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.strip().splitlines() if line.strip()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Shell:
    """Runs README lines: ``export`` sets the environment, ``&`` starts a background process
    (stopped at the end, with its process group), anything else runs to its end."""

    def __init__(self, env: dict[str, str], substitutions: dict[str, str], logs: Path) -> None:
        self.env = env
        self.substitutions = substitutions
        self.logs = logs
        self.background: list[subprocess.Popen[bytes]] = []

    def expand(self, line: str) -> str:
        for old, new in self.substitutions.items():
            line = line.replace(old, new)
        return line

    def run(
        self, line: str, *, extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        line = self.expand(line)
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            self.env[name] = os.path.expandvars(value)
            return subprocess.CompletedProcess(line, 0, "", "")
        env = {**self.env, **(extra_env or {})}
        if line.endswith("&"):
            with (self.logs / f"bg-{len(self.background)}.log").open("wb") as log:
                proc = subprocess.Popen(
                    ["bash", "-c", line.removesuffix("&").strip()],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.background.append(proc)
            return subprocess.CompletedProcess(line, 0, "", "")
        return subprocess.run(
            ["bash", "-c", line],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def stop(self) -> None:
        for proc in reversed(self.background):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=30)


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[Shell]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        {
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_WORKER_QUERY_SECONDS": "2",  # the worker looks for new runs every 2 s
            "FORM4_RATE_DIR": str(tmp_path / "rate"),
        }
    )
    substitutions = {
        "$PWD/.prefect": str(tmp_path / "prefect"),
        "$PWD/form4.duckdb": str(tmp_path / "form4.duckdb"),
        "$PWD": str(ROOT),
        "4200": str(free_port()),
        "8765": str(free_port()),
        ".venv/bin/": f"{BIN}/",
    }
    sh = Shell(env, substitutions, tmp_path)
    try:
        yield sh
    finally:
        sh.stop()


def wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {seconds:.0f}s")
        time.sleep(0.5)  # polling a server that is starting: not a timing assumption


def snapshot(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # type: ignore[index]
            for t in (*DATA_TABLES, "rejects", "raw_documents", "ingest_days")
        }
    finally:
        con.close()


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.mark.prefect_server
def test_the_readme_walkthrough_deploys_runs_logs_and_reruns_without_change(
    shell: Shell, tmp_path: Path
) -> None:
    """Guards against a deployment walkthrough that does not work as written: wrong flow or
    deployment names, a missing setting stored as a literal placeholder, form4's reject
    reasons missing from the run's logs, no highlights artifact, or a second run that
    loads anything twice."""
    lines = walkthrough()
    (server,) = [line for line in lines if "server start" in line]
    (deploy,) = [line for line in lines if " deploy " in line]
    (run,) = [line for line in lines if "deployment run 'form4-ingest/nightly'" in line]
    (logs,) = [line for line in lines if "flow-run logs" in line]

    for line in lines:
        if line is deploy:
            # First without its settings: refused with a clear message, nothing stored.
            bare = re.sub(r"^(FORM4_\w+=\S+ )+", "", deploy)
            refused = shell.run(bare)
            assert refused.returncode != 0
            assert (
                "form4: error: FORM4_HOME and FORM4_DB not set" in refused.stderr + refused.stdout
            )
            api = shell.env["PREFECT_API_URL"]
            gone = httpx.get(f"{api}/deployments/name/form4-ingest/nightly", timeout=10)
            assert gone.status_code == 404
        if line is logs:
            continue  # run below with the id the run printed
        result = shell.run(line)
        if line is server:
            wait_for(shell.env["PREFECT_API_URL"] + "/health", 180)
            continue
        if "form4 mirror" in line:
            mirror_url = "http://127.0.0.1:" + shell.expand("8765")
            wait_for(mirror_url + "/Archives/edgar/daily-index/2026/QTR1/form.20260202.idx", 60)
            continue
        output = ok(result)
        if line is run:
            first_run = output
            assert "Flow run finished successfully in 'Completed'" in output
        if "artifact inspect" in line:
            assert "form4-highlights-2026-02-02" in output and "Rejects" in output

    api = shell.env["PREFECT_API_URL"]
    run_id = re.search(r"UUID: ([0-9a-f-]{36})", first_run)
    assert run_id is not None, first_run
    state = httpx.get(f"{api}/flow_runs/{run_id.group(1)}", timeout=10).json()["state"]
    assert state["type"] == "COMPLETED", state
    log_text = ok(shell.run(logs.replace("FLOW_RUN_ID", run_id.group(1))))
    assert "rejected 0002900002-26-000009: xml: malformed XML" in log_text
    assert "2026-02-02: done; 11 listed" in log_text

    db = tmp_path / "form4.duckdb"
    before = snapshot(db)
    assert before["filings"] > 0 and before["rejects"] == 1
    second = ok(shell.run(run))
    second_id = re.search(r"UUID: ([0-9a-f-]{36})", second)
    assert second_id is not None and second_id.group(1) != run_id.group(1)
    state = httpx.get(f"{api}/flow_runs/{second_id.group(1)}", timeout=10).json()["state"]
    assert state["type"] == "COMPLETED", state
    assert snapshot(db) == before
    again = ok(shell.run(logs.replace("FLOW_RUN_ID", second_id.group(1))))
    assert "2026-02-02: done; 11 listed, 10 already held" in again


def test_the_walkthrough_commands_are_written_for_the_venv_of_the_set_up() -> None:
    """Guards against README commands that call 'prefect' or 'form4' from whatever is on the
    PATH instead of the virtual environment the set-up created."""
    for line in walkthrough():
        words = [w for w in shlex.split(line.removesuffix("&")) if "=" not in w]
        if words[0] == "export":
            continue
        assert words[0] in (".venv/bin/prefect", ".venv/bin/form4"), line
