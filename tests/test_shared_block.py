"""The block pause is shared: a block page seen by one form4 process pauses every form4 process
of the user against the same EDGAR host, as the rate limit is shared (EDGAR counts per
machine, and renews its block while requests keep arriving)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from form4.flows.config import Settings
from form4.flows.edgar.gate import BlockGate, block_file, make_gate
from tests.edgar_server import Fault, FaultyEdgar

ROOT = Path(__file__).resolve().parent.parent
PAUSE_S = 2.0
COUNTS = {"a": 20, "b": 120}  # b starts first and is still busy when a is blocked
BLOCKED = "/Archives/a/9.txt"  # the 10th file of process "a" gets EDGAR's block page

CHILD = """
import os, sys
from concurrent.futures import ThreadPoolExecutor
from form4.flows.config import Settings
from form4.flows.edgar.client import build_client

name, count = sys.argv[1], int(sys.argv[2])
settings = Settings.from_env(os.environ)
with build_client(settings) as client, ThreadPoolExecutor(2) as pool:
    paths = [f"/Archives/{name}/{i}.txt" for i in range(count)]
    statuses = list(pool.map(lambda p: client.get(p).status_code, paths))
assert statuses == [200] * count, statuses
"""


def test_two_processes_send_nothing_while_either_one_is_paused(tmp_path: Path) -> None:
    """Guards against each process pausing only on its own block page: the other kept sending
    into the pause and EDGAR renewed the block (a 6 s block stretched to 54 s)."""
    files = {f"Archives/{n}/{i}.txt": b"x" * 100 for n, c in COUNTS.items() for i in range(c)}
    with FaultyEdgar(files) as server:
        server.inject(BLOCKED, Fault.RATE_403, times=1)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "SEC_USER_AGENT": "form4 tests tests@form4.example",
            "FORM4_EDGAR_URL": server.base_url,
            "FORM4_RATE_DIR": str(tmp_path / "rate"),
            "FORM4_BLOCK_PAUSE_S": str(PAUSE_S),
            "FORM4_MAX_RPS": "20",
        }

        def start(name: str) -> subprocess.Popen[str]:
            return subprocess.Popen(
                [sys.executable, "-c", CHILD, name, str(COUNTS[name])],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )

        b = start("b")
        waited = 0
        while len(server.requests) < 3 and b.poll() is None and waited < 6000:
            server.stopping.wait(0.01)  # until b is sending (its start-up takes a second)
            waited += 1
        children = [start("a"), b]
        outputs = [child.communicate(timeout=120) for child in children]
        log = server.fault_log
    assert [c.returncode for c in children] == [0, 0], outputs
    block = next(r for r in log if r.fault is Fault.RATE_403)
    assert block.path == BLOCKED
    t0 = block.time
    # requests already on the wire when the block came back may arrive just after it
    during = [r for r in log if t0 + 0.1 < r.time < t0 + PAUSE_S - 0.05]
    assert during == [], [(r.path, round(r.time - t0, 3)) for r in during]
    in_flight = [r for r in log if t0 < r.time <= t0 + 0.1]
    assert len(in_flight) <= 3  # at most the other workers' requests already sent
    b_times = [r.time for r in log if r.path.startswith("/Archives/b/")]
    assert min(b_times) < t0 and max(b_times) > t0 + PAUSE_S  # b was running across the pause
    assert len(log) == sum(COUNTS.values()) + 1  # every file once, the blocked one twice


def test_the_pause_file_is_shared_per_host_extends_only_and_ignores_a_stale_boot(
    tmp_path: Path,
) -> None:
    """Guards against a second gate shortening the pause, a pause left by a previous boot
    (monotonic clock far ahead) closing the gate for good, and a garbage file."""
    path = block_file(tmp_path, "https://www.sec.gov")
    assert path == tmp_path / "www.sec.gov.block"
    one, two = BlockGate(60, path=path), BlockGate(5, path=path)
    assert one.is_open() and two.is_open()
    until = one.trip()
    assert not two.is_open() and two.paused_until == pytest.approx(until)
    two.trip()  # a shorter pause never shortens the shared one
    assert two.paused_until == pytest.approx(until)
    path.write_bytes(b"garbage")
    assert BlockGate(60, path=path).is_open()
    stale = BlockGate(60, path=path, clock=lambda: 1e9)  # a boot whose clock ran far ahead
    stale.trip()
    assert BlockGate(60, path=path).is_open()


def test_a_run_shares_its_pause_only_through_a_usable_directory(tmp_path: Path) -> None:
    """Guards against a read-only cache directory stopping the run (it pauses itself only)."""
    ua = "form4 tests tests@form4.example"
    shared = make_gate(Settings(ua, rate_dir=tmp_path))
    assert shared.path == tmp_path / "www.sec.gov.block"
    assert make_gate(Settings(ua)).path is None
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert make_gate(Settings(ua, rate_dir=blocker / "sub")).path is None
