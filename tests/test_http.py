"""The polite HTTP layer: rate limiter, block gate, retries and block detection.

Unit tests use a fake clock (no real waiting) and ``httpx.MockTransport``; the loopback
end-to-end tests check the same behaviour against a real server.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from flows.config import Settings
from flows.http import (
    BlockGate,
    PoliteTransport,
    RateLimiter,
    RetryPolicy,
    build_client,
    classify_block,
)
from flows.mirror import max_requests_in_any_window
from parsers.errors import BlockedError, FetchError
from tests.fakes import FakeClock


@pytest.mark.parametrize("rate", [1.0, 2.5, 10.0, 37.0])
def test_rate_limiter_never_admits_more_than_the_rate_in_any_one_second_window(rate: float) -> None:
    """Guards against a fixed-bucket limiter that lets 2x the rate through across a boundary."""
    clock = FakeClock()
    limiter = RateLimiter(rate, margin_s=0.0, clock=clock.now, sleep=clock.sleep)
    starts = []
    for i in range(200):
        if i % 7 == 0:
            clock.advance(0.013 * (i % 5))  # irregular arrivals
        starts.append(limiter.acquire())
    allowed = max(1, int(rate))
    assert max_requests_in_any_window(starts, 1.0) <= allowed
    # and it is not needlessly slow: 200 requests take about 200 / allowed seconds
    assert starts[-1] - starts[0] <= 200 / allowed + 1.0


def test_rate_limiter_lets_a_burst_up_to_the_rate_through_without_waiting() -> None:
    """Guards against a limiter that spaces every request evenly and wastes the allowance."""
    clock = FakeClock()
    limiter = RateLimiter(10, margin_s=0.0, clock=clock.now, sleep=clock.sleep)
    for _ in range(10):
        limiter.acquire()
    assert clock.sleeps == []
    limiter.acquire()
    assert clock.sleeps and clock.sleeps[0] == pytest.approx(1.0)


def test_block_gate_holds_everyone_until_the_pause_ends_and_trips_only_extend_it() -> None:
    """Guards against a second block shortening the pause, or a gate that never reopens."""
    clock = FakeClock()
    gate = BlockGate(600, clock=clock.now, sleep=clock.sleep)
    gate.wait()
    assert clock.sleeps == []
    until = gate.trip()
    assert until == pytest.approx(clock.now() + 600)
    clock.advance(100)
    assert gate.trip() == pytest.approx(clock.now() + 600)  # renewed, as EDGAR renews it
    gate.wait()
    assert clock.now() == pytest.approx(until + 100)
    assert gate.trips == 2


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (429, b"", "rate"),
        (403, b"<html><h1>Request Rate Threshold Exceeded</h1></html>", "rate"),
        (200, b"<html>Request Rate Threshold Exceeded</html>", "rate"),
        (
            403,
            b"<html>Your Request Originates from an Undeclared Automated Tool</html>",
            "undeclared",
        ),
        (403, b"<html>Forbidden</html>", None),
        (404, b"Request Rate Threshold Exceeded", None),
        (200, b"<SEC-DOCUMENT>quoting Request Rate Threshold Exceeded", None),
        (503, b"", None),
    ],
)
def test_block_pages_are_recognised_by_status_and_text(
    status: int, body: bytes, expected: str | None
) -> None:
    """Guards against storing a block page as data or pausing on an ordinary 403."""
    assert classify_block(status, body) == expected


def test_real_edgar_block_pages_are_recognised(corpus: Path) -> None:
    """Guards against a block detector tuned to a made-up page rather than EDGAR's real ones."""
    assert classify_block(403, (corpus / "pages/rate-exceeded.html").read_bytes()) == "rate"
    assert classify_block(200, (corpus / "pages/rate-exceeded.html").read_bytes()) == "rate"
    assert (
        classify_block(403, (corpus / "pages/SEC.AutomatedTool.html").read_bytes()) == "undeclared"
    )


class Script:
    """A MockTransport handler answering from a list of (status, body) or exceptions."""

    def __init__(self, *answers: tuple[int, bytes] | Exception) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        return httpx.Response(status, content=body)


def _client(script: Script, clock: FakeClock, **policy: float) -> tuple[httpx.Client, BlockGate]:
    gate = BlockGate(600, clock=clock.now, sleep=clock.sleep)
    transport = PoliteTransport(
        httpx.MockTransport(script),
        limiter=RateLimiter(10, clock=clock.now, sleep=clock.sleep),
        gate=gate,
        policy=RetryPolicy(
            max_retries=int(policy.get("max_retries", 3)),
            base_s=0.5,
            cap_s=8.0,
            max_blocks=int(policy.get("max_blocks", 2)),
        ),
        sleep=clock.sleep,
    )
    return httpx.Client(transport=transport, base_url="https://edgar.test"), gate


def test_server_errors_are_retried_with_growing_backoff_then_succeed() -> None:
    """Guards against giving up on a passing 503 or retrying without any back-off."""
    clock = FakeClock()
    script = Script((503, b""), (502, b""), (200, b"ok"))
    client, _ = _client(script, clock)
    with client:
        assert client.get("/x").content == b"ok"
    assert script.calls == 3
    assert len(clock.sleeps) == 2
    assert all(0 <= s <= 8.0 for s in clock.sleeps)


def test_server_errors_past_the_retry_budget_raise_fetch_error_with_the_status() -> None:
    """Guards against an endless retry loop on a dead endpoint."""
    clock = FakeClock()
    script = Script((500, b""))
    client, _ = _client(script, clock, max_retries=2)
    with client, pytest.raises(FetchError) as info:
        client.get("/x")
    assert info.value.status == 500
    assert script.calls == 3


def test_connection_errors_are_retried_and_finally_wrapped() -> None:
    """Guards against an httpx exception escaping instead of the project's FetchError."""
    clock = FakeClock()
    script = Script(httpx.ConnectError("refused"))
    client, _ = _client(script, clock, max_retries=1)
    with client, pytest.raises(FetchError, match="ConnectError"):
        client.get("/x")
    assert script.calls == 2


def test_rate_block_pauses_all_requests_then_resumes() -> None:
    """Guards against hammering EDGAR during a block (which renews the block)."""
    clock = FakeClock()
    page = b"<html>Request Rate Threshold Exceeded</html>"
    script = Script((429, b""), (403, page), (200, b"data"))
    client, gate = _client(script, clock)
    start = clock.now()
    with client:
        assert client.get("/x").content == b"data"
    assert gate.trips == 2
    assert clock.now() - start >= 1200  # two full pauses, no request in between


def test_a_block_page_served_with_status_200_is_never_returned_as_data() -> None:
    """Guards against storing EDGAR's block page as if it were the filing."""
    clock = FakeClock()
    script = Script((200, b"<html>Request Rate Threshold Exceeded</html>"), (200, b"filing"))
    client, gate = _client(script, clock)
    with client:
        assert client.get("/x").content == b"filing"
    assert gate.trips == 1


def test_endless_blocks_end_in_blocked_error() -> None:
    """Guards against a run that waits forever while EDGAR keeps blocking."""
    clock = FakeClock()
    script = Script((429, b""))
    client, _ = _client(script, clock, max_blocks=2)
    with client, pytest.raises(BlockedError):
        client.get("/x")
    assert script.calls == 3


def test_undeclared_tool_page_fails_at_once_without_retrying() -> None:
    """Guards against retrying a request EDGAR will refuse until the User-Agent is fixed."""
    clock = FakeClock()
    script = Script((403, b"<html>Undeclared Automated Tool</html>"))
    client, _ = _client(script, clock)
    with client, pytest.raises(BlockedError, match="User-Agent"):
        client.get("/x")
    assert script.calls == 1


def test_the_client_factory_declares_the_user_agent_and_follows_redirects() -> None:
    """Guards against requests leaving without the SEC-required User-Agent header."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/old":
            return httpx.Response(301, headers={"Location": "new"})
        return httpx.Response(200, content=b"ok")

    settings = Settings(user_agent="Acme Research ops@acme.example", edgar_url="https://e.test")
    with build_client(settings, inner=httpx.MockTransport(handler)) as client:
        assert client.get("/old").content == b"ok"
    assert [r.url.path for r in seen] == ["/old", "/new"]
    assert all(r.headers["User-Agent"] == "Acme Research ops@acme.example" for r in seen)


def test_a_request_that_waited_for_a_rate_slot_rechecks_the_block_gate() -> None:
    """Guards against a request sent during a block because it was queued in the limiter."""
    clock = FakeClock()
    gate = BlockGate(600, clock=clock.now, sleep=clock.sleep)
    sent: list[float] = []

    class TrippingLimiter(RateLimiter):
        def acquire(self) -> float:
            granted = super().acquire()
            if not sent and gate.trips == 0:
                gate.trip()  # a block arrives for another worker while this one waits
            return granted

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(clock.now())
        return httpx.Response(200, content=b"ok")

    transport = PoliteTransport(
        httpx.MockTransport(handler),
        limiter=TrippingLimiter(10, clock=clock.now, sleep=clock.sleep),
        gate=gate,
        policy=RetryPolicy(),
        sleep=clock.sleep,
    )
    start = clock.now()
    with httpx.Client(transport=transport, base_url="https://edgar.test") as client:
        assert client.get("/x").content == b"ok"
    assert sent and sent[0] - start >= 600
