"""Steps that ``prefect deploy`` runs from ``prefect.yaml`` (its ``build`` section).

``check_settings`` stops a deployment whose settings are missing before anything is stored:
without it, ``prefect deploy`` with no ``FORM4_HOME`` succeeded and saved a literal
``{{ $FORM4_HOME }}`` as the worker's working directory, and an empty ``FORM4_DB``. The rules
live in ``flows.config.check_deploy_environment``. Neighbours: ``prefect.yaml``,
``flows.ingest_flow`` (the flows deployed).
"""

from __future__ import annotations

import os
import sys

from form4.flows.config import check_deploy_environment
from form4.parsers.errors import ConfigError

__all__ = ["check_settings"]


def check_settings() -> dict[str, str]:
    """Fail ``prefect deploy`` with a one-line reason when a setting the deployment stores is
    missing or wrong; returns the checked values as step outputs."""
    try:
        return check_deploy_environment(os.environ)
    except ConfigError as exc:
        sys.stderr.write(f"form4: error: {exc}\n")
        sys.stderr.flush()
        raise
