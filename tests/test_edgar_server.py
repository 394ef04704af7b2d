"""``tests/edgar_server.py``: each injected fault does exactly what EDGAR (or a bad network) does.

Plain ``httpx.Client`` against ``FaultyEdgar`` on 127.0.0.1, serving the real corpus
submissions; block-mode timing runs on ``tests.fakes.FakeClock``, so nothing sleeps.
"""

from __future__ import annotations

import threading
import time
from datetime import date
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest

from tests.edgar_server import Fault, FaultRecord, FaultyEdgar
from tests.edgar_tree import build_day, daily_index_key
from tests.fakes import FakeClock

DAY = date(2026, 2, 2)
AAR = "/Archives/edgar/data/1750/0001127602-25-001055.txt"
INDEX = "/" + daily_index_key(DAY)
UA = "form4 tests tests@form4.example"


@pytest.fixture
def tree(corpus: Path) -> dict[str, bytes]:
    return build_day(DAY, [p.read_bytes() for p in sorted((corpus / "txt").glob("*.txt"))])


@pytest.fixture
def pages(corpus: Path) -> Path:
    return corpus / "pages"


def _client(server: FaultyEdgar, **kwargs: object) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"User-Agent": UA}, **kwargs)  # type: ignore[arg-type]


def _xml_of(body: bytes) -> bytes:
    return body[body.index(b"<XML>") + len(b"<XML>") : body.index(b"</XML>")].strip()


def test_a_fault_fires_the_given_number_of_times_then_the_file_is_served(
    tree: dict[str, bytes],
) -> None:
    """Guards against faults that never stop (retries hang) or never start (prove nothing)."""
    with FaultyEdgar(tree) as server, _client(server) as client:
        server.inject("/Archives/edgar/data/*/0001127602-25-001055.txt", Fault.STATUS_503, times=2)
        statuses = [client.get(AAR).status_code for _ in range(3)]
        other = client.get(INDEX).status_code
        log = server.fault_log
    assert statuses == [503, 503, 200]
    assert other == 200
    assert [(r.status, r.fault) for r in log] == [
        (503, Fault.STATUS_503),
        (503, Fault.STATUS_503),
        (200, None),
        (200, None),
    ]
    assert all(isinstance(r, FaultRecord) and r.user_agent == UA for r in log)


@pytest.mark.parametrize("fault", [Fault.STATUS_500, Fault.STATUS_502, Fault.STATUS_503])
def test_server_errors_come_with_their_status_and_a_short_body(
    tree: dict[str, bytes], fault: Fault
) -> None:
    """Guards against a 5xx fault that sends 200 or an empty reply the client cannot classify."""
    with FaultyEdgar(tree) as server, _client(server) as client:
        server.inject(AAR, fault)
        response = client.get(AAR)
    assert response.status_code == int(fault.value)
    assert b"<html>" in response.content


def test_a_504_carries_no_retry_after(tree: dict[str, bytes]) -> None:
    """Guards against tests that pass only because the server hands out a Retry-After."""
    with FaultyEdgar(tree) as server, _client(server) as client:
        server.inject(AAR, Fault.STATUS_504)
        response = client.get(AAR)
    assert response.status_code == 504
    assert "retry-after" not in response.headers


def test_rate_limit_answers_are_429_without_retry_after_or_403_with_the_real_page(
    tree: dict[str, bytes], pages: Path
) -> None:
    """Guards against a fake block page that real block detection would never see."""
    page = (pages / "rate-exceeded.html").read_bytes()
    with FaultyEdgar(tree) as server, _client(server) as client:
        server.inject(AAR, Fault.RATE_429)
        server.inject(INDEX, Fault.RATE_403)
        too_many = client.get(AAR)
        forbidden = client.get(INDEX)
    assert too_many.status_code == 429
    assert "retry-after" not in too_many.headers
    assert forbidden.status_code == 403
    assert forbidden.content == page
    assert b"Request Rate Threshold Exceeded" in forbidden.content


def test_block_mode_answers_everything_with_the_block_page_and_each_request_renews_it(
    tree: dict[str, bytes], pages: Path
) -> None:
    """Guards against a pipeline that keeps polling through a block: on EDGAR that never ends."""
    clock = FakeClock()
    page = (pages / "rate-exceeded.html").read_bytes()
    with FaultyEdgar(tree, block_seconds=600, clock=clock.now) as server, _client(server) as client:
        server.inject(INDEX, Fault.BLOCK)
        first = client.get(INDEX)
        assert server.blocked_until == pytest.approx(clock.now() + 600)
        clock.advance(500)
        during = client.get(AAR)  # another path, still blocked; renews to now + 600
        clock.advance(500)  # 1000 s after the first block: over, had it not been renewed
        renewed = client.get(AAR)
        clock.advance(601)
        after = client.get(AAR)
        log = server.fault_log
    assert [r.status_code for r in (first, during, renewed, after)] == [403, 403, 403, 200]
    assert during.content == page
    assert [r.fault for r in log] == [Fault.BLOCK, Fault.BLOCK, Fault.BLOCK, None]


def test_block_mode_can_answer_429_and_can_be_started_directly(tree: dict[str, bytes]) -> None:
    """Guards against block tests that only ever see one of EDGAR's two block statuses."""
    clock = FakeClock()
    with FaultyEdgar(tree, block_status=429, clock=clock.now) as server, _client(server) as client:
        server.start_block()
        assert client.get(INDEX).status_code == 429
        server.clear_faults()
        assert client.get(INDEX).status_code == 200


def test_a_user_agent_without_an_email_gets_the_undeclared_automated_tool_page(
    tree: dict[str, bytes], pages: Path
) -> None:
    """Guards against a client that runs with a bare User-Agent because the fake never objects."""
    page = (pages / "SEC.AutomatedTool.html").read_bytes()
    with (
        FaultyEdgar(tree, require_declared_user_agent=True) as server,
        httpx.Client(base_url=server.base_url) as client,
    ):
        bare = client.get(AAR, headers={"User-Agent": "python-httpx/0.28"})
        declared = client.get(AAR, headers={"User-Agent": UA})
    assert bare.status_code == 403
    assert bare.content == page
    assert b"Undeclared Automated Tool" in bare.content
    assert declared.status_code == 200


def test_a_reset_drops_the_connection_without_any_response(tree: dict[str, bytes]) -> None:
    """Guards against a 'reset' fault that sends a clean response: reset handling untested."""
    with FaultyEdgar(tree) as server, _client(server) as client:
        server.inject(AAR, Fault.RESET)
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            client.get(AAR)
        assert client.get(AAR).status_code == 200  # a fresh connection works
        log = server.fault_log
    assert (log[0].status, log[0].fault) == (0, Fault.RESET)


def test_a_body_shorter_than_its_content_length_is_a_protocol_error(
    tree: dict[str, bytes],
) -> None:
    """Guards against a truncated submission being stored as if it were whole."""
    with FaultyEdgar(tree) as server, _client(server) as client:
        server.inject(AAR, Fault.SHORT_BODY)
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(AAR)
        assert client.get(AAR).content == tree[AAR.lstrip("/")]


def test_a_stalled_body_times_out_the_read_and_does_not_delay_shutdown(
    tree: dict[str, bytes],
) -> None:
    """Guards against a fetch that hangs forever on a stalled body, or a server that takes the
    whole stall to stop."""
    server = FaultyEdgar(tree, stall_seconds=60).start()
    try:
        server.inject(AAR, Fault.STALL)
        with _client(server, timeout=httpx.Timeout(5.0, read=0.2)) as client:
            with pytest.raises(httpx.ReadTimeout):
                client.get(AAR)
    finally:
        started = time.monotonic()
        server.stop()
    assert time.monotonic() - started < 5.0
    assert not any(t.name.startswith("edgar-mirror") for t in threading.enumerate())


@pytest.mark.parametrize(
    ("fault", "status"),
    [(Fault.MISSING_403, 403), (Fault.MISSING_404, 404), (Fault.NO_SUCH_KEY, 404)],
)
def test_a_missing_daily_index_is_answered_the_ways_edgar_answers_it(
    tree: dict[str, bytes], fault: Fault, status: int
) -> None:
    """Guards against 'no index today' handling that knows only one of EDGAR's three answers."""
    with FaultyEdgar(tree) as server, _client(server) as client:
        server.inject(INDEX, fault)
        response = client.get(INDEX)
    assert response.status_code == status
    assert b"Request Rate Threshold Exceeded" not in response.content
    if fault is Fault.NO_SUCH_KEY:
        assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
        error = ElementTree.fromstring(response.content)
        assert error.findtext("Code") == "NoSuchKey"
        assert error.findtext("Message") == "The specified key does not exist."


@pytest.mark.parametrize("path", [AAR, INDEX])
def test_a_block_page_can_arrive_with_status_200_in_place_of_the_file(
    tree: dict[str, bytes], pages: Path, path: str
) -> None:
    """Guards against storing EDGAR's block page as a filing or an index because it said 200."""
    with FaultyEdgar(tree) as server, _client(server) as client:
        server.inject(path, Fault.BLOCK_PAGE_200)
        response = client.get(path)
    assert response.status_code == 200
    assert response.content == (pages / "rate-exceeded.html").read_bytes()


def test_an_unclosed_document_is_the_real_submission_cut_inside_its_xml(
    tree: dict[str, bytes],
) -> None:
    """Guards against parsers that accept a submission whose <DOCUMENT> never closes."""
    real = tree[AAR.lstrip("/")]
    with FaultyEdgar(tree) as server, _client(server) as client:
        server.inject(AAR, Fault.UNCLOSED_DOCUMENT)
        body = client.get(AAR).content
    assert real.startswith(body) and len(body) < len(real)
    assert body.index(b"<XML>") < len(body)
    assert b"</XML>" not in body and b"</DOCUMENT>" not in body


def test_malformed_xml_sits_inside_a_well_formed_submission(tree: dict[str, bytes]) -> None:
    """Guards against a 'malformed XML' fault that also breaks the SGML, testing the wrong layer."""
    real = tree[AAR.lstrip("/")]
    with FaultyEdgar(tree) as server, _client(server) as client:
        server.inject(AAR, Fault.MALFORMED_XML)
        body = client.get(AAR).content
    assert body.split(b"<XML>")[0] == real.split(b"<XML>")[0]
    assert body.rstrip().endswith(b"</SEC-DOCUMENT>")
    ElementTree.fromstring(_xml_of(real))
    with pytest.raises(ElementTree.ParseError):
        ElementTree.fromstring(_xml_of(body))


@pytest.mark.parametrize(
    ("fault", "status", "location"),
    [
        (Fault.REDIRECT_RELATIVE, 301, "../_moved/1750/0001127602-25-001055.txt"),
        (Fault.REDIRECT_ABSOLUTE, 302, "/Archives/edgar/data/_moved/1750/0001127602-25-001055.txt"),
    ],
)
def test_redirects_lead_to_the_real_file_when_followed(
    tree: dict[str, bytes], fault: Fault, status: int, location: str
) -> None:
    """Guards against a client that stores the redirect's HTML, or resolves ../ wrongly."""
    with FaultyEdgar(tree) as server, _client(server, follow_redirects=True) as client:
        server.inject(AAR, fault)
        response = client.get(AAR)
        log = server.fault_log
    assert response.status_code == 200
    assert response.content == tree[AAR.lstrip("/")]
    assert [r.status_code for r in response.history] == [status]
    assert response.history[0].headers["location"] == location
    assert [(r.path, r.status) for r in log] == [
        (AAR, status),
        ("/Archives/edgar/data/_moved/1750/0001127602-25-001055.txt", 200),
    ]


def test_random_faults_are_reproducible_from_the_seed(tree: dict[str, bytes]) -> None:
    """Guards against chaos runs that cannot be replayed when they find a bug."""

    def run(seed: int) -> list[int]:
        with FaultyEdgar(tree) as server, _client(server) as client:
            server.inject_random(
                [Fault.STATUS_500, Fault.RATE_429], probability=0.5, seed=seed, pattern="*.txt"
            )
            statuses = [client.get(AAR).status_code for _ in range(30)]
            assert client.get(INDEX).status_code == 200  # outside the pattern
            return statuses

    first = run(7)
    assert first == run(7)
    assert {200, 500, 429} == set(first)


def test_every_fault_has_a_docstring() -> None:
    """Guards against faults whose meaning lives only in the implementation."""
    assert all(len(fault.doc) > 20 for fault in Fault)
