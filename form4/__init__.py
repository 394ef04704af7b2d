"""form4: SEC EDGAR insider filings (Forms 3, 4 and 5) into DuckDB and Parquet.

Installed, form4 is one import package with three subpackages, so its names never collide with
other distributions' generic ``flows``, ``parsers`` or ``warehouse``:

- ``parsers`` (the top-level folder ``parsers/``): pure parsing, bytes in, records out;
- ``warehouse`` (``warehouse/``): DuckDB tables, Arrow loads, Parquet, views;
- ``flows`` (``flows/``): EDGAR access (``flows/edgar``), orchestration
  (``flows/pipeline`` and the Prefect flows), the command line (``flows/cli``).

In a checkout, ``form4/flows``, ``form4/parsers`` and ``form4/warehouse`` are symbolic links to
the top-level folders, so the source tree imports exactly as an installed copy does;
``pyproject.toml`` maps the same folders into the wheel.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("form4")
except PackageNotFoundError:  # a checkout that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
