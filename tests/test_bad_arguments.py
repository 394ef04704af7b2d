"""Every bad argument and setting found by trying form4 the way a hostile (or careless) user
would: the real command in a subprocess answers with one ``form4: error:`` line and exit 2,
never a traceback, and never silently accepts a value it cannot honour.

Arguments and environment values are passed as bytes, so that values in another encoding than
UTF-8 reach the command exactly as a shell would pass them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_SCRIPT = Path(sys.executable).with_name("form4")
FORM4 = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "form4.flows.cli.main"]
UA = "form4 tests tests@form4.example"

Arg = str | bytes

CASES: list[tuple[str, list[Arg], dict[str, Arg], str]] = [
    ("date far ahead", ["ingest", "--date", "9999-12-31"], {}, "outside 1993-01-01"),
    ("date before EDGAR", ["ingest", "--date", "0001-01-01"], {}, "outside 1993-01-01"),
    ("day before 1993", ["ingest", "--date", "1992-12-31"], {}, "outside 1993-01-01"),
    (
        "range end far ahead",
        ["ingest", "--date", "2026-02-02", "--to", "9999-12-31"],
        {},
        "outside",
    ),
    (
        "backfill from year 1",
        ["backfill", "--from", "0001-01-01", "--to", "2026-02-02"],
        {},
        "--from 0001-01-01 is outside",
    ),
    (
        "backfill to year 9999",
        ["backfill", "--from", "2026-01-01", "--to", "9999-12-31"],
        {},
        "--to 9999-12-31 is outside",
    ),
    ("unclosed IPv6 URL", ["ingest", "--edgar-url", "http://[::1"], {}, "not a valid URL"),
    (
        "unclosed IPv6 data URL",
        ["backfill", "--cik", "320193", "--data-url", "http://[::1"],
        {},
        "not a valid URL",
    ),
    ("port out of range", ["ingest", "--edgar-url", "http://127.0.0.1:99999"], {}, "valid URL"),
    ("URL without host", ["ingest", "--edgar-url", "http://"], {}, "EDGAR base URL"),
    ("URL with spaces", ["ingest", "--edgar-url", "http://sec gov"], {}, "valid URL"),
    ("URL env", ["ingest"], {"FORM4_EDGAR_URL": "https://[sec.gov"}, "valid URL"),
    (
        "non-ASCII User-Agent",
        ["ingest", "--user-agent", "Acmé Research ops@acme.example"],
        {},
        "printable ASCII",
    ),
    (
        "non-UTF-8 User-Agent",
        ["ingest", "--user-agent", b"Acme \xff Research ops@acme.example"],
        {},
        "not valid UTF-8",
    ),
    (
        "header injection in the User-Agent",
        ["ingest", "--user-agent", "Acme ops@acme.example\r\nX-Evil: 1"],
        {},
        "printable ASCII",
    ),
    (
        "non-ASCII User-Agent in the environment",
        ["ingest"],
        {"SEC_USER_AGENT": "Acme Résearch ops@acme.example"},
        "printable ASCII",
    ),
    ("non-UTF-8 --db", ["ingest", "--db", b"\xff\xfe.duckdb"], {}, "not valid UTF-8"),
    ("non-UTF-8 --db for sql", ["sql", "select 1", "--db", b"w\xff.duckdb"], {}, "UTF-8"),
    (
        "non-UTF-8 --issuer",
        ["report", "--issuer", b"NW\xffTX", "--date", "2026-02-02"],
        {},
        "--issuer is not valid UTF-8",
    ),
    ("non-UTF-8 query", ["sql", b"select '\xff'"], {}, "query is not valid UTF-8"),
    ("non-UTF-8 --parquet", ["export", "--parquet", b"out\xff"], {}, "UTF-8"),
    ("non-UTF-8 FORM4_DB", ["ingest"], {"FORM4_DB": b"\xff.duckdb"}, "FORM4_DB is not valid"),
    ("empty FORM4_DB", ["ingest"], {"FORM4_DB": ""}, "FORM4_DB is empty"),
    ("blank FORM4_DB", ["sql", "select 1"], {"FORM4_DB": "  "}, "FORM4_DB is empty"),
    ("empty --db", ["ingest", "--db", ""], {}, "--db is empty"),
    ("non-UTF-8 FORM4_RAW_DIR", ["ingest"], {"FORM4_RAW_DIR": b"r\xff"}, "FORM4_RAW_DIR"),
    ("rate inf", ["ingest"], {"FORM4_MAX_RPS": "inf"}, "FORM4_MAX_RPS='inf' is not a finite"),
    ("rate nan", ["ingest"], {"FORM4_MAX_RPS": "nan"}, "FORM4_MAX_RPS"),
    ("rate huge", ["ingest"], {"FORM4_MAX_RPS": "1e9"}, "FORM4_MAX_RPS='1e9' must be between"),
    ("batch inf", ["ingest"], {"FORM4_BATCH_SIZE": "inf"}, "FORM4_BATCH_SIZE"),
    ("batch 1e400", ["ingest"], {"FORM4_BATCH_SIZE": "1e400"}, "FORM4_BATCH_SIZE"),
    ("batch fraction", ["ingest"], {"FORM4_BATCH_SIZE": "2.5"}, "whole number"),
    ("batch huge", ["ingest"], {"FORM4_BATCH_SIZE": "10" + "0" * 30}, "must be between"),
    ("retries inf", ["ingest"], {"FORM4_MAX_RETRIES": "inf"}, "FORM4_MAX_RETRIES"),
    ("timeout inf", ["ingest"], {"FORM4_TIMEOUT_S": "inf"}, "FORM4_TIMEOUT_S"),
    ("deadline inf", ["ingest"], {"FORM4_DEADLINE_S": "inf"}, "FORM4_DEADLINE_S"),
    ("deadline zero", ["ingest"], {"FORM4_DEADLINE_S": "0"}, "FORM4_DEADLINE_S"),
    ("pause 1e400", ["ingest"], {"FORM4_BLOCK_PAUSE_S": "1e400"}, "FORM4_BLOCK_PAUSE_S"),
    ("memory 1e15", ["ingest"], {"FORM4_DUCKDB_MEMORY_MB": "1e15"}, "FORM4_DUCKDB_MEMORY_MB"),
    (
        "memory 10^15",
        ["ingest"],
        {"FORM4_DUCKDB_MEMORY_MB": "1000000000000000"},
        "FORM4_DUCKDB_MEMORY_MB",
    ),
    ("workers inf", ["reprocess"], {"FORM4_WORKERS": "inf"}, "FORM4_WORKERS"),
    ("concurrency huge", ["ingest"], {"FORM4_CONCURRENCY": "100000"}, "FORM4_CONCURRENCY"),
    ("submission cap huge", ["ingest"], {"FORM4_MAX_SUBMISSION_BYTES": "1e30"}, "SUBMISSION"),
    ("sql timeout inf", ["sql", "select 1"], {"FORM4_SQL_TIMEOUT_S": "inf"}, "SQL_TIMEOUT"),
    ("sql --timeout inf", ["sql", "select 1", "--timeout", "inf"], {}, "seconds"),
    ("sql --timeout -1", ["sql", "select 1", "--timeout", "-1"], {}, "seconds"),
]


def _bytes(value: Arg) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


@pytest.mark.parametrize(
    ("args", "environ", "text"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_bad_argument_or_setting_gives_one_line_and_exit_2(
    args: list[Arg], environ: dict[str, Arg], text: str, tmp_path: Path
) -> None:
    """Guards against a traceback (or a silently accepted value: a year-1 date, an empty
    FORM4_DB, an infinite rate) in front of a user who mistyped or was handed bad input."""
    env: dict[bytes, bytes] = {
        b"PATH": os.environb.get(b"PATH", b""),
        b"PYTHONPATH": str(ROOT).encode(),
        b"HOME": str(tmp_path).encode(),
        b"LC_ALL": b"C.UTF-8",
        b"SEC_USER_AGENT": UA.encode(),
        b"FORM4_EDGAR_URL": b"http://127.0.0.1:9",  # never reached: nothing listens there
        b"FORM4_DATA_URL": b"http://127.0.0.1:9",
        b"FORM4_RATE_DIR": b"none",
        b"PREFECT_HOME": str(tmp_path / "prefect").encode(),
    }
    env.update({k.encode(): _bytes(v) for k, v in environ.items()})
    result = subprocess.run(
        [_bytes(a) for a in [*FORM4, *args]],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        check=False,
    )
    err = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err
    assert result.returncode == 2, err
    assert err.count("\n") == 1 and err.startswith("form4: error: "), err
    assert text in err
    assert result.stdout == b""
