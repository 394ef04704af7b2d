"""Shared fixtures: the real EDGAR corpus beside the checkout, a clean environment per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
CORPUS = SHARED / "corpus"


def corpus_dir() -> Path:
    """The real corpus; under CI its absence is a failure, elsewhere a skip."""
    if not (CORPUS / "MANIFEST.tsv").is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the shared corpus is missing at {CORPUS} (required when CI=true)")
        pytest.skip(f"the shared corpus is not at {CORPUS}")
    return CORPUS


def corpus_files(subdir: str, pattern: str = "*") -> list[Path]:
    """Files of a corpus folder, for parametrizing at collection time (may be empty)."""
    return sorted((CORPUS / subdir).glob(pattern))


@pytest.fixture
def corpus() -> Path:
    return corpus_dir()


@pytest.fixture(scope="session")
def _rate_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rate")


@pytest.fixture(autouse=True)
def _restore_environ(_rate_dir: Path) -> Iterator[None]:
    """Every test gets back the environment it started with. Runs that read the environment
    share their rate limit in a directory of the test session, not in the user's cache."""
    saved = dict(os.environ)
    os.environ["FORM4_RATE_DIR"] = str(_rate_dir)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


# Tests are offline: Prefect's SDK usage report (DO_NOT_TRACK) and its server's (the setting)
# are off for the test process and every process it starts, before Prefect is imported.
TELEMETRY_OFF = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def pytest_configure(config: pytest.Config) -> None:
    """Prefect's telemetry off (see TELEMETRY_OFF). Under CI, property tests run a fixed set
    of examples so a red build is reproducible."""
    for name, value in TELEMETRY_OFF.items():
        os.environ[name] = value
    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, print_blob=True)
    if os.environ.get("CI") == "true":
        settings.load_profile("ci")
