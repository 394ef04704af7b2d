"""Where form4's log lines go: Prefect's run logger inside a flow run, stderr otherwise.

Library code logs through ``logging.getLogger("form4.<module>")`` and never prints. Two
handlers on the ``form4`` logger decide where the lines land:

- ``to_run_logger()``, entered by each flow (``flows.ingest_flow``), forwards every form4
  record (a reject and its reason, a retry, a block pause, the progress lines) to Prefect's run
  logger: the task run's when the record is made inside a task's thread, else the flow run's
  (fetch threads have no Prefect context). They then appear in ``prefect flow-run logs`` and
  the UI, without ``PREFECT_LOGGING_EXTRA_LOGGERS``.
- ``log_to_stderr()``, installed by the ``form4`` command, writes the lines to stderr as
  ``form4: ...`` when no flow run takes them (``form4 reprocess``, ``form4 export``), and
  above the progress bar while one is shown (``flows.pipeline.progress``).

Neighbours: ``flows.ingest_flow`` (the flows), ``flows.cli.main`` (the command).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["LOGGER_NAME", "log_to_stderr", "to_run_logger"]

LOGGER_NAME = "form4"

_state = threading.local()
_forwarding_lock = threading.Lock()
_forwarding = 0  # flow runs in this process currently taking form4's records


class _RunLoggerHandler(logging.Handler):
    """Forwards records to the current Prefect run logger, or the flow's when there is none."""

    def __init__(self, flow_logger: Any) -> None:
        super().__init__(logging.DEBUG)
        self._flow_logger = flow_logger

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(_state, "busy", False):
            return  # a record made while forwarding one (Prefect's own logging): drop it
        _state.busy = True
        try:
            from prefect import get_run_logger

            try:
                target = get_run_logger()
            except Exception:  # no Prefect context in this thread (a fetch thread)
                target = self._flow_logger
            target.log(record.levelno, "%s", record.getMessage())
        except Exception:
            self.handleError(record)
        finally:
            _state.busy = False


@contextmanager
def to_run_logger() -> Iterator[None]:
    """Inside a flow run: form4's INFO and above go to Prefect's run logger (and nowhere
    else) until the block ends."""
    global _forwarding
    from prefect import get_run_logger

    handler = _RunLoggerHandler(get_run_logger())
    logger = logging.getLogger(LOGGER_NAME)
    level, propagate = logger.level, logger.propagate
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    # Prefect's root console handler would print each warning a second time beside the run
    # logger's own console line.
    logger.propagate = False
    with _forwarding_lock:
        _forwarding += 1
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
        with _forwarding_lock:
            _forwarding -= 1


class _StderrHandler(logging.Handler):
    """``form4: <message>`` (``form4: warning: ...`` for warnings) on the current stderr, or
    through the progress bar's console while one is shown; silent while a flow run takes
    the records."""

    def emit(self, record: logging.LogRecord) -> None:
        if _forwarding:
            return
        try:
            from form4.flows.pipeline.progress import live_console

            level = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
            line = f"form4: {level}{record.getMessage()}"
            console = live_console()
            if console is not None:
                console.print(line, markup=False, highlight=False, emoji=False, soft_wrap=True)
            else:
                sys.stderr.write(line + "\n")
                sys.stderr.flush()
        except Exception:
            self.handleError(record)


def log_to_stderr(level: int = logging.INFO) -> None:
    """The command line's choice: form4's lines of ``level`` and above to stderr (once)."""
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        logger.addHandler(_StderrHandler(level))
    if logger.level == logging.NOTSET or logger.level > level:
        logger.setLevel(level)
