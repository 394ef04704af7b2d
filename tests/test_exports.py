"""Public names: every package declares ``__all__`` and every name in it exists."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

PACKAGES = ["form4.flows", "form4.parsers", "form4.warehouse"]


def modules() -> list[str]:
    names = ["form4"]
    for package in PACKAGES:
        names.append(package)
        mod = importlib.import_module(package)
        names += [
            m.name
            for m in pkgutil.walk_packages(mod.__path__, prefix=f"{package}.")
            if not m.name.endswith("__main__")
        ]
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

    root = Path(importlib.import_module("form4.parsers").__file__ or "").parent
    for path in root.rglob("*.py"):
        text = path.read_text()
        assert "form4.flows" not in text.replace("``form4.flows", ""), path
        assert "import form4.warehouse" not in text and "from form4.warehouse" not in text, path
    wroot = Path(importlib.import_module("form4.warehouse").__file__ or "").parent
    for path in wroot.rglob("*.py"):
        text = path.read_text()
        assert "from form4.flows" not in text and "import form4.flows" not in text, path


def test_form4_installs_one_import_name_and_no_generic_ones() -> None:
    """Guards against the generic names ``flows``, ``parsers`` or ``warehouse`` being installed
    (or imported) at the top level, where they collide with other distributions' packages."""
    import sys
    from pathlib import Path

    import form4.flows.cli.main  # noqa: F401  (imports most of form4)

    for generic in ("flows", "parsers", "warehouse"):
        assert generic not in sys.modules, generic
    root = Path(__file__).resolve().parents[1]
    for path in [
        *root.glob("flows/**/*.py"),
        *root.glob("parsers/*.py"),
        *root.glob("warehouse/*.py"),
    ]:
        for line in path.read_text().splitlines():
            stripped = line.strip()
            for generic in ("flows", "parsers", "warehouse"):
                assert not stripped.startswith((f"from {generic}", f"import {generic}")), (
                    path,
                    line,
                )


def test_the_cli_does_not_import_prefect_until_a_flow_runs() -> None:
    """Guards against every 'form4 sql' or bad argument paying Prefect's import time."""
    import subprocess
    import sys

    code = "import sys, form4.flows.cli.main; print('prefect' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"
