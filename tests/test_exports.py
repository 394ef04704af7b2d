"""Public names: every package declares ``__all__`` and every name in it exists."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

PACKAGES = ["flows", "parsers", "warehouse"]


def modules() -> list[str]:
    names = []
    for package in PACKAGES:
        names.append(package)
        mod = importlib.import_module(package)
        names += [f"{package}.{m.name}" for m in pkgutil.iter_modules(mod.__path__)]
    return names


@pytest.mark.parametrize("name", modules())
def test_every_module_declares_all_and_exports_only_real_names(name: str) -> None:
    """Guards against a stale __all__ entry breaking 'from x import *' for users."""
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(set(exported)) == len(exported), f"{name}.__all__ repeats a name"
    for attr in exported:
        assert hasattr(module, attr), f"{name}.{attr}"


def test_parsers_never_import_flows_or_warehouse() -> None:
    """Guards against the one-way data flow (flows -> parsers -> warehouse) being broken."""
    from pathlib import Path

    root = Path(importlib.import_module("parsers").__file__ or "").parent
    for path in root.glob("*.py"):
        text = path.read_text()
        assert "from flows" not in text and "import flows" not in text, path
        assert "from warehouse" not in text and "import warehouse" not in text, path
    wroot = Path(importlib.import_module("warehouse").__file__ or "").parent
    for path in wroot.glob("*.py"):
        assert "from flows" not in path.read_text(), path


def test_the_cli_does_not_import_prefect_until_a_flow_runs() -> None:
    """Guards against every 'form4 sql' or bad argument paying Prefect's import time."""
    import subprocess
    import sys

    code = "import sys, flows.cli; print('prefect' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"
