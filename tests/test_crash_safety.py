"""Crash safety: SIGKILL at any point of an ingest, run again, get the clean run's warehouse.

A child process ingests a day from the loopback server in small batches; the test kills it
(SIGKILL, no clean-up possible) once the server has seen the k-th request, for several k, then
runs the ingest again and compares every table with a run that was never interrupted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from form4.flows.cli.mirror import RequestRecord
from form4.flows.ingest_flow import run_ingest
from tests.edgar_server import FaultyEdgar
from tests.edgar_tree import build_day
from tests.test_ingest_e2e import DAY, TODAY, day_submissions, settings_for, snapshot

ROOT = Path(__file__).resolve().parent.parent
KILL_AFTER = [1, 2, 4, 7, 10, 13]  # requests seen by the server (1 = the index only)

CHILD = """
import sys
from datetime import date
from form4.flows.config import Settings
from form4.flows.ingest_flow import run_ingest
env = {"SEC_USER_AGENT": "crash test crash@form4.example", "FORM4_BATCH_SIZE": "2",
       "FORM4_CONCURRENCY": "2", "FORM4_MAX_RPS": "8"}
settings = Settings.from_env(env, db_path=sys.argv[1], edgar_url=sys.argv[2])
run_ingest(settings, date.fromisoformat(sys.argv[3]), today=date.fromisoformat(sys.argv[4]))
print("finished", flush=True)
"""


class CountingEdgar(FaultyEdgar):
    """Signals an event when the server has recorded ``target`` requests since ``arm``."""

    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__(files)
        self.reached = threading.Event()
        self._target = -1

    def arm(self, extra: int) -> None:
        self.reached.clear()
        self._target = len(self.requests) + extra

    def record(self, entry: RequestRecord) -> None:
        super().record(entry)
        if len(self.requests) >= self._target > 0:
            self.reached.set()


def test_sigkill_at_any_point_then_a_rerun_equals_a_clean_run(tmp_path: Path) -> None:
    """Guards against half-written batches, lost raw files or duplicates after a crash."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env["PYTHONPATH"] = str(ROOT)
    with CountingEdgar(build_day(DAY, day_submissions())) as server:
        clean = settings_for(server, tmp_path / "clean")
        run_ingest(clean, DAY, today=TODAY)
        expected = snapshot(clean.db_path)
        assert len(expected["filings"]) >= 10

        killed_midway = 0
        partial: list[int] = []
        for k in KILL_AFTER:
            db = tmp_path / f"kill{k}" / "w.duckdb"
            server.arm(k)
            child = subprocess.Popen(
                [sys.executable, "-c", CHILD, str(db), server.base_url, str(DAY), str(TODAY)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            try:
                assert server.reached.wait(timeout=60), f"the child never made {k} requests"
                child.send_signal(signal.SIGKILL)
                child.wait(timeout=30)
            finally:
                if child.poll() is None:
                    child.kill()
                    child.wait()
                assert child.stdout is not None
                finished = "finished" in child.stdout.read()
                child.stdout.close()
            killed_midway += not finished
            if db.exists():
                partial.append(len(snapshot(db)["filings"]))
            again = settings_for(server, tmp_path / f"kill{k}")
            result = run_ingest(again, DAY, today=TODAY)
            assert result.error is None and result.totals.failed == 0
            assert snapshot(again.db_path) == expected, f"killed after {k} requests"
    assert killed_midway >= 5, "most kills must land before the run finished"
    # some kills landed between batch loads: the crashed warehouse held part of the day
    assert any(0 < n < len(expected["filings"]) for n in partial), partial
