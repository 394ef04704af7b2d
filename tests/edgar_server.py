"""A loopback EDGAR that misbehaves on purpose: rate blocks, 5xx, resets, short bodies, stalls.

``FaultyEdgar`` extends ``flows.cli.mirror.EdgarMirror``: it also serves EDGAR's latest-filings
Atom feed (``/cgi-bin/browse-edgar?action=getcurrent&type=4&start=0&count=100&output=atom``) from
a list that tests grow while a watcher polls (``publish``: one entry per CIK involved, newest
first, ``type`` matched as a prefix as EDGAR does, so 424B2 appears under type 4). Faults are
injected per path (exact path or ``fnmatch`` glob, with or without the leading slash) for a
number of requests, or drawn at random with a seeded generator, and
``require_declared_user_agent`` turns on EDGAR's
"Undeclared Automated Tool" refusal. Once a ``Fault.BLOCK`` fires, every request for
``block_seconds`` gets the rate-exceeded page and renews the block, as EDGAR does. Every
request is logged as a ``FaultRecord`` (time, method, path, User-Agent, status, fault).

The block and undeclared-tool pages are the real ones from ``../shared/corpus/pages`` (short
faithful stand-ins only when the corpus is absent). Neighbours: ``tests/edgar_tree.py`` builds
the trees served here; ``tests/test_edgar_server.py`` pins each fault's behaviour.
"""

from __future__ import annotations

import enum
import fnmatch
import posixpath
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape as xml_escape
from zoneinfo import ZoneInfo

from form4.flows.cli.mirror import EdgarMirror, MirrorHandler, Reply, RequestRecord
from form4.flows.edgar.feed import FEED_PATH
from tests.edgar_tree import read_header

EASTERN = ZoneInfo("America/New_York")

__all__ = [
    "CORPUS_PAGES",
    "FeedItem",
    "atom_feed",
    "NO_SUCH_KEY_BODY",
    "Fault",
    "FaultRecord",
    "FaultRule",
    "FaultyEdgar",
    "load_page",
]

CORPUS_PAGES = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "pages"
NO_SUCH_KEY_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>"
    b"<Key>%s</Key><RequestId>F0RM4T35T0000000</RequestId></Error>"
)
_FALLBACK_PAGES = {
    "rate-exceeded.html": b"<html><head><title>SEC.gov | Request Rate Threshold Exceeded</title>"
    b"</head><body><h1>Your Request Originates from an Undeclared Automated Tool</h1>"
    b"<p>Request Rate Threshold Exceeded</p><p>To allow for equitable access to all users, "
    b"SEC reserves the right to limit requests originating from undeclared automated tools. "
    b"Your request has been identified as part of a network of automated tools outside of the "
    b"acceptable policy and will be managed until action is taken to declare your traffic."
    b"</p></body></html>",
    "SEC.AutomatedTool.html": b"<html><head><title>SEC.gov | Your Request Originates from an "
    b"Undeclared Automated Tool</title></head><body><h1>Your Request Originates from an "
    b"Undeclared Automated Tool</h1><p>Please declare your traffic by updating your user agent "
    b"to include company specific information.</p></body></html>",
}
_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[A-Za-z]{2,}")
_CLOSING_TAG = re.compile(rb"</[A-Za-z][\w.-]*>")


def load_page(name: str) -> bytes:
    """A page from the shared corpus, or its short stand-in when the corpus is absent."""
    path = CORPUS_PAGES / name
    return path.read_bytes() if path.is_file() else _FALLBACK_PAGES[name]


class Fault(enum.Enum):
    """What the server does instead of (or to) the normal answer; each member says which."""

    _doc: str

    def __new__(cls, value: str, doc: str) -> Fault:
        member = object.__new__(cls)
        member._value_ = value
        member._doc = doc
        return member

    @property
    def doc(self) -> str:
        return self._doc

    RATE_429 = "rate-429", "429 with the rate-exceeded page and no Retry-After header."
    RATE_403 = "rate-403", "403 whose HTML body is EDGAR's 'Request Rate Threshold Exceeded' page."
    BLOCK = "block", "Start a block: this and every request for block_seconds get the rate page."
    UNDECLARED_TOOL = "undeclared", "403 'Undeclared Automated Tool' page, whatever the UA."
    STATUS_500 = "500", "500 Internal Server Error with a short HTML body."
    STATUS_502 = "502", "502 Bad Gateway with a short HTML body."
    STATUS_503 = "503", "503 Service Unavailable with a short HTML body."
    STATUS_504 = "504", "504 Gateway Timeout with a short HTML body."
    RESET = "reset", "Close the connection with SO_LINGER 0 (a TCP RST) and no response."
    SHORT_BODY = "short-body", "Full Content-Length, half the body, then close the connection."
    STALL = "stall", "Headers and half the body, then silence for stall_seconds (or shutdown)."
    MISSING_403 = "missing-403", "403 Forbidden, as EDGAR answers for some missing files."
    MISSING_404 = "missing-404", "404 Not Found with a short HTML body."
    NO_SUCH_KEY = "no-such-key", "404 with the S3 NoSuchKey XML body EDGAR's storage returns."
    BLOCK_PAGE_200 = "block-page-200", "Status 200 but the body is the rate-exceeded page."
    UNCLOSED_DOCUMENT = "unclosed-document", "The .txt cut inside its XML: <DOCUMENT> never closes."
    MALFORMED_XML = "malformed-xml", "A well-formed .txt whose XML lost its first closing tag."
    REDIRECT_RELATIVE = "redirect-relative", "301 to a relative Location (../) serving the file."
    REDIRECT_ABSOLUTE = "redirect-absolute", "302 to an absolute-path Location serving the file."


@dataclass(frozen=True, slots=True)
class FaultRecord(RequestRecord):
    """A logged request and the fault applied to it (None when answered normally)."""

    fault: Fault | None = None


@dataclass(slots=True)
class FaultRule:
    """Apply ``fault`` to requests matching ``pattern``, ``remaining`` more times (None: always)."""

    pattern: str
    fault: Fault
    remaining: int | None

    def matches(self, path: str) -> bool:
        return path == self.pattern or fnmatch.fnmatchcase(path, self.pattern)


@dataclass(slots=True)
class _RandomRule:
    pattern: str
    faults: tuple[Fault, ...]
    probability: float
    rng: random.Random


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One feed entry: a filing as listed under one CIK; ``appeared`` is when it was published
    (``time.monotonic()``), for latency figures."""

    accession: str
    form_type: str
    cik: str
    name: str
    role: str  # "Reporting" or "Issuer"
    filed: date
    updated: datetime
    appeared: float


def atom_feed(items: Sequence[FeedItem], *, now: datetime) -> bytes:
    """A page of the latest-filings feed, as EDGAR writes it (ISO-8859-1, Atom namespace)."""
    out = [
        '<?xml version="1.0" encoding="ISO-8859-1" ?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<title>Latest Filings - {now:%a, %d %b %Y %H:%M:%S} EST</title>",
        '<link rel="alternate" href="/cgi-bin/browse-edgar?action=getcurrent"/>',
        "<id>https://www.sec.gov/cgi-bin/browse-edgar?action=getcurrent</id>",
        "<author><name>Webmaster</name><email>webmaster@sec.gov</email></author>",
        f"<updated>{now.isoformat()}</updated>",
    ]
    for i in items:
        folder = f"{int(i.cik)}/{i.accession.replace('-', '')}"
        out += [
            "<entry>",
            f"<title>{xml_escape(i.form_type)} - {xml_escape(i.name)} ({i.cik}) ({i.role})</title>",
            f'<link rel="alternate" type="text/html" href="https://www.sec.gov/Archives/edgar/'
            f'data/{folder}/{i.accession}-index.htm"/>',
            f'<summary type="html"> &lt;b&gt;Filed:&lt;/b&gt; {i.filed.isoformat()} '
            f"&lt;b&gt;AccNo:&lt;/b&gt; {i.accession} &lt;b&gt;Size:&lt;/b&gt; 5 KB</summary>",
            f"<updated>{i.updated.isoformat()}</updated>",
            f'<category scheme="https://www.sec.gov/" label="form type" '
            f'term="{xml_escape(i.form_type)}"/>',
            f"<id>urn:tag:sec.gov,2008:accession-number={i.accession}</id>",
            "</entry>",
        ]
    out.append("</feed>")
    return ("\n".join(out) + "\n").encode("iso-8859-1", "xmlcharrefreplace")


def _html(status: int, reason: str) -> bytes:
    title = f"{status} {reason}"
    return (
        f"<html><head><title>{title}</title></head><body><h1>{reason}</h1></body></html>".encode()
    )


class FaultyEdgar(EdgarMirror):
    """``EdgarMirror`` plus injected faults, EDGAR's block mode and its User-Agent check."""

    def __init__(
        self,
        files: Mapping[str, bytes] | Path,
        *,
        block_seconds: float = 600.0,
        block_status: int = 403,
        require_declared_user_agent: bool = False,
        stall_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(files, host=host, port=port)
        self.block_seconds = block_seconds
        self.block_status = block_status
        self.require_declared_user_agent = require_declared_user_agent
        self.stall_seconds = stall_seconds
        self.clock = clock
        self.rate_page = load_page("rate-exceeded.html")
        self.tool_page = load_page("SEC.AutomatedTool.html")
        self._rules: list[FaultRule] = []
        self._random: list[_RandomRule] = []
        self._aliases: dict[str, str] = {}  # redirect target -> the path whose file it serves
        self._blocked_until = float("-inf")
        self._fault_lock = threading.Lock()
        self._feed: list[FeedItem] = []  # newest first
        self._feed_lock = threading.Lock()

    # -- configuration -----------------------------------------------------------------------

    def inject(self, pattern: str, fault: Fault, *, times: int | None = 1) -> FaultRule:
        """Apply ``fault`` to the next ``times`` requests matching ``pattern`` (None: all)."""
        rule = FaultRule("/" + pattern.lstrip("/"), fault, times)
        with self._fault_lock:
            self._rules.append(rule)
        return rule

    def inject_random(
        self, faults: Sequence[Fault], *, probability: float, seed: int, pattern: str = "*"
    ) -> None:
        """Each request matching ``pattern`` gets one of ``faults`` with ``probability``."""
        if not faults or not 0.0 <= probability <= 1.0:
            raise ValueError("need at least one fault and a probability in [0, 1]")
        rule = _RandomRule(
            "/" + pattern.lstrip("/"), tuple(faults), probability, random.Random(seed)
        )
        with self._fault_lock:
            self._random.append(rule)

    def clear_faults(self) -> None:
        with self._fault_lock:
            self._rules.clear()
            self._random.clear()
            self._blocked_until = float("-inf")

    def start_block(self) -> float:
        """Enter block mode now; returns when the block ends unless renewed."""
        with self._fault_lock:
            self._blocked_until = self.clock() + self.block_seconds
            return self._blocked_until

    @property
    def blocked_until(self) -> float:
        with self._fault_lock:
            return self._blocked_until

    @property
    def fault_log(self) -> list[FaultRecord]:
        return [r for r in self.requests if isinstance(r, FaultRecord)]

    # -- the latest-filings feed -------------------------------------------------------------

    def publish(
        self, submission: bytes, *, updated: datetime | None = None, filed: date | None = None
    ) -> list[FeedItem]:
        """Put a filing at the top of the feed: one entry per CIK of its header (owners, then
        the issuer), as EDGAR lists it; ``filed`` overrides the header's filing date."""
        facts = read_header(submission)
        when = updated or datetime.now(EASTERN)
        appeared = time.monotonic()
        filed = filed or facts.filed or when.date()
        seen: set[str] = set()
        items = []
        for entity in facts.entities:
            if entity.cik in seen:
                continue
            seen.add(entity.cik)
            role = "Issuer" if entity.role.startswith("ISSUER") else "Reporting"
            items.append(
                FeedItem(
                    facts.accession,
                    facts.form_type,
                    entity.cik.zfill(10),
                    entity.name,
                    role,
                    filed,
                    when,
                    appeared,
                )
            )
        self.publish_items(items)
        return items

    def publish_items(self, items: Sequence[FeedItem]) -> None:
        with self._feed_lock:
            self._feed[:0] = list(items)

    @property
    def feed(self) -> list[FeedItem]:
        with self._feed_lock:
            return list(self._feed)

    def feed_reply(self, query: str) -> Reply:
        params = parse_qs(query)
        family = params.get("type", [""])[0]
        start = int(params.get("start", ["0"])[0])
        count = int(params.get("count", ["40"])[0])
        if params.get("action") != ["getcurrent"] or params.get("output") != ["atom"]:
            return Reply(400, _html(400, "Bad Request"), "text/html")
        with self._feed_lock:
            matching = [i for i in self._feed if i.form_type.startswith(family)]
        page = matching[start : start + count]
        return Reply(200, atom_feed(page, now=datetime.now(EASTERN)), "application/atom+xml")

    # -- serving -----------------------------------------------------------------------------

    def lookup(self, path: str) -> bytes | None:
        target = self._aliases.get("/" + path.lstrip("/"))
        return super().lookup(target if target is not None else path)

    def _choose(self, path: str, user_agent: str | None) -> Fault | None:
        with self._fault_lock:
            now = self.clock()
            if now < self._blocked_until:
                self._blocked_until = now + self.block_seconds  # every request renews it
                return Fault.BLOCK
            if self.require_declared_user_agent and not _EMAIL.search(user_agent or ""):
                return Fault.UNDECLARED_TOOL
            fault: Fault | None = None
            for rule in self._rules:
                if rule.remaining != 0 and rule.matches(path):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    fault = rule.fault
                    break
            else:
                for chance in self._random:
                    if fnmatch.fnmatchcase(path, chance.pattern):
                        if chance.rng.random() < chance.probability:
                            fault = chance.rng.choice(chance.faults)
                            break
            if fault is Fault.BLOCK:
                self._blocked_until = now + self.block_seconds
            return fault

    def handle(self, handler: MirrorHandler) -> None:
        arrived = time.monotonic()
        path = "/" + handler.url_path.lstrip("/")
        user_agent = handler.user_agent
        fault = self._choose(path, user_agent)
        if path == FEED_PATH and fault is None:
            query = urlsplit(handler.path).query
            reply = self.feed_reply(query)
            self.record(
                FaultRecord(arrived, handler.command, f"{path}?{query}", user_agent, reply.status)
            )
            handler.send_reply(reply)
            return

        def log(status: int) -> None:
            self.record(FaultRecord(arrived, handler.command, path, user_agent, status, fault))

        if fault is Fault.RESET:
            log(0)
            handler.close_connection = True
            handler.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            handler.connection.close()
            return
        if fault in (Fault.SHORT_BODY, Fault.STALL):
            reply = self.reply_for(path)
            log(reply.status)
            handler.close_connection = True
            handler.start_reply(reply.status, reply.content_type, len(reply.body))
            handler.wfile.write(reply.body[: len(reply.body) // 2])
            if fault is Fault.STALL:
                self.stopping.wait(self.stall_seconds)
            return
        reply = self._reply(fault, path)
        log(reply.status)
        handler.send_reply(reply)

    def _reply(self, fault: Fault | None, path: str) -> Reply:
        rate = Reply(403, self.rate_page, "text/html")
        match fault:
            case None:
                return self.reply_for(path)
            case Fault.RATE_429:
                return Reply(429, self.rate_page, "text/html")
            case Fault.RATE_403:
                return rate
            case Fault.BLOCK:
                return Reply(self.block_status, self.rate_page, "text/html")
            case Fault.UNDECLARED_TOOL:
                return Reply(403, self.tool_page, "text/html")
            case Fault.STATUS_500 | Fault.STATUS_502 | Fault.STATUS_503 | Fault.STATUS_504:
                status = int(fault.value)
                reasons = {
                    500: "Internal Server Error",
                    502: "Bad Gateway",
                    503: "Service Unavailable",
                    504: "Gateway Timeout",
                }
                return Reply(status, _html(status, reasons[status]), "text/html")
            case Fault.MISSING_403:
                return Reply(403, _html(403, "Forbidden"), "text/html")
            case Fault.MISSING_404:
                return Reply(404, _html(404, "Not Found"), "text/html")
            case Fault.NO_SUCH_KEY:
                key = path.lstrip("/").encode()
                return Reply(404, NO_SUCH_KEY_BODY % key, "application/xml")
            case Fault.BLOCK_PAGE_200:
                return Reply(200, self.rate_page, "text/html")
            case Fault.UNCLOSED_DOCUMENT | Fault.MALFORMED_XML:
                normal = self.reply_for(path)
                if normal.status != 200:
                    return normal
                mangle = _truncate_in_xml if fault is Fault.UNCLOSED_DOCUMENT else _break_xml
                return Reply(200, mangle(normal.body), normal.content_type)
            case Fault.REDIRECT_RELATIVE | Fault.REDIRECT_ABSOLUTE:
                target = _moved_path(path)
                with self._fault_lock:
                    self._aliases[target] = path
                if fault is Fault.REDIRECT_RELATIVE:
                    location = posixpath.relpath(target, posixpath.dirname(path))
                    return Reply(
                        301, _html(301, "Moved Permanently"), "text/html", (("Location", location),)
                    )
                return Reply(302, _html(302, "Found"), "text/html", (("Location", target),))
        raise AssertionError(f"unhandled fault {fault!r}")


def _xml_span(body: bytes) -> tuple[int, int]:
    start = body.find(b"<XML>")
    end = body.find(b"</XML>", start)
    if start < 0 or end < 0:
        return 0, len(body)
    return start + len(b"<XML>"), end


def _truncate_in_xml(body: bytes) -> bytes:
    """Cut the submission halfway through its XML: no ``</XML>``, ``</DOCUMENT>`` or later."""
    start, end = _xml_span(body)
    return body[: (start + end) // 2]


def _break_xml(body: bytes) -> bytes:
    """Drop the first closing tag inside ``<XML>``; the SGML around it stays intact."""
    start, end = _xml_span(body)
    match = _CLOSING_TAG.search(body, start, end)
    if match is None:
        return body[:start] + b"<unclosed>" + body[start:]
    return body[: match.start()] + body[match.end() :]


def _moved_path(path: str) -> str:
    """``/a/b/c/file`` -> ``/a/b/_moved/c/file``: a sibling folder, reachable as ``../``."""
    folder, name = posixpath.split(path)
    parent, leaf = posixpath.split(folder)
    return posixpath.join(parent, "_moved", leaf, name)
