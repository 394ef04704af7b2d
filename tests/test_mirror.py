"""``flows.cli.mirror``: the loopback EDGAR mirror behind ``form4 demo``, the tests and the bench.

Real HTTP on 127.0.0.1 with ``httpx.Client``; the trees come from ``tests/edgar_tree.py`` and the
real submissions in ``../shared/corpus/txt``. Fault injection is tested in
``tests/test_edgar_server.py``.
"""

from __future__ import annotations

import http.client
import socket
import threading
from datetime import date
from pathlib import Path

import httpx
import pytest

from form4.flows.cli.mirror import EdgarMirror, RequestRecord, max_requests_in_any_window
from tests.edgar_tree import build_day, daily_index_key, write_tree

DAY = date(2026, 2, 2)
AAR = "0001127602-25-001055"  # issuer AAR CORP (1750), owner Garascia (1806647)
UA = "form4 tests tests@form4.example"


@pytest.fixture
def tree(corpus: Path) -> dict[str, bytes]:
    return build_day(DAY, [p.read_bytes() for p in sorted((corpus / "txt").glob("*.txt"))])


def test_the_mirror_serves_a_mapping_as_text_and_answers_404_for_anything_else(
    tree: dict[str, bytes],
) -> None:
    """Guards against a mirror that serves wrong bytes, no Content-Length, or 200 for a miss."""
    with EdgarMirror(tree) as mirror, httpx.Client(base_url=mirror.base_url) as client:
        index = client.get("/" + daily_index_key(DAY))
        submission = client.get(f"/Archives/edgar/data/1750/{AAR}.txt")
        missing = client.get("/Archives/edgar/daily-index/2026/QTR1/form.20260204.idx")
    assert index.status_code == 200
    assert index.content == tree[daily_index_key(DAY)]
    assert index.headers["content-type"] == "text/plain"
    assert submission.content == tree[f"Archives/edgar/data/1750/{AAR}.txt"]
    assert int(submission.headers["content-length"]) == len(submission.content)
    assert missing.status_code == 404
    assert 0 < len(missing.content) < 200


def test_mapping_keys_may_carry_a_leading_slash() -> None:
    """Guards against a mapping built with '/Archives/...' keys silently serving nothing."""
    with EdgarMirror({"/Archives/x.idx": b"abc"}) as mirror:
        assert httpx.get(mirror.base_url + "/Archives/x.idx").content == b"abc"


def test_the_mirror_serves_a_directory_and_never_a_file_outside_it(
    tree: dict[str, bytes], tmp_path: Path
) -> None:
    """Guards against path traversal out of the served directory, and directories served as 200."""
    root = tmp_path / "tree"
    write_tree(tree, root)
    (tmp_path / "secret.txt").write_bytes(b"outside")
    with EdgarMirror(root) as mirror, httpx.Client(base_url=mirror.base_url) as client:
        assert client.get("/" + daily_index_key(DAY)).content == tree[daily_index_key(DAY)]
        assert client.get("/Archives/edgar/data").status_code == 404
        escape = client.get(
            "/Archives/edgar/data/1750/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/secret.txt"
        )
        assert escape.status_code == 404
        assert mirror.lookup("../secret.txt") is None
        assert mirror.lookup("/../../secret.txt") is None


def test_a_submission_stored_once_is_served_under_every_cik_in_its_header_and_no_other(
    corpus: Path,
) -> None:
    """Guards against 404s for owner-folder paths, which the index lists as often as issuer ones."""
    body = (corpus / "txt" / f"{AAR}.txt").read_bytes()
    with EdgarMirror({f"Archives/edgar/data/1750/{AAR}.txt": body}) as mirror:
        with httpx.Client(base_url=mirror.base_url) as client:
            owner = client.get(f"/Archives/edgar/data/1806647/{AAR}.txt")
            stranger = client.get(f"/Archives/edgar/data/320193/{AAR}.txt")
    assert owner.status_code == 200
    assert owner.content == body
    assert stranger.status_code == 404


def test_every_request_is_logged_with_its_time_method_path_user_agent_and_status(
    tree: dict[str, bytes],
) -> None:
    """Guards against a log that misses requests or HEADs, or records them out of order."""
    with EdgarMirror(tree) as mirror, httpx.Client(base_url=mirror.base_url) as client:
        client.get(f"/Archives/edgar/data/1750/{AAR}.txt", headers={"User-Agent": UA})
        client.head("/nope")
        client.get("/" + daily_index_key(DAY) + "?x=1", headers={"User-Agent": "other a@b.example"})
        log = mirror.requests
    assert [(r.method, r.path, r.user_agent, r.status) for r in log] == [
        ("GET", f"/Archives/edgar/data/1750/{AAR}.txt", UA, 200),
        ("HEAD", "/nope", f"python-httpx/{httpx.__version__}", 404),
        ("GET", "/" + daily_index_key(DAY), "other a@b.example", 200),
    ]
    assert all(isinstance(r, RequestRecord) for r in log)
    assert [r.time for r in log] == sorted(r.time for r in log)


def test_the_request_log_is_a_copy() -> None:
    """Guards against callers mutating the mirror's log while handler threads append to it."""
    with EdgarMirror({}) as mirror:
        httpx.get(mirror.base_url + "/a")
        mirror.requests.clear()
        assert len(mirror.requests) == 1


def test_one_keep_alive_connection_carries_many_requests(tree: dict[str, bytes]) -> None:
    """Guards against an HTTP/1.0 mirror that closes after each response (a new TCP per fetch)."""
    with EdgarMirror(tree) as mirror:
        host, port = mirror.address
        conn = http.client.HTTPConnection(host, port, timeout=5)
        try:
            for _ in range(3):
                conn.request("GET", f"/Archives/edgar/data/1750/{AAR}.txt")
                response = conn.getresponse()
                assert response.version == 11
                assert response.read() == tree[f"Archives/edgar/data/1750/{AAR}.txt"]
                assert not response.will_close
            first_socket = conn.sock
            conn.request("GET", "/missing")
            conn.getresponse().read()
            assert conn.sock is first_socket
        finally:
            conn.close()


def test_stopping_joins_every_thread_and_closes_the_port_even_with_an_idle_client_connected() -> (
    None
):
    """Guards against a mirror that leaks handler threads or keeps its port open after the demo."""
    before = set(threading.enumerate())
    mirror = EdgarMirror({"Archives/a.txt": b"a"}).start()
    host, port = mirror.address
    client = httpx.Client(base_url=mirror.base_url)  # keeps its connection open
    try:
        assert client.get("/Archives/a.txt").status_code == 200
        assert len(mirror.threads) == 2  # the server loop and one idle keep-alive connection
        mirror.stop()
        assert set(threading.enumerate()) <= before
        assert mirror.threads == []
        with pytest.raises(ConnectionRefusedError), socket.create_connection((host, port), 1):
            pass
        with pytest.raises(RuntimeError):
            _ = mirror.base_url
    finally:
        client.close()
        mirror.stop()  # idempotent


def test_a_missing_directory_is_refused_at_construction(tmp_path: Path) -> None:
    """Guards against a demo that serves 404 for everything because the sample path is wrong."""
    with pytest.raises(FileNotFoundError):
        EdgarMirror(tmp_path / "absent")


@pytest.mark.parametrize(
    ("times", "window", "expected"),
    [
        ([], 1.0, 0),
        ([5.0], 1.0, 1),
        ([0.0, 0.1, 0.2, 0.3], 1.0, 4),
        ([0.0, 1.0, 2.0, 3.0], 1.0, 1),  # exactly one window apart: never together
        ([0.0, 0.999, 1.998], 1.0, 2),
        ([0.5, 0.0, 0.9, 1.2, 1.3, 1.4], 1.0, 5),  # unsorted input; (0.4, 1.4] holds 5
        ([0.0, 0.0, 0.0], 1.0, 3),  # simultaneous arrivals
        ([0.0, 0.5, 1.0, 1.5, 2.0], 2.0, 4),
        ([0.0, 0.95, 1.05, 1.9, 2.1], 1.0, 3),  # the burst straddles a second boundary
    ],
)
def test_max_requests_in_any_window_slides_over_every_start_point(
    times: list[float], window: float, expected: int
) -> None:
    """Guards against a fixed-second bucket count, which misses bursts across a boundary."""
    assert max_requests_in_any_window(times, window) == expected


def test_max_requests_in_any_window_rejects_a_window_that_is_not_positive() -> None:
    """Guards against a zero window that would report every rate as fine."""
    with pytest.raises(ValueError):
        max_requests_in_any_window([1.0], 0.0)
