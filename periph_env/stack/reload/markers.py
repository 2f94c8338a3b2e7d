"""Reload markers: the log line a service prints once its new code runs.

In-process reloaders (the backend's devreload, the worker's watchfiles supervisor, Vite)
reload without a container restart, so only the service knows when new code serves. Each
prints a one-line marker; the compose file names it per service
(``x-periph.reload_marker``, a regex). This follows those services' logs from the moment
watching starts and hands each reload the first marker after its change was seen.
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING

from periph_env.stack.logs import LogFollower
from periph_env.stack.models import LogLine

if TYPE_CHECKING:
    from periph_env.stack.control import Stack


class MarkerWatch:
    """Collects marker timestamps per service; ``wait(service, after, timeout)``."""

    def __init__(self, stack: Stack, markers: dict[str, str], since: float) -> None:
        self.patterns = {s: re.compile(m) for s, m in markers.items()}
        self._seen: dict[str, list[float]] = {s: [] for s in markers}
        self._cond = threading.Condition()
        self._follower = (
            LogFollower(stack, self._on_lines, services=sorted(markers), since=since)
            if markers
            else None
        )

    def start(self) -> MarkerWatch:
        """Start following the marked services' logs."""
        if self._follower is not None:
            self._follower.start()
        return self

    def stop(self) -> None:
        """Stop following."""
        if self._follower is not None:
            self._follower.stop()
        with self._cond:
            self._cond.notify_all()

    def _on_lines(self, lines: list[LogLine]) -> None:
        with self._cond:
            for line in lines:
                pattern = self.patterns.get(line.service)
                if pattern is not None and pattern.search(line.text):
                    seen = self._seen[line.service]
                    seen.append(line.timestamp)
                    del seen[:-50]
                    self._cond.notify_all()

    def wait(
        self, service: str, after: float, timeout: float, cancelled: threading.Event | None = None
    ) -> float | None:
        """The timestamp of the first marker of ``service`` at or after ``after``, waiting
        up to ``timeout`` seconds; None when none came."""
        import time

        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for stamp in self._seen.get(service, ()):
                    if stamp >= after:
                        return stamp
                left = deadline - time.monotonic()
                if left <= 0 or (cancelled is not None and cancelled.is_set()):
                    return None
                self._cond.wait(min(left, 0.5))
