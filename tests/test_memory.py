"""Memory stays under 1 GB whatever FORM4_BATCH_SIZE, on a day of large submissions.

A child process ingests, from the loopback EDGAR, a day whose filings include 45 MB
submissions (a large exhibit beside the XML), XML documents of 9 MB and 1 MB remarks, with a
batch of one filing and with a batch of every filing; its peak resident memory is read from
the kernel when it ends: ``VmHWM`` of ``/proc/self/status``, the high-water mark of the child's
own address space. (``ru_maxrss`` would not do: Linux carries the parent's high-water mark over
``fork`` and ``exec``, so a child of a large test process would report the parent's size.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tests.edgar_server import FaultyEdgar
from tests.edgar_tree import build_day, clone_submission
from tests.hostile import SAMPLE

ROOT = Path(__file__).resolve().parent.parent
DAY = date(2026, 2, 2)
LIMIT_MB = 1024

CHILD = """
import sys
from datetime import date
from pathlib import Path
from form4.flows.config import Settings
from form4.flows.ingest_flow import run_ingest
env = {"SEC_USER_AGENT": "memory test mem@form4.example", "FORM4_BATCH_SIZE": sys.argv[1],
       "FORM4_MAX_RPS": "1000", "FORM4_RATE_DIR": "none"}
settings = Settings.from_env(env, db_path=Path(sys.argv[2]) / "w.duckdb", edgar_url=sys.argv[3])
result = run_ingest(settings, date(2026, 2, 2), today=date(2026, 2, 10))
status = Path("/proc/self/status").read_text()
peak = int(next(l for l in status.splitlines() if l.startswith("VmHWM:")).split()[1]) // 1024
print(result.error, result.totals.loaded, result.totals.rejected, peak, flush=True)
"""


def large_day(count: int) -> dict[str, bytes]:
    subs = []
    for i in range(count):
        s = clone_submission(SAMPLE, accession=f"0009400001-26-{i + 1:06d}", filed=DAY)
        if i % 10 == 1:
            s = s.replace(b"<remarks></remarks>", b"<remarks>" + b"r" * 1_000_000 + b"</remarks>")
        if i % 20 == 2:
            s = s.replace(b"<remarks></remarks>", b"<remarks>" + b"n " * 4_500_000 + b"</remarks>")
        if i % 5 == 3:  # 12 of them: 540 MB, held at once by a batch of every filing
            exhibit = (
                b"<DOCUMENT>\n<TYPE>EX-99\n<TEXT>\n"
                + b"e" * 45_000_000
                + b"\n</TEXT>\n</DOCUMENT>\n"
            )
            s = s.replace(b"</SEC-DOCUMENT>", exhibit + b"</SEC-DOCUMENT>")
        subs.append(s)
    return build_day(DAY, subs)


@pytest.mark.parametrize("batch_size", ["1", "1000"])
def test_a_day_of_large_submissions_stays_under_a_gigabyte_at_any_batch_size(
    batch_size: str, tmp_path: Path
) -> None:
    """Guards against memory that grows with the batch (every submission of a batch held at
    once) or with the day, until the nightly is killed by the OOM killer."""
    count = 60
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env["PYTHONPATH"] = str(ROOT)
    with FaultyEdgar(large_day(count)) as server:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, batch_size, str(tmp_path), server.base_url],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    error, loaded, rejected, peak = done.stdout.split()
    assert (error, int(loaded), int(rejected)) == ("None", count, 0)
    assert int(peak) < LIMIT_MB, f"peak {peak} MB with FORM4_BATCH_SIZE={batch_size}"
