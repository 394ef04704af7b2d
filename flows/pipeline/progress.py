"""Progress of long runs: a bar on a terminal, plain log lines under Prefect or in a pipe.

``Progress.update(done)`` redraws one line in place when the stream is a TTY and otherwise
logs a line at most every ten percent (or every call when the total is unknown), so a
backfill shows its pace in a terminal without flooding a worker's log. Neighbours:
``flows.pipeline.backfill`` (reports batches here), ``flows.cli.main`` (creates one per command).
"""

from __future__ import annotations

import logging
import time
from typing import TextIO

__all__ = ["Progress"]

log = logging.getLogger("form4.progress")


class Progress:
    def __init__(
        self, label: str, stream: TextIO, *, total: int | None = None, width: int = 30
    ) -> None:
        self.label = label
        self.stream = stream
        self.total = total
        self.width = width
        self.done = 0
        self.interactive = bool(getattr(stream, "isatty", lambda: False)())
        self._started = time.monotonic()
        self._last_logged = -1

    def set_total(self, total: int) -> None:
        self.total = total

    def advance(self, n: int) -> None:
        self.update(self.done + n)

    def update(self, done: int) -> None:
        self.done = done
        elapsed = max(time.monotonic() - self._started, 1e-9)
        rate = done / elapsed
        if self.interactive:
            if self.total:
                filled = min(self.width, self.width * done // self.total)
                bar = "#" * filled + "." * (self.width - filled)
                text = f"\r{self.label} [{bar}] {done}/{self.total} ({rate:.1f}/s)"
            else:
                text = f"\r{self.label} {done} ({rate:.1f}/s)"
            self.stream.write(text)
            self.stream.flush()
            return
        step = 10 * done // self.total if self.total else done
        if step != self._last_logged:
            self._last_logged = step
            of = f"/{self.total}" if self.total else ""
            log.info("%s: %d%s (%.1f/s)", self.label, done, of, rate)

    def close(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()
