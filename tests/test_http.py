"""The polite HTTP layer: rate limiter, block gate, retries and block detection.

Unit tests use a fake clock (no real waiting) and ``httpx.MockTransport``; the loopback
end-to-end tests check the same behaviour against a real server.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest

from form4.flows.cli.mirror import EdgarMirror, max_requests_in_any_window
from form4.flows.config import Settings
from form4.flows.edgar.client import PoliteTransport, RetryPolicy, build_client
from form4.flows.edgar.gate import BlockGate, classify_block
from form4.flows.edgar.rate import RateLimiter
from form4.parsers.errors import BlockedError, FetchError
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


class SlowConnect(httpcore.SyncBackend):
    """A network whose new connections take ``delay_s`` to open, as TCP and TLS to EDGAR do."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s

    def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        time.sleep(self.delay_s)
        return super().connect_tcp(*args, **kwargs)


class SlowConnectTransport(httpx.HTTPTransport):
    def __init__(self, delay_s: float) -> None:
        super().__init__()
        self._pool = httpcore.ConnectionPool(network_backend=SlowConnect(delay_s))


@pytest.mark.parametrize("at_wire", [False, True])
def test_opening_a_connection_never_pushes_requests_over_the_limit(at_wire: bool) -> None:
    """Guards against a run's first requests reaching EDGAR late, after their connection
    opened, and bunching with the next second's: the server then counts more than the limit.
    Taking the slot before the connection (``at_wire`` False, the old way) shows the excess."""
    with EdgarMirror({"Archives/edgar/x.txt": b"ok"}) as mirror:
        transport = PoliteTransport(
            SlowConnectTransport(0.3),
            limiter=RateLimiter(5),
            gate=BlockGate(600),
            policy=RetryPolicy(),
            at_wire=at_wire,
        )
        with (
            httpx.Client(transport=transport, base_url=mirror.base_url) as client,
            ThreadPoolExecutor(8) as pool,
        ):
            codes = list(
                pool.map(lambda _: client.get("/Archives/edgar/x.txt").status_code, range(16))
            )
        times = [r.time for r in mirror.requests]
    assert codes == [200] * 16 and len(times) == 16
    busiest = max_requests_in_any_window(times)
    assert busiest <= 5 if at_wire else busiest > 5, busiest


class HookingTransport(httpx.BaseTransport):
    """Calls the request's trace hook as httpcore does before writing the request line."""

    def __init__(self, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        self.handler = handler

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.extensions["trace"]("http11.send_request_headers.started", {"request": request})
        return self.handler(request)


def test_a_block_that_arrives_while_a_request_waits_at_the_wire_holds_it_back() -> None:
    """Guards against a request sent during a block because it waited for its slot on an
    open connection."""
    clock = FakeClock()
    gate = BlockGate(600, clock=clock.now, sleep=clock.sleep)
    sent: list[float] = []
    waited: list[float] = []

    class TrippingLimiter(RateLimiter):
        def acquire(self) -> float:
            waited.append(clock.now())
            if not waited[1:] and gate.trips == 0:
                gate.trip()  # a block arrives for another worker while this one waits
            return super().acquire()

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(clock.now())
        return httpx.Response(200, content=b"ok")

    transport = PoliteTransport(
        HookingTransport(handler),
        limiter=TrippingLimiter(10, clock=clock.now, sleep=clock.sleep),
        gate=gate,
        policy=RetryPolicy(),
        sleep=clock.sleep,
        at_wire=True,
    )
    start = clock.now()
    with httpx.Client(transport=transport, base_url="https://edgar.test") as client:
        assert client.get("/x").content == b"ok"
    assert len(waited) == 2 and len(sent) == 1 and sent[0] - start >= 600


def test_a_transport_that_never_reports_sending_falls_back_to_slots_before_requests(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Guards against requests going out with no rate slot at all."""
    clock = FakeClock()
    limiter = RateLimiter(2, clock=clock.now, sleep=clock.sleep)
    transport = PoliteTransport(
        httpx.MockTransport(lambda r: httpx.Response(200, content=b"ok")),
        limiter=limiter,
        gate=BlockGate(600, clock=clock.now, sleep=clock.sleep),
        policy=RetryPolicy(),
        sleep=clock.sleep,
        at_wire=True,
    )
    start = clock.now()
    with httpx.Client(transport=transport, base_url="https://edgar.test") as client:
        for _ in range(5):
            client.get("/x")
    assert not transport.at_wire
    assert "rate slots are now taken before each request" in caplog.text
    # every request counted: 5 at 2/s need two full windows of waiting
    assert clock.now() - start >= 2 * limiter.window_s


def test_building_a_client_takes_the_startup_objects_out_of_full_collections() -> None:
    """Guards against 50 ms collector pauses between a rate slot and its request."""
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    settings = Settings(user_agent="Acme Research ops@acme.example", edgar_url="https://e.test")
    build_client(settings, inner=httpx.MockTransport(lambda r: httpx.Response(200))).close()
    assert gc.get_freeze_count() > 10_000
