"""The rate limit shared by form4 processes through a file (``flows.edgar.rate``).

Unit tests use a fake clock; one test runs two real processes, and one runs two ingest runs
at once against the loopback EDGAR server and reads the server's own request log.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from array import array
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest

from form4.flows.cli.mirror import max_requests_in_any_window
from form4.flows.config import Settings
from form4.flows.edgar.rate import (
    MAX_ENTRIES,
    RateLimiter,
    SharedRateLimiter,
    make_limiter,
    rate_file,
)
from form4.flows.ingest_flow import run_ingest
from form4.parsers.errors import ConfigError
from tests.edgar_server import FaultyEdgar
from tests.edgar_tree import build_day
from tests.fakes import FakeClock
from tests.test_ingest_e2e import DAY, TODAY, day_submissions, settings_for


@pytest.mark.parametrize("rate", [1.0, 5.0, 10.0])
def test_limiters_on_one_file_never_admit_more_than_the_rate_together(
    rate: float, tmp_path: Path
) -> None:
    """Guards against each process counting only its own requests: three limiters taking
    irregular turns on one file admit no more than the rate between them in any window."""
    clock = FakeClock()
    path = tmp_path / "edgar.rate"
    limiters = [
        SharedRateLimiter(path, rate, margin_s=0.0, clock=clock.now, sleep=clock.sleep)
        for _ in range(3)
    ]
    starts = []
    for i in range(120):
        if i % 7 == 0:
            clock.advance(0.011 * (i % 5))
        starts.append(limiters[(i * i) % 3].acquire())
    assert max_requests_in_any_window(starts, 1.0) <= int(rate)
    # not needlessly slow either: the shared allowance is used in full
    assert starts[-1] - starts[0] <= 120 / int(rate) + 1.0


@pytest.mark.parametrize(
    "content",
    [b"form4rt1" + array("d", [10.0, 1e9, 2e9]).tobytes(), b"not a rate log\x00\x01\x02"],
    ids=["from-a-previous-boot", "damaged"],
)
def test_times_from_before_a_reboot_or_a_damaged_file_do_not_block(
    content: bytes, tmp_path: Path
) -> None:
    """Guards against a log that stops every request forever: start times ahead of the
    monotonic clock (which restarts at boot) and bytes that are not a log are ignored."""
    clock = FakeClock(start=50.0)
    path = tmp_path / "edgar.rate"
    path.write_bytes(content)
    limiter = SharedRateLimiter(path, 2, margin_s=0.0, clock=clock.now, sleep=clock.sleep)
    assert [limiter.acquire(), limiter.acquire()] == [50.0, 50.0]
    assert clock.sleeps == []
    assert path.read_bytes() == b"form4rt1" + array("d", [50.0, 50.0]).tobytes()
    limiter.acquire()  # the third in the same second waits for the first to age out
    assert clock.sleeps == [pytest.approx(1.0)]


def _acquire_in_child(path: str, rate: float, count: int, go: Event, out: Connection) -> None:
    limiter = SharedRateLimiter(Path(path), rate)
    go.wait(30)
    out.send([limiter.acquire() for _ in range(count)])


def test_two_processes_share_the_limit(tmp_path: Path) -> None:
    """Guards against a limit held in memory: two processes started together stay under the
    rate between them (the monotonic clock is the machine's, so their times compare)."""
    spawn = multiprocessing.get_context("spawn")
    go = spawn.Event()
    pipes = [spawn.Pipe(duplex=False) for _ in range(2)]
    children = [
        spawn.Process(
            target=_acquire_in_child, args=(str(tmp_path / "edgar.rate"), 20.0, 15, go, send)
        )
        for _, send in pipes
    ]
    for child in children:
        child.start()
    go.set()
    starts = [recv.recv() for recv, _ in pipes]
    for child in children:
        child.join(30)
        assert child.exitcode == 0
    assert [len(s) for s in starts] == [15, 15]
    # alone, each would have sent its 15 at once; together they must stay at 20 a second
    assert max_requests_in_any_window(starts[0] + starts[1], 1.0) <= 20


def test_two_ingest_runs_at_once_stay_under_the_rate_at_the_server(tmp_path: Path) -> None:
    """Guards the whole path: two runs into two warehouses at the same time, each with its
    own client, never send more than FORM4_MAX_RPS in any second between them."""
    with FaultyEdgar(build_day(DAY, day_submissions())) as server:
        runs = [
            settings_for(
                server,
                tmp_path / name,
                FORM4_MAX_RPS="8",
                FORM4_RATE_DIR=str(tmp_path / "rate"),
            )
            for name in ("one", "two")
        ]
        errors: list[str | None] = []
        threads = [
            threading.Thread(
                target=lambda s=s: errors.append(run_ingest(s, DAY, today=TODAY).error)
            )
            for s in runs
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        log = [r.time for r in server.requests]
    assert errors == [None, None]
    assert len(log) >= 20  # both runs fetched the whole day
    assert max_requests_in_any_window(log) <= 8


def test_the_shared_file_is_per_host_and_an_unusable_directory_falls_back_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Guards against a loopback test sharing (and slowing) the budget of real EDGAR runs, and
    against a read-only home stopping the nightly run (it warns and limits itself alone)."""
    ua = "form4 tests tests@form4.example"
    settings = Settings(ua, edgar_url="http://127.0.0.1:8123", rate_dir=tmp_path)
    limiter = make_limiter(settings)
    assert isinstance(limiter, SharedRateLimiter)
    assert limiter.path == tmp_path / "127.0.0.1_8123.rate" and limiter.path.exists()
    assert rate_file(tmp_path, "https://www.sec.gov") == tmp_path / "www.sec.gov.rate"
    assert isinstance(make_limiter(Settings(ua)), RateLimiter)  # no directory: this process
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with caplog.at_level(logging.WARNING, logger="form4.http"):
        fallback = make_limiter(Settings(ua, rate_dir=blocker / "sub"))
    assert isinstance(fallback, RateLimiter)
    assert "rate-limit file" in caplog.text and "only its own requests" in caplog.text
    with pytest.raises(ConfigError, match="rate-limit file"):
        SharedRateLimiter(blocker / "sub" / "x.rate", 10)


def test_the_file_keeps_a_bounded_number_of_starts(tmp_path: Path) -> None:
    """Guards against a log that grows with every request of a fast run (it is read and
    written whole under the lock)."""
    clock = FakeClock()
    path = tmp_path / "edgar.rate"
    limiter = SharedRateLimiter(path, 5000, clock=clock.now, sleep=clock.sleep)
    for _ in range(MAX_ENTRIES + 500):
        limiter.acquire()
        clock.advance(0.0001)
    assert path.stat().st_size == 8 + MAX_ENTRIES * 8
    assert clock.sleeps == []  # 2,548 starts in 0.25 s are within 5,000 a second
