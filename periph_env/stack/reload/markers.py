"""Reload markers: the log line a service prints once its new code runs.

In-process reloaders (the backend's devreload, the worker's watchfiles supervisor, Vite)
reload without a container restart, so only the service knows when new code serves. Each
prints a one-line marker; the compose file names it per service
(``x-periph.reload_marker``, a regex; ``x-periph.reload_timeout``, default 15 s). This
follows those services' logs from the moment watching starts and feeds a
``MarkerTracker`` (the pure rules of when a wait ends); one thread wakes at the nearest
deadline, so a reload whose marker never comes ends instead of staying "…".
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from periph_env.stack.logs import LogFollower
from periph_env.stack.models import LogLine, ReloadEvent
from periph_env.stack.reload.tracker import DEFAULT_TIMEOUT, STOPPED, MarkerTracker

if TYPE_CHECKING:
    from periph_env.stack.control import Stack

OnEnded = Callable[[ReloadEvent], None]


class MarkerWatch:
    """Follows the marked services' logs; ``expect(event, after)`` ends ``event`` through
    ``on_ended`` on its marker, its timeout, its successor or ``stop()``."""

    def __init__(
        self,
        stack: Stack,
        markers: dict[str, str],
        since: float,
        on_ended: OnEnded,
        timeouts: dict[str, float] | None = None,
    ) -> None:
        self.patterns = {s: re.compile(m) for s, m in markers.items()}
        self.timeouts = timeouts or {}
        self.on_ended = on_ended
        self._tracker = MarkerTracker()
        self._cond = threading.Condition()
        # Held from taking waits out of the tracker until they are published (always
        # before _cond): once supersede() returns, no older reload of that service can
        # be published after the new one, whichever thread ended it.
        self._publishing = threading.RLock()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._follower = (
            LogFollower(stack, self._on_lines, services=sorted(markers), since=since)
            if markers
            else None
        )

    def start(self) -> MarkerWatch:
        """Start following the marked services' logs and the deadline clock."""
        if self._follower is not None:
            self._follower.start()
            self._thread = threading.Thread(
                target=self._clock, name="periph-marker-clock", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop following; reloads still waiting end as stopped."""
        if self._follower is not None:
            self._follower.stop()
        with self._publishing:
            with self._cond:
                self._stopped = True
                ended = self._tracker.stop()
                self._cond.notify_all()
            self._publish(ended)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def has_marker(self, service: str) -> bool:
        """Whether ``service`` declares a reload marker."""
        return service in self.patterns

    def timeout(self, service: str) -> float:
        """Seconds a reload of ``service`` waits for its marker."""
        return self.timeouts.get(service) or DEFAULT_TIMEOUT

    def expect(self, event: ReloadEvent, after: float) -> None:
        """Wait (without blocking) for the first marker of ``event.service`` at or
        after ``after``."""
        service = event.service
        with self._publishing:
            with self._cond:
                if self._stopped:  # watching stopped while this reload synced
                    event.ok, event.error = False, STOPPED
                    ended = [event]
                else:
                    ended = self._tracker.expect(
                        event,
                        after,
                        time.time(),
                        self.timeout(service),
                        self.patterns[service].pattern,
                    )
                    self._cond.notify_all()
            self._publish(ended)

    def supersede(self, service: str) -> None:
        """A new reload of ``service`` starts: its earlier waits end first."""
        with self._publishing:
            with self._cond:
                ended = self._tracker.supersede(service)
            self._publish(ended)

    def _on_lines(self, lines: list[LogLine]) -> None:
        ended: list[ReloadEvent] = []
        with self._publishing:
            with self._cond:
                for line in lines:
                    pattern = self.patterns.get(line.service)
                    if pattern is not None and pattern.search(line.text):
                        ended += self._tracker.marker(line.service, line.timestamp)
            self._publish(ended)

    def _clock(self) -> None:
        while True:
            with self._cond:
                if self._stopped:
                    return
                deadline = self._tracker.next_deadline()
                wait = None if deadline is None else max(0.0, deadline - time.time())
                if wait is None or wait > 0:
                    self._cond.wait(wait)
            with self._publishing:
                with self._cond:
                    ended = self._tracker.tick(time.time())
                self._publish(ended)

    def _publish(self, ended: list[ReloadEvent]) -> None:
        for event in ended:
            self.on_ended(event)
