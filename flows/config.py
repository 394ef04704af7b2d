"""Settings of a form4 run, read once and explicitly at flow or command start.

``Settings.from_env`` takes the environment as an argument (never ``os.environ`` at import
time) and the command-line overrides; nothing here writes the environment. Neighbours:
``flows.edgar.client`` builds the HTTP client from these settings, ``flows.pipeline.ingest``
runs with them.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from form4.parsers.errors import ConfigError

__all__ = [
    "DEPLOY_SETTINGS",
    "DEFAULT_DATA_URL",
    "DEFAULT_EDGAR_URL",
    "DEFAULT_FORMS",
    "SUPPORTED_FORMS",
    "EARLIEST_DAY",
    "Settings",
    "check_deploy_environment",
    "check_day",
    "check_text",
    "default_workers",
    "parse_date",
    "parse_forms",
    "validate_user_agent",
]

DEFAULT_EDGAR_URL = "https://www.sec.gov"
DEFAULT_DATA_URL = "https://data.sec.gov"
DEFAULT_FORMS: tuple[str, ...] = ("4", "4/A")
SUPPORTED_FORMS: tuple[str, ...] = ("3", "3/A", "4", "4/A", "5", "5/A")

_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[A-Za-z]{2,}")
_PRINTABLE_ASCII = re.compile(r"[ -~]*")
EARLIEST_DAY = date(1993, 1, 1)  # EDGAR's first electronic filings


def check_text(value: str, what: str) -> str:
    """``value`` as given, or a ConfigError when it is not valid UTF-8 (a command-line argument
    or environment variable in another encoding reaches Python with lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(f"{what} is not valid UTF-8") from None
    return value


def check_day(day: date, what: str, *, today: date | None = None) -> date:
    """A day EDGAR can have filings for: 1993-01-01 to tomorrow (a day ahead of UTC)."""
    latest = (today or date.today()) + timedelta(days=1)
    if not EARLIEST_DAY <= day <= latest:
        raise ConfigError(f"{what} {day} is outside {EARLIEST_DAY}..{latest}")
    return day


def validate_user_agent(user_agent: str | None) -> str:
    """EDGAR blocks undeclared tools: the User-Agent must name a company or person and an email."""
    if not user_agent or not user_agent.strip():
        raise ConfigError(
            "no User-Agent: set SEC_USER_AGENT or pass --user-agent, "
            'e.g. "Acme Research ops@acme.example" (EDGAR blocks undeclared tools)'
        )
    user_agent = check_text(user_agent, "the User-Agent").strip()
    if not _PRINTABLE_ASCII.fullmatch(user_agent):
        raise ConfigError(
            f"User-Agent {user_agent!r} must be printable ASCII (HTTP headers are ASCII); "
            'e.g. "Acme Research ops@acme.example"'
        )
    if not _EMAIL.search(user_agent):
        raise ConfigError(
            f"User-Agent {user_agent!r} has no email address; EDGAR requires one, "
            'e.g. "Acme Research ops@acme.example"'
        )
    return user_agent


def parse_date(text: str) -> date:
    """A YYYY-MM-DD date, or a ConfigError saying what was expected."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"invalid date {text!r} (expected YYYY-MM-DD)") from None


def parse_forms(text: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """A comma-separated list of ownership form types, e.g. ``4,4/A,3``."""
    items = text.split(",") if isinstance(text, str) else list(text)
    forms: list[str] = []
    for item in items:
        form = str(item).strip().upper()
        if not form:
            continue
        if form not in SUPPORTED_FORMS:
            raise ConfigError(
                f"unsupported form type {form!r} (choose from {', '.join(SUPPORTED_FORMS)})"
            )
        if form not in forms:
            forms.append(form)
    if not forms:
        raise ConfigError("no form types given")
    return tuple(forms)


def _url(url: str, what: str) -> str:
    url = check_text(url, f"the {what} URL").strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{what} URL {url!r} must start with http:// or https://")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ConfigError(f"{what} URL {url!r} is not a valid URL: {exc}") from None
    if not parts.hostname or not url.isascii() or any(c.isspace() for c in url):
        raise ConfigError(f"{what} URL {url!r} is not a valid URL (scheme://host[:port][/path])")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(f"{what} URL {url!r} must not carry a query, fragment or user")
    return url


def _path(raw: str | Path, what: str) -> Path:
    text = check_text(str(raw), what)
    if not text.strip():
        raise ConfigError(f"{what} is empty")
    return Path(text)


def _float(
    env: Mapping[str, str], name: str, default: float, *, minimum: float, maximum: float
) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"{name}={raw!r} is not a finite number")
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name}={raw!r} must be between {minimum:g} and {maximum:g}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name}={raw!r} must be between {minimum} and {maximum}")
    return value


_LOOPBACK = ("localhost", "::1")


def _rate_dir(env: Mapping[str, str], edgar_url: str) -> Path | None:
    """``FORM4_RATE_DIR``, else ``$XDG_CACHE_HOME/form4``, else ``$HOME/.cache/form4``;
    ``none`` (or no home at all) keeps the limit to this process. A loopback EDGAR (the demo's
    or a test's mirror, on a new port each run) shares only through an explicit directory."""
    raw = check_text(env.get("FORM4_RATE_DIR", ""), "FORM4_RATE_DIR").strip()
    if raw.lower() == "none":
        return None
    if raw:
        return Path(raw)
    host = urlsplit(edgar_url).hostname or ""
    if host in _LOOPBACK or host.startswith("127."):
        return None
    cache = env.get("XDG_CACHE_HOME", "").strip()
    if cache:
        return Path(cache) / "form4"
    home = env.get("HOME", "").strip()
    return Path(home) / ".cache" / "form4" if home else None


def _parquet_target(raw: str | None) -> Path | str | None:
    """``FORM4_PARQUET_DIR``: a directory, or an ``s3://bucket/prefix`` URL kept as text."""
    if not raw or not raw.strip():
        return None
    raw = raw.strip()
    return raw if raw.startswith("s3://") else Path(raw)


_STORAGE_VERSION = re.compile(r"v\d+\.\d+\.\d+|latest")


def _storage_version(env: Mapping[str, str]) -> str:
    """``FORM4_DUCKDB_STORAGE``: a DuckDB version such as ``v1.4.0``, or ``latest``."""
    raw = env.get("FORM4_DUCKDB_STORAGE", "").strip()
    if not raw:
        return "v1.4.0"
    if not _STORAGE_VERSION.fullmatch(raw):
        raise ConfigError(
            f"FORM4_DUCKDB_STORAGE={raw!r} is not a DuckDB version such as v1.4.0, or latest"
        )
    return raw


# What `prefect deploy` stores from the deploying shell (prefect.yaml): the checkout the worker
# runs the flows from, and the warehouse the flow runs write.
DEPLOY_SETTINGS = ("FORM4_HOME", "FORM4_DB")


def check_deploy_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The settings ``prefect deploy`` stores, checked: ``FORM4_HOME`` a form4 checkout (it
    holds ``flows/ingest_flow.py``) and ``FORM4_DB`` an absolute path. ConfigError says which
    is wrong and what to set."""
    values = {name: env.get(name, "").strip() for name in DEPLOY_SETTINGS}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise ConfigError(
            f"{' and '.join(missing)} not set: prefect deploy stores them in the deployment, "
            "e.g. FORM4_HOME=$PWD FORM4_DB=$PWD/form4.duckdb prefect deploy --name nightly"
        )
    home = Path(values["FORM4_HOME"])
    if not (home / "flows" / "ingest_flow.py").is_file():
        raise ConfigError(
            f"FORM4_HOME={values['FORM4_HOME']!r} is not a form4 checkout "
            "(no flows/ingest_flow.py there): the worker runs the flows from it"
        )
    if not Path(values["FORM4_DB"]).is_absolute():
        raise ConfigError(
            f"FORM4_DB={values['FORM4_DB']!r} must be an absolute path "
            "(the worker's flow runs start in FORM4_HOME, not here)"
        )
    return values


def default_workers() -> int:
    """Worker processes for ``form4 reprocess``: one per CPU, at most 4 (each holds a batch)."""
    return min(os.cpu_count() or 1, 4)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a run needs; build it with ``Settings.from_env``."""

    user_agent: str
    db_path: Path = Path("form4.duckdb")
    raw_dir: Path | None = None  # default: "<db stem>.raw" beside the database
    # when set, the nightly flow exports Parquet here: a directory (Path) or s3://bucket/prefix
    parquet_dir: Path | str | None = None
    edgar_url: str = DEFAULT_EDGAR_URL
    data_url: str = DEFAULT_DATA_URL
    forms: tuple[str, ...] = DEFAULT_FORMS
    max_rps: float = 10.0
    block_pause_s: float = 600.0
    max_blocks: int = 6
    max_retries: int = 5
    retry_base_s: float = 1.0
    retry_cap_s: float = 60.0
    timeout_s: float = 30.0
    deadline_s: float = 120.0  # one attempt's whole exchange; default 4 x timeout_s
    concurrency: int = 8
    batch_size: int = 250
    reprocess_batch_size: int = 5000  # no network to wait for: bigger batches load faster
    workers: int = field(default_factory=default_workers)  # reprocess; 0: in this process
    duckdb_memory_mb: int = 512  # DuckDB's memory limit in a form4 run: bounds RSS
    # storage format of a new warehouse file: the oldest DuckDB that can open it
    duckdb_storage: str = "v1.4.0"
    max_submission_bytes: int = 50 * 1024 * 1024
    max_xml_bytes: int = 10 * 1024 * 1024
    max_dataset_bytes: int = 1 << 30  # one quarter's data set ZIP, streamed to disk
    max_index_bytes: int = 256 * 1024 * 1024  # a quarter's full index, a submissions JSON
    sql_timeout_s: float = 60.0  # form4 sql: a query is interrupted after this; 0: never
    # where processes of this user share the EDGAR rate limit; None: this process only
    rate_dir: Path | None = None
    # an S3-compatible server for s3:// exports (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL)
    s3_endpoint_url: str | None = None
    s3_region: str | None = None  # AWS_REGION / AWS_DEFAULT_REGION
    # how long to wait for a warehouse another process holds; None: 60 s to read, 600 s to write
    lock_wait_s: float | None = None
    # the proxy the environment names for the EDGAR URL (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY;
    # NO_PROXY honoured); form4's own transport goes through it, rate limit and all
    proxy: str | None = None

    def wait_s(self, *, writer: bool) -> float:
        """How long a reader or a writer waits for the DuckDB file (``FORM4_LOCK_WAIT_S``)."""
        if self.lock_wait_s is not None:
            return self.lock_wait_s
        return 600.0 if writer else 60.0

    @property
    def raw_root(self) -> Path:
        """Where raw submissions are kept: beside the warehouse unless configured."""
        if self.raw_dir is not None:
            return self.raw_dir
        return self.db_path.with_name(self.db_path.stem + ".raw")

    @property
    def datasets_root(self) -> Path:
        """Where the data set ZIPs are kept (``form4 reprocess --datasets`` reads them)."""
        return self.raw_root / "datasets"

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        *,
        user_agent: str | None = None,
        db_path: str | Path | None = None,
        edgar_url: str | None = None,
        data_url: str | None = None,
        forms: tuple[str, ...] | None = None,
        require_user_agent: bool = True,
    ) -> Settings:
        """Arguments win over the environment; the environment wins over defaults."""
        ua = user_agent if user_agent else env.get("SEC_USER_AGENT")
        ua = validate_user_agent(ua) if require_user_agent else (ua or "")
        url = _url(edgar_url or env.get("FORM4_EDGAR_URL") or DEFAULT_EDGAR_URL, "EDGAR base")
        data = _url(data_url or env.get("FORM4_DATA_URL") or DEFAULT_DATA_URL, "data.sec.gov")
        if db_path is not None:
            db = _path(db_path, "--db")
        elif "FORM4_DB" in env:  # set but empty is a mistake, not "the default"
            db = _path(env["FORM4_DB"], "FORM4_DB")
        else:
            db = Path("form4.duckdb")
        raw_env = env.get("FORM4_RAW_DIR")
        parquet_env = env.get("FORM4_PARQUET_DIR")
        timeout_s = _float(env, "FORM4_TIMEOUT_S", 30.0, minimum=0.1, maximum=3600.0)
        return cls(
            user_agent=ua,
            db_path=db,
            raw_dir=_path(raw_env, "FORM4_RAW_DIR") if raw_env else None,
            parquet_dir=_parquet_target(check_text(parquet_env, "FORM4_PARQUET_DIR"))
            if parquet_env
            else None,
            edgar_url=url,
            data_url=data,
            forms=forms if forms is not None else DEFAULT_FORMS,
            max_rps=_float(env, "FORM4_MAX_RPS", 10.0, minimum=0.01, maximum=1000.0),
            block_pause_s=_float(env, "FORM4_BLOCK_PAUSE_S", 600.0, minimum=0.0, maximum=86400),
            max_blocks=_int(env, "FORM4_MAX_BLOCKS", 6, minimum=1, maximum=1000),
            max_retries=_int(env, "FORM4_MAX_RETRIES", 5, minimum=0, maximum=100),
            retry_base_s=_float(env, "FORM4_RETRY_BASE_S", 1.0, minimum=0.0, maximum=3600.0),
            retry_cap_s=_float(env, "FORM4_RETRY_CAP_S", 60.0, minimum=0.0, maximum=86400),
            timeout_s=timeout_s,
            deadline_s=_float(env, "FORM4_DEADLINE_S", 4 * timeout_s, minimum=0.1, maximum=86400.0),
            concurrency=_int(env, "FORM4_CONCURRENCY", 8, minimum=1, maximum=64),
            batch_size=_int(env, "FORM4_BATCH_SIZE", 250, minimum=1, maximum=10_000),
            reprocess_batch_size=_int(
                env, "FORM4_REPROCESS_BATCH_SIZE", 5000, minimum=1, maximum=1_000_000
            ),
            workers=_int(env, "FORM4_WORKERS", default_workers(), minimum=0, maximum=256),
            # below 256 MB DuckDB cannot hold its checkpoint (a commit fails to pin a block)
            duckdb_memory_mb=_int(
                env, "FORM4_DUCKDB_MEMORY_MB", 512, minimum=256, maximum=1024 * 1024
            ),
            duckdb_storage=_storage_version(env),
            max_submission_bytes=_int(
                env, "FORM4_MAX_SUBMISSION_BYTES", 50 << 20, minimum=1024, maximum=1 << 30
            ),
            max_xml_bytes=_int(env, "FORM4_MAX_XML_BYTES", 10 << 20, minimum=1024, maximum=1 << 30),
            max_index_bytes=_int(
                env, "FORM4_MAX_INDEX_BYTES", 256 << 20, minimum=1024, maximum=4 << 30
            ),
            max_dataset_bytes=_int(
                env, "FORM4_MAX_DATASET_BYTES", 1 << 30, minimum=1024, maximum=1 << 40
            ),
            sql_timeout_s=_float(env, "FORM4_SQL_TIMEOUT_S", 60.0, minimum=0.0, maximum=86400.0),
            rate_dir=_rate_dir(env, url),
            s3_endpoint_url=env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None,
            s3_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            lock_wait_s=(
                _float(env, "FORM4_LOCK_WAIT_S", 0.0, minimum=0.0, maximum=86400.0)
                if env.get("FORM4_LOCK_WAIT_S", "").strip()
                else None
            ),
            proxy=proxy_for(url, env),
        )


def proxy_for(url: str, env: Mapping[str, str]) -> str | None:
    """The proxy ``env`` names for ``url``, as httpx and curl read them: ``HTTPS_PROXY`` or
    ``HTTP_PROXY`` by the URL's scheme, else ``ALL_PROXY`` (either case), unless ``NO_PROXY``
    lists the host (a name, a domain suffix, or ``*``). Only http(s) proxies (ConfigError)."""
    low = {k.lower(): v.strip() for k, v in env.items() if v and v.strip()}
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    for pattern in low.get("no_proxy", "").split(","):
        pattern = pattern.strip().lower().lstrip(".")
        if pattern == "*" or (pattern and (host == pattern or host.endswith("." + pattern))):
            return None
    proxy = low.get(f"{scheme}_proxy") or low.get("all_proxy")
    if proxy is None:
        return None
    if "://" not in proxy:
        proxy = "http://" + proxy  # as curl reads "proxy.example:3128"
    if not proxy.lower().startswith(("http://", "https://")):
        raise ConfigError(f"proxy {proxy!r}: form4 supports http:// and https:// proxies only")
    return proxy
