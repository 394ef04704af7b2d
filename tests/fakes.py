"""Test doubles with no real waiting: a clock that only moves when someone sleeps."""

from __future__ import annotations

import threading


class FakeClock:
    """``now()`` and ``sleep()`` for limiter and gate tests: sleeping advances time instantly."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self.t

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.t += max(seconds, 0.0)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.t += seconds
