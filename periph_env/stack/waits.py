"""Why a service is not running yet: ``waiting for db: healthy (12 s)``.

Compose creates a service's container and holds it in ``created`` until each
``depends_on`` condition holds (``service_started``, ``service_healthy``,
``service_completed_successfully``). ``WaitTracker.update`` reads a status snapshot
against the compose file's conditions and says, per waiting service, the first unmet
one and how long it has been waited for. It is re-evaluated on every snapshot, so a
dependency that restarts (healthy → starting) shows again, and a wait that can no
longer end (the dependency exited, or a one-shot failed) says so instead of counting
on. A service that restarts starts a fresh wait. ``WaitTracker`` is pure (times are passed
in); ``WaitWatch`` runs it next to ``periph up`` and prints the reasons.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from periph_env.stack.models import ServiceStatus

if TYPE_CHECKING:
    from periph_env.stack.control import Stack

# Compose's condition → what the dependency must be, in the words the UI shows.
CONDITIONS = {
    "service_started": "running",
    "service_healthy": "healthy",
    "service_completed_successfully": "completed",
}


@dataclass(frozen=True, slots=True)
class Wait:
    """One service waiting on one dependency."""

    service: str
    dependency: str
    condition: str  # "running" | "healthy" | "completed"
    since: float
    blocked: str | None = None  # why the wait cannot end: "db exited (1)"

    def text(self, now: float) -> str:
        """``waiting for db: healthy (12 s)``, or ``blocked: migrate failed (exit 1)``."""
        if self.blocked:
            return f"blocked: {self.blocked}"
        seconds = max(0, int(now - self.since))
        return f"waiting for {self.dependency}: {self.condition} ({seconds} s)"


def unmet(condition: str, dep: ServiceStatus | None) -> tuple[bool, str | None]:
    """(whether ``dep`` does not satisfy ``condition`` yet, why it never will or None)."""
    wanted = CONDITIONS.get(condition, "running")
    if dep is None or dep.state == "missing":
        return True, None
    if wanted == "completed":
        if dep.state in ("exited", "dead"):
            if dep.exit_code == 0:
                return False, None
            return True, f"{dep.service} failed (exit {dep.exit_code})"
        return True, None
    if dep.state in ("exited", "dead"):
        return True, f"{dep.service} exited ({dep.exit_code})"
    if wanted == "healthy":
        if dep.health == "unhealthy":
            return True, f"{dep.service} is unhealthy"
        return dep.state != "running" or dep.health not in ("healthy", None), None
    return dep.state != "running", None


class WaitTracker:
    """Per-service waits across snapshots (see the module doc)."""

    def __init__(self, depends_on: Mapping[str, Mapping[str, str]]) -> None:
        self.depends_on = {s: dict(d) for s, d in depends_on.items()}
        self._since: dict[tuple[str, str | None, str], float] = {}

    def update(self, statuses: Iterable[ServiceStatus], now: float) -> dict[str, Wait]:
        """The waits of the services in ``statuses`` that are not running yet."""
        by_name = {s.service: s for s in statuses}
        waits: dict[str, Wait] = {}
        keep: set[tuple[str, str | None, str]] = set()
        for status in by_name.values():
            if status.state not in ("created", "missing"):
                continue  # running, restarting, stopped: nothing holds it back
            for dep, condition in self.depends_on.get(status.service, {}).items():
                waiting, blocked = unmet(condition, by_name.get(dep))
                if not waiting:
                    continue
                # The clock is per (service, container, dependency): a recreated
                # container, or a new dependency to wait for, starts from zero.
                key = (status.service, status.container_id, dep)
                keep.add(key)
                since = self._since.setdefault(key, now)
                waits[status.service] = Wait(
                    status.service, dep, CONDITIONS.get(condition, "running"), since, blocked
                )
                break
        self._since = {k: v for k, v in self._since.items() if k in keep}
        return waits


class WaitWatch:
    """While a long call (``periph up``) runs, follow the statuses (the engine's events,
    through ``StatusModel``), look at them every ``every`` seconds and report each waiting
    service's reason through ``report``: when the reason changes, and every ``repeat``
    seconds while it stays (so the count is seen moving without a line a second). A
    thread; ``stop()`` ends it. Engine errors are left to the call it accompanies (this
    only watches)."""

    def __init__(
        self,
        stack: Stack,
        report: Callable[[str], None],
        *,
        every: float = 1.0,
        repeat: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.stack, self.report, self.every, self.repeat, self.clock = (
            stack, report, every, repeat, clock,
        )  # fmt: skip
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="periph-waits", daemon=True)
        self._told: dict[str, tuple[str, float]] = {}  # service -> (reason, told at)

    def __enter__(self) -> WaitWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every + 5)

    def tell(self, waits: Mapping[str, Wait], now: float) -> list[str]:
        """The lines to print for ``waits`` now (and remember what was told)."""
        lines = []
        for service, wait in waits.items():
            reason = wait.blocked or f"{wait.dependency}:{wait.condition}"
            told = self._told.get(service)
            if told is None or told[0] != reason or now - told[1] >= self.repeat:
                lines.append(f"{service:<9} {wait.text(now)}")
                self._told[service] = (reason, now)
        for service in set(self._told) - set(waits):
            del self._told[service]
        return lines

    def _run(self) -> None:
        from periph_env.errors import PeriphError

        try:
            depends = {n: s.depends_on for n, s in self.stack.model.services.items()}
        except PeriphError:
            return
        from periph_env.stack.status import StatusModel

        tracker = WaitTracker(depends)
        # The statuses come from the engine's events stream (one first ``ps``, then
        # events); the loop only ages the waits it already knows, for the repeats.
        model = StatusModel(self.stack).start()
        try:
            while not self._stop.wait(self.every):
                statuses = model.snapshot()
                if not statuses:
                    continue
                now = self.clock()
                for line in self.tell(tracker.update(statuses, now), now):
                    self.report(line)
        finally:
            model.stop()
