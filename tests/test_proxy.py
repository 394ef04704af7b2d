"""EDGAR through an HTTP proxy named by the environment (``HTTPS_PROXY``/``HTTP_PROXY``).

httpx reads those variables only for a client without a transport of its own, so form4's
client (whose transport is the polite one: rate limit, retries, block gate, byte caps) would
ignore them and try EDGAR directly, which fails where a proxy is the only way out. These
tests start a forward proxy on 127.0.0.1 beside the loopback EDGAR and check that requests go
through it *and* through the polite transport.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from form4.flows.config import Settings, proxy_for
from form4.flows.edgar.client import build_client
from form4.parsers.errors import ConfigError
from tests.edgar_server import Fault, FaultyEdgar

UA = "form4 tests tests@form4.example"
PATH = "Archives/edgar/daily-index/2026/QTR1/form.20260202.idx"
HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "upgrade"}


class _ForwardProxy(BaseHTTPRequestHandler):
    """A plain forward proxy: absolute-URI GETs are fetched from their host and relayed."""

    seen: list[tuple[str, str | None]]

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook
        target = urlsplit(self.path)
        self.server.seen.append((self.path, self.headers.get("User-Agent")))  # type: ignore[attr-defined]
        upstream = http.client.HTTPConnection(target.hostname or "", target.port, timeout=10)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            upstream.request("GET", target.path or "/", headers=headers)
            reply = upstream.getresponse()
            body = reply.read()
        finally:
            upstream.close()
        self.send_response(reply.status)
        for key, value in reply.getheaders():
            if key.lower() not in HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def proxy() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ForwardProxy)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _settings(srv: FaultyEdgar, env: dict[str, str]) -> Settings:
    return Settings.from_env(
        {"SEC_USER_AGENT": UA, "FORM4_RETRY_BASE_S": "0.01", "FORM4_RATE_DIR": "none", **env},
        edgar_url=srv.base_url,
    )


def test_a_proxy_from_the_environment_carries_requests_through_the_polite_transport(
    proxy: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards against HTTP_PROXY being ignored, or honoured around the rate limiter."""
    with FaultyEdgar({PATH: b"index body"}) as srv:
        srv.inject(PATH, Fault.STATUS_503, times=1)
        address = f"http://127.0.0.1:{proxy.server_address[1]}"
        monkeypatch.setenv("HTTP_PROXY", address)  # httpx must not mount its own for it
        settings = _settings(srv, {"HTTP_PROXY": address})
        assert settings.proxy == address
        with build_client(settings) as client:
            response = client.get("/" + PATH)
        served = [r.path for r in srv.requests]
        url = f"{srv.base_url}/{PATH}"
    assert response.status_code == 200 and response.content == b"index body"
    # the 503 was retried (the polite transport is in the path), both times via the proxy
    assert served == ["/" + PATH, "/" + PATH]
    seen = proxy.seen  # type: ignore[attr-defined]
    assert [path for path, _ in seen] == [url] * 2
    assert {ua for _, ua in seen} == {UA}


def test_no_proxy_sends_the_requests_straight_to_edgar(proxy: ThreadingHTTPServer) -> None:
    """Guards against NO_PROXY being ignored (a proxy that cannot reach an internal mirror)."""
    with FaultyEdgar({PATH: b"index body"}) as srv:
        address = f"http://127.0.0.1:{proxy.server_address[1]}"
        settings = _settings(srv, {"http_proxy": address, "NO_PROXY": "example.org,127.0.0.1"})
        assert settings.proxy is None
        with build_client(settings) as client:
            assert client.get("/" + PATH).status_code == 200
        assert len(srv.requests) == 1
    assert proxy.seen == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("url", "env", "expected"),
    [
        ("https://www.sec.gov", {"HTTPS_PROXY": "http://p:3128"}, "http://p:3128"),
        ("https://www.sec.gov", {"https_proxy": "p:3128"}, "http://p:3128"),
        ("https://www.sec.gov", {"HTTP_PROXY": "http://p:3128"}, None),
        ("http://mirror.local", {"HTTP_PROXY": "http://p:3128"}, "http://p:3128"),
        ("https://www.sec.gov", {"ALL_PROXY": "http://a:1"}, "http://a:1"),
        ("https://www.sec.gov", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "sec.gov"}, None),
        ("https://www.sec.gov", {"HTTPS_PROXY": "http://p:1", "no_proxy": ".sec.gov"}, None),
        ("https://www.sec.gov", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, None),
        ("https://www.sec.gov", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "ec.gov"}, "http://p:1"),
        ("https://www.sec.gov", {}, None),
    ],
)
def test_the_proxy_is_chosen_as_curl_and_httpx_choose_it(
    url: str, env: dict[str, str], expected: str | None
) -> None:
    """Guards against a proxy variable read for the wrong scheme or a NO_PROXY host."""
    assert proxy_for(url, env) == expected


def test_a_socks_proxy_is_a_configuration_error_not_a_silent_bypass() -> None:
    """Guards against a proxy form4 cannot speak being ignored and EDGAR reached directly."""
    with pytest.raises(ConfigError, match="http:// and https:// proxies only"):
        Settings.from_env({"SEC_USER_AGENT": UA, "HTTPS_PROXY": "socks5://p:1080"})
