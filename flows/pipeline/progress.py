"""Progress of long runs through one small interface, rendered two ways, and quiet empty days.

``Progress`` counts work done against a total that may grow as it becomes known (a backfill
learns each day's filings when it reads the day's index): ``add_total(n)``, ``advance(n)``,
``close()``. On a terminal it is a ``rich.progress`` bar (label, bar, done/total, rate, time
left) redrawn on one line; log lines written while it is shown (form4's and
Prefect's console lines) are printed above it instead of breaking it. Anywhere else (a pipe, a
file, a Prefect worker) it logs a plain line through the ``form4.progress`` logger every
``every_fraction`` of the total (at least ``min_step`` items apart) or every ``every_s``
seconds, whichever comes first, and one at the end; inside a flow run those lines reach
Prefect's run logger (``flows.runlog``).

``QuietDays`` collapses a run of days without filings into one line
("2026-01-01..2026-06-30: 0 filings on 125 days") instead of one line per day.

Neighbours: ``flows.pipeline.ingest`` and ``flows.pipeline.backfill`` report filings here,
``flows.ingest_flow`` creates one per flow run, ``flows.runlog`` routes the log lines.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from types import TracebackType
from typing import Any, Protocol, TextIO

__all__ = ["Progress", "ProgressSink", "QuietDays", "format_duration", "live_console"]

log = logging.getLogger("form4.progress")

_live_lock = threading.Lock()
_live: list[Any] = []  # the rich Console of the bar being shown, if any


def live_console() -> Any | None:
    """The console of the progress bar on screen (log lines go through it), or None."""
    with _live_lock:
        return _live[-1] if _live else None


class ProgressSink(Protocol):
    """What the pipeline needs of a progress display."""

    def add_total(self, n: int) -> None: ...

    def advance(self, n: int = 1) -> None: ...

    def describe(self, label: str) -> None: ...


def format_duration(seconds: float) -> str:
    """``75`` -> ``1m15s``; ``3725`` -> ``1h02m``; under a minute ``12s``."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class Progress:
    """Work done of a (growing) total; a bar on a terminal, plain log lines elsewhere.

    Thread-safe: fetch threads call ``advance`` concurrently. ``interactive`` defaults to
    whether ``stream`` is a terminal; ``clock`` is injectable for tests of the plain lines.
    """

    def __init__(
        self,
        label: str,
        stream: TextIO | None = None,
        *,
        total: int | None = None,
        unit: str = "filings",
        every_s: float = 30.0,
        every_fraction: float = 0.1,
        min_step: int = 50,
        interactive: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        auto_refresh: bool = True,
        width: int | None = None,
    ) -> None:
        self.name = label  # the run's name; ``describe`` adds what it is doing now
        self.label = label
        self.min_step = min_step
        self.stream = stream if stream is not None else sys.stderr
        self.total = total
        self.unit = unit
        self.every_s = every_s
        self.every_fraction = every_fraction
        self.done = 0
        if interactive is None:
            interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interactive = interactive
        self._clock = clock
        self._lock = threading.Lock()
        self._started = clock()
        self._last_line_at = self._started
        self._last_line_done = 0
        self._closed = False
        self._auto_refresh = auto_refresh
        self._width = width
        self._bar: Any = None
        self._task: Any = None
        self._redirected: list[tuple[Any, str, Any]] = []

    # ------------------------------------------------------------------ counting

    def set_total(self, total: int) -> None:
        with self._lock:
            self.total = total
            self._render_bar()

    def add_total(self, n: int) -> None:
        with self._lock:
            self.total = (self.total or 0) + n
            self._render_bar()

    def describe(self, label: str) -> None:
        """A new label, e.g. the day being ingested."""
        with self._lock:
            self.label = f"{self.name} {label}"
            self._render_bar()

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self.done += n
            self._progressed()

    def update(self, done: int) -> None:
        with self._lock:
            self.done = done
            self._progressed()

    def _progressed(self) -> None:
        if self.interactive:
            self._render_bar()
            return
        now = self._clock()
        due = now - self._last_line_at >= self.every_s
        if self.total and self.every_fraction > 0:
            step = max(1.0, float(self.min_step), self.total * self.every_fraction)
            due = due or int(self.done // step) != int(self._last_line_done // step)
        if due and self.done != self._last_line_done:
            self._plain_line(now)

    # ------------------------------------------------------------------ plain lines

    def rate(self, now: float | None = None) -> float:
        elapsed = (self._clock() if now is None else now) - self._started
        return self.done / elapsed if elapsed > 0 else 0.0

    def _plain_line(self, now: float, *, final: bool = False) -> None:
        self._last_line_at = now
        self._last_line_done = self.done
        rate = self.rate(now)
        elapsed = format_duration(now - self._started)
        if final:
            log.info(
                "%s: %s %s in %s (%.1f/s)", self.name, f"{self.done:,}", self.unit, elapsed, rate
            )
            return
        if self.total:
            pct = min(100, 100 * self.done // self.total)
            left = (self.total - self.done) / rate if rate > 0 else None
            eta = f", about {format_duration(left)} left" if left is not None else ""
            log.info(
                "%s: %s/%s %s (%d%%), %.1f/s%s",
                self.label,
                f"{self.done:,}",
                f"{self.total:,}",
                self.unit,
                pct,
                rate,
                eta,
            )
        else:
            log.info("%s: %s %s, %.1f/s", self.label, f"{self.done:,}", self.unit, rate)

    # ------------------------------------------------------------------ the bar

    def _render_bar(self) -> None:
        if not self.interactive or self._closed:
            return
        if self._bar is None:
            self._start_bar()
        self._bar.update(self._task, completed=self.done, total=self.total, description=self.label)
        if not self._auto_refresh:
            self._bar.refresh()

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            ProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress
        from rich.text import Text

        class RateColumn(ProgressColumn):
            def render(self, task: Any) -> Text:
                speed = task.finished_speed or task.speed
                return Text(f"{speed:,.1f}/s" if speed else "-/s")

        console = Console(file=self.stream, force_terminal=True, width=self._width)
        self._bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            RateColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=console,
            auto_refresh=self._auto_refresh,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task = self._bar.add_task(self.label, total=self.total)
        self._bar.start()
        self._redirect_log_handlers(console)
        with _live_lock:
            _live.append(console)

    def _redirect_log_handlers(self, console: Any) -> None:
        """Point the logging handlers that write to this terminal (Prefect's console handler,
        any StreamHandler) at the bar's console for as long as it is shown, so their lines
        appear above the bar instead of being drawn over by it."""
        from rich.console import Console

        terminals = {id(self.stream), id(sys.__stderr__), id(sys.__stdout__)}
        proxy = _ConsoleWriter(console)
        loggers = [logging.getLogger()] + [
            lg
            for lg in logging.Logger.manager.loggerDict.values()
            if isinstance(lg, logging.Logger)
        ]
        for logger in loggers:
            for handler in logger.handlers:
                inner = getattr(handler, "console", None)
                if isinstance(inner, Console) and id(inner.file) in terminals:
                    self._redirected.append((inner, "file", inner.file))
                    inner.file = proxy  # type: ignore[assignment]
                elif isinstance(handler, logging.StreamHandler) and id(handler.stream) in terminals:
                    self._redirected.append((handler, "stream", handler.stream))
                    handler.setStream(proxy)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._bar is not None:
                self._bar.refresh()
                self._bar.stop()
                with _live_lock:
                    if self._bar.console in _live:
                        _live.remove(self._bar.console)
                for target, attribute, old in reversed(self._redirected):
                    if attribute == "stream":
                        target.setStream(old)
                    else:
                        target.file = old
                self._redirected.clear()
            elif not self.interactive and self.done:
                self._plain_line(self._clock(), final=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _ConsoleWriter:
    """A text stream whose complete lines are printed through a rich console (above a live
    bar). Partial lines wait for their newline."""

    def __init__(self, console: Any) -> None:
        self._console = console
        self._buffer = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._buffer += text
            *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            self._console.print(line, markup=False, highlight=False, emoji=False, soft_wrap=True)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class QuietDays:
    """Days without filings, logged as one line per run of them instead of one per day."""

    def __init__(self, emit: Callable[[str], None] | None = None) -> None:
        self._emit = emit or log.info
        self._first: date | None = None
        self._last: date | None = None
        self._count = 0

    def day(self, day: date, filings: int) -> bool:
        """Note a day; returns True when it was empty (and is folded into the current run)."""
        if filings:
            self.flush()
            return False
        if self._first is None:
            self._first = day
        self._last = day
        self._count += 1
        return True

    def flush(self) -> None:
        if self._first is None or self._last is None:
            return
        if self._count == 1:
            self._emit(f"{self._first}: 0 filings")
        else:
            self._emit(f"{self._first}..{self._last}: 0 filings on {self._count} days")
        self._first = self._last = None
        self._count = 0


@contextmanager
def quiet_days(emit: Callable[[str], None] | None = None) -> Iterator[QuietDays]:
    """A ``QuietDays`` flushed when the block ends."""
    days = QuietDays(emit)
    try:
        yield days
    finally:
        days.flush()
