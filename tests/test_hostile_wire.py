"""A hostile world on 127.0.0.1: index lines and submissions JSON that name other paths, and
servers that redirect elsewhere, send gzip bombs, endless bodies or drip one byte at a time.

The server logs prove what form4 requested (only ``Archives/edgar/data/{cik}/{accession}.txt``,
the day's index and the submissions JSON); each attacked filing fails within its deadline with
memory bounded, and the rest of the day loads.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from form4.flows.cli.mirror import EdgarMirror
from form4.flows.config import Settings
from form4.flows.edgar.client import build_client
from form4.flows.edgar.endpoints import (
    daily_index_path,
    fetch_submission,
    fetch_to_file,
    submission_path,
)
from form4.flows.edgar.wire import ResponseTooLarge
from form4.flows.ingest_flow import run_ingest
from form4.flows.pipeline.backfill import backfill_cik
from form4.flows.pipeline.ingest import process_entries
from form4.parsers.errors import FetchError
from form4.parsers.records import IndexEntry
from form4.warehouse.db import Warehouse
from form4.warehouse.raw import RawStore
from tests.edgar_tree import WIDTHS, build_day, daily_index_key, read_header
from tests.hostile_server import Attack, HostileEdgar, gzip_bomb
from tests.test_backfill import submissions_json
from tests.test_ingest_e2e import DAY, MALFORMED, TODAY, day_submissions, settings_for, snapshot

CAP = 4 << 20  # above the bomb's 1.5 MB on the wire: only its inflated size is over
DEADLINE_S = 1.0
ATTACKED = "/Archives/edgar/data/1/0000000001-26-000001.txt"


def hostile_settings(server: EdgarMirror, tmp_path: Path, **env: str) -> Settings:
    return settings_for(
        server,  # type: ignore[arg-type]
        tmp_path,
        FORM4_TIMEOUT_S="5",
        FORM4_DEADLINE_S=str(DEADLINE_S),
        FORM4_MAX_RETRIES="1",
        FORM4_MAX_SUBMISSION_BYTES=str(CAP),
        **env,
    )


def entry(accession: str = "0000000001-26-000001", cik: str = "0000000001") -> IndexEntry:
    return IndexEntry(
        "4", "X", cik, DAY, f"edgar/data/{cik.lstrip('0')}/{accession}.txt", accession
    )


@pytest.fixture
def other() -> Iterator[EdgarMirror]:
    """Another host, serving the same path: what an off-host redirect would reach."""
    with EdgarMirror({ATTACKED: b"<SEC-DOCUMENT>not EDGAR's</SEC-DOCUMENT>"}) as srv:
        yield srv


def test_a_gzip_bomb_is_cut_at_the_cap_without_inflating_it_in_memory(tmp_path: Path) -> None:
    """Guards against a 1.5 MB gzip body inflating to 1.5 GB before the size cap is checked."""
    gzip_bomb()  # built before measuring
    with HostileEdgar({}) as server:
        server.attack(ATTACKED, Attack.GZIP_BOMB)
        settings = hostile_settings(server, tmp_path)
        with build_client(settings) as client:
            tracemalloc.start()
            try:
                with pytest.raises(ResponseTooLarge, match="gzip-decoded"):
                    fetch_submission(client, entry(), max_bytes=CAP)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    assert peak < 3 * CAP
    assert len(server.requests) == 1  # too large is not retried


@pytest.mark.parametrize("attack", [Attack.ENDLESS, Attack.GZIP_BOMB])
def test_an_endless_or_inflating_body_written_to_a_file_stops_at_the_cap_and_leaves_nothing(
    attack: Attack, tmp_path: Path
) -> None:
    """Guards against a streamed download filling the disk, or leaving a partial file."""
    with HostileEdgar({}) as server:
        server.attack(ATTACKED, attack)
        settings = hostile_settings(server, tmp_path)
        dest = tmp_path / "dl" / "big.zip"
        dest.parent.mkdir()
        with build_client(settings) as client, pytest.raises(ResponseTooLarge):
            fetch_to_file(client, ATTACKED, dest, max_bytes=CAP)
    assert list(dest.parent.iterdir()) == []


def test_fetch_to_file_streams_a_large_body_to_disk_without_holding_it(tmp_path: Path) -> None:
    """Guards against a large download (a ZIP) held whole in memory on its way to disk."""
    body = bytes(range(256)) * (24 * 1024)  # 6 MiB
    with HostileEdgar({"Archives/big.bin": body}) as server:
        settings = hostile_settings(server, tmp_path)
        dest = tmp_path / "big.bin"
        with build_client(settings) as client:
            tracemalloc.start()
            try:
                size = fetch_to_file(client, "/Archives/big.bin", dest, max_bytes=8 << 20)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            with pytest.raises(ResponseTooLarge):
                fetch_to_file(client, "/Archives/big.bin", tmp_path / "small", max_bytes=1 << 20)
    assert size == len(body) and dest.read_bytes() == body
    assert peak < len(body) // 4
    assert not (tmp_path / "small").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


@pytest.mark.parametrize("attack", [Attack.DRIP, Attack.DRIP_HEADERS])
def test_a_slow_drip_is_cut_at_the_deadline_and_retried_once(
    attack: Attack, tmp_path: Path
) -> None:
    """Guards against a server sending a byte every few seconds holding a request forever
    (each byte arrives well within the per-read timeout)."""
    with HostileEdgar({}) as server:
        server.attack(ATTACKED, attack)
        settings = hostile_settings(server, tmp_path)
        started = time.monotonic()
        with build_client(settings) as client, pytest.raises(FetchError, match="deadline"):
            fetch_submission(client, entry(), max_bytes=CAP)
        elapsed = time.monotonic() - started
    attempts = len(server.requests)
    assert attempts == 2  # FORM4_MAX_RETRIES=1
    assert attempts * DEADLINE_S <= elapsed < attempts * DEADLINE_S + 2.0 < settings.timeout_s * 2


def test_a_redirect_to_another_host_is_a_failed_fetch_and_the_other_host_hears_nothing(
    tmp_path: Path, other: EdgarMirror
) -> None:
    """Guards against the User-Agent sent to, and a body stored from, a host not EDGAR's."""
    with HostileEdgar({}, other_host=other.base_url) as server:
        server.attack(ATTACKED, Attack.OFF_HOST)
        settings = hostile_settings(server, tmp_path)
        with build_client(settings) as client, pytest.raises(FetchError, match="another host"):
            fetch_submission(client, entry(), max_bytes=CAP)
    assert other.requests == []


@pytest.mark.parametrize(
    ("cik", "accession"),
    [
        ("0000000001", "../../../../secret/x"),
        ("0000000001", "0000000001-26-000001/../../../x"),
        ("../../etc", "0000000001-26-000001"),
        ("0000000001", "http://evil.example/0000000001-26-000001"),
        ("12345678901", "0000000001-26-000001"),
        ("0000000000", "0000000001-26-000001"),
    ],
)
def test_a_filing_path_is_built_only_from_a_valid_cik_and_accession(
    cik: str, accession: str
) -> None:
    """Guards against an identifier from an index or a JSON document becoming a path."""
    with pytest.raises(FetchError, match="refused"):
        submission_path(entry(accession, cik))


def test_the_path_ignores_the_file_name_the_index_gives() -> None:
    """Guards against the index's own file name (possibly hostile) being requested."""
    hostile = IndexEntry(
        "4",
        "X",
        "0000001750",
        DAY,
        "edgar/data/../../../../secret/0001127602-25-001055.txt",
        "0001127602-25-001055",
    )
    assert submission_path(hostile) == "/Archives/edgar/data/1750/0001127602-25-001055.txt"


def _row(form: str, cik: str, filename: str) -> bytes:
    cells = (form, "Hostile Filer Inc", cik, f"{DAY:%Y%m%d}", filename)
    return "".join(c.ljust(w) for c, w in zip(cells, WIDTHS, strict=True)).encode() + b"\n"


def test_a_hostile_day_requests_nothing_outside_edgar_data_and_loads_every_good_filing(
    tmp_path: Path, other: EdgarMirror
) -> None:
    """Guards against index names that walk out of Archives/edgar/data (or to another host),
    and against one hostile answer (bomb, endless body, drip, off-host redirect) costing the
    rest of the day, unbounded memory, or more than its deadline."""
    subs = day_submissions()
    tree = build_day(DAY, subs)
    secret = {
        "secret/0000000001-26-000099.txt": b"the secret",
        "etc/passwd/0000000001-26-000098.txt": b"root:x:0:0",
    }
    tree.update(secret)
    tree[daily_index_key(DAY)] += b"".join(
        [
            _row("4", "1", "edgar/data/../../../../secret/0000000001-26-000099.txt"),
            _row("4", "1", "/etc/passwd/0000000001-26-000098.txt"),
            _row("4", "1", f"{other.base_url}/x/0000000001-26-000097.txt"),
        ]
    )
    headers = {read_header(s).accession: read_header(s) for s in subs}
    good = sorted(a for a, h in headers.items() if h.form_type in ("4", "4/A"))
    attacked = dict(
        zip(good[:4], [Attack.GZIP_BOMB, Attack.ENDLESS, Attack.DRIP, Attack.OFF_HOST], strict=True)
    )
    gzip_bomb()
    with HostileEdgar(tree, other_host=other.base_url) as server:
        for accession, attack in attacked.items():
            server.attack(f"/Archives/edgar/data/*/{accession}.txt", attack)
        settings = hostile_settings(server, tmp_path)
        started = time.monotonic()
        tracemalloc.start()
        try:
            result = run_ingest(settings, DAY, today=TODAY)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        elapsed = time.monotonic() - started
        log = server.requests
    assert result.error is None
    outside = [
        r.path
        for r in log
        if r.path != daily_index_path(DAY) and not r.path.startswith("/Archives/edgar/data/")
    ]
    assert outside == []
    assert other.requests == []
    assert not any(".." in r.path for r in log)
    loaded = {r[0] for r in snapshot(settings.db_path)["filings"]}
    assert loaded == set(good) - set(attacked) - {MALFORMED}
    # the drip costs two deadlines (one retry); nothing waits for the 5 s read timeout
    assert elapsed < 30
    assert peak < 64 * CAP  # the bomb alone would have taken 1.5 GiB


def test_a_hostile_submissions_json_requests_only_its_own_pages_and_edgar_filings(
    tmp_path: Path, other: EdgarMirror
) -> None:
    """Guards against page names and accession numbers in a submissions JSON (``backfill
    --cik``) that point outside the submissions folder, at local files or at another host."""
    cik = "0002900002"
    subs = day_submissions()
    tree = build_day(DAY, subs)
    contoso = sorted(read_header(s).accession for s in subs if read_header(s).accession[:10] == cik)
    hostile = ["../../../outside", "/etc/passwd", f"{other.base_url}/x"]
    recent = [(a, "4", "2026-02-02") for a in contoso + hostile]
    page = "CIK0002900002-submissions-001.json"
    pages = ["/outside.json", "../../etc/passwd.json", f"{other.base_url}/p.json", page]
    tree[f"submissions/CIK{cik}.json"] = submissions_json(cik, recent, pages)
    tree[f"submissions/{page}"] = b'{"accessionNumber": [], "form": [], "filingDate": []}'
    tree["outside.json"] = b"{}"
    with HostileEdgar(tree) as server:
        settings = Settings.from_env(
            {"SEC_USER_AGENT": "form4 tests tests@form4.example", "FORM4_RETRY_BASE_S": "0.01"},
            db_path=tmp_path / "w.duckdb",
            edgar_url=server.base_url,
            data_url=server.base_url,
        )
        with build_client(settings) as client, Warehouse(settings.db_path) as wh:
            listed, result = backfill_cik(
                cik, settings=settings, client=client, warehouse=wh, raw=RawStore(settings.raw_root)
            )
        log = [r.path for r in server.requests]
    allowed_json = {f"/submissions/CIK{cik}.json", f"/submissions/{page}"}
    assert [p for p in log if p.endswith(".json")] == sorted(allowed_json, key=len)
    txt = [p for p in log if not p.endswith(".json")]
    assert sorted(txt) == sorted(f"/Archives/edgar/data/2900002/{a}.txt" for a in contoso)
    assert other.requests == []
    assert listed == len(contoso) and result.failed == 0


def test_a_redirect_on_the_same_host_is_still_followed(tmp_path: Path) -> None:
    """Guards against the same-origin rule refusing EDGAR's own redirects."""
    with EdgarMirror({"Archives/b.txt": b"moved here"}) as server:
        settings = hostile_settings(server, tmp_path)

        def redirect(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/Archives/a.txt":
                return httpx.Response(301, headers={"Location": "b.txt"})
            if request.url.path == "/Archives/c.txt":
                return httpx.Response(302, headers={"Location": "https://127.0.0.1/b.txt"})
            return httpx.Response(200, content=b"moved here")

        with build_client(settings, inner=httpx.MockTransport(redirect)) as client:
            assert client.get("/Archives/a.txt").content == b"moved here"
            with pytest.raises(FetchError, match="another host"):
                client.get("/Archives/c.txt")  # another scheme and port


def test_a_batch_holding_too_many_raw_bytes_is_loaded_in_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards against memory growing with the batch size times the documents' size (a batch
    of large submissions held whole until its one load)."""
    subs = day_submissions()
    monkeypatch.setattr("form4.flows.pipeline.ingest.BATCH_BYTES", 1)  # any document fills it
    parts: list[int] = []
    with HostileEdgar(build_day(DAY, subs)) as server:
        settings = hostile_settings(
            server, tmp_path, FORM4_BATCH_SIZE="10000", FORM4_CONCURRENCY="2"
        )
        with build_client(settings) as client, Warehouse(settings.db_path) as wh:
            entries = [
                IndexEntry(h.form_type, "X", h.ciks[0], DAY, "", h.accession)
                for h in (read_header(s) for s in subs)
            ]
            result = process_entries(
                entries,
                settings=settings,
                client=client,
                warehouse=wh,
                raw=RawStore(settings.raw_root),
                on_batch=lambda b: parts.append(b.fetched),
            )
    assert result.fetched == len(subs) and sum(parts) == len(subs)
    # a part stops at the budget: each of the two workers finishes the document it had
    assert max(parts) <= 2 and len(parts) >= len(subs) // 2
    assert {r[0] for r in snapshot(settings.db_path)["filings"]} | {MALFORMED} >= {
        read_header(s).accession for s in subs if read_header(s).form_type in ("4", "4/A")
    }
