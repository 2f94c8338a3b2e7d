"""Reloads waiting for their reload marker (pure: no threads, no clock, no engine).

An in-process reload ends when the service prints its marker. Every wait ends: the
marker comes (``serving``), the per-service timeout passes (``no marker after 15 s
(pattern …): is the service printing it?``), the service's next reload starts (this one
is superseded, so the newer one is what the UI shows), or watching stops. Inputs are
events (``expect``, ``marker``, ``tick``, ``supersede``, ``stop``); each returns the
reloads that just ended, with ``done`` set, for the caller to publish.
"""

from __future__ import annotations

from dataclasses import dataclass

from periph_env.stack.models import ReloadEvent

DEFAULT_TIMEOUT = 15.0  # seconds; x-periph.reload_timeout overrides it per service
KEEP_MARKERS = 50  # recent marker timestamps kept per service


def no_marker_note(timeout: float, pattern: str) -> str:
    """What a reload whose marker never came says."""
    return f"no marker after {timeout:g} s (pattern {pattern!r}): is the service printing it?"


SUPERSEDED = "superseded by the next reload before its marker came"
STOPPED = "watch stopped before the reload finished"


@dataclass(slots=True)
class _Wait:
    event: ReloadEvent
    after: float  # a marker at or after this belongs to this reload
    deadline: float
    note: str


class MarkerTracker:
    """Pending marker waits per service and the recent markers seen."""

    def __init__(self) -> None:
        self._waits: dict[str, list[_Wait]] = {}
        self._markers: dict[str, list[float]] = {}

    def expect(
        self, event: ReloadEvent, after: float, now: float, timeout: float, pattern: str
    ) -> list[ReloadEvent]:
        """``event`` was synced at ``after`` and waits for its service's marker until
        ``now + timeout``. A marker already seen since ``after`` ends it at once."""
        wait = _Wait(event, after, now + timeout, no_marker_note(timeout, pattern))
        stamp = next((s for s in self._markers.get(event.service, ()) if s >= after), None)
        if stamp is not None:
            return [_serve(wait, stamp)]
        self._waits.setdefault(event.service, []).append(wait)
        return []

    def marker(self, service: str, stamp: float) -> list[ReloadEvent]:
        """The service printed its marker at ``stamp``: every wait it belongs to ends."""
        seen = self._markers.setdefault(service, [])
        seen.append(stamp)
        del seen[:-KEEP_MARKERS]
        waits = self._waits.get(service, [])
        ended = [w for w in waits if stamp >= w.after]
        self._waits[service] = [w for w in waits if stamp < w.after]
        return [_serve(w, stamp) for w in ended]

    def tick(self, now: float) -> list[ReloadEvent]:
        """The clock reads ``now``: waits past their deadline end without a marker."""
        ended: list[ReloadEvent] = []
        for service, waits in self._waits.items():
            late = [w for w in waits if now >= w.deadline]
            if late:
                self._waits[service] = [w for w in waits if now < w.deadline]
                ended += [_end(w, w.note) for w in late]
        return ended

    def supersede(self, service: str) -> list[ReloadEvent]:
        """A newer reload of ``service`` starts: older waits end now (its marker will
        cover their changes), so the newer reload is the one shown."""
        return [_end(w, SUPERSEDED) for w in self._waits.pop(service, [])]

    def stop(self) -> list[ReloadEvent]:
        """Watching stops: every wait ends unfinished."""
        ended = []
        for waits in self._waits.values():
            for wait in waits:
                wait.event.ok, wait.event.error = False, STOPPED
                ended.append(_end(wait, None))
        self._waits.clear()
        return ended

    def next_deadline(self) -> float | None:
        """The earliest deadline pending (None when nothing waits)."""
        return min((w.deadline for ws in self._waits.values() for w in ws), default=None)

    def pending(self, service: str) -> int:
        """How many reloads of ``service`` wait for a marker."""
        return len(self._waits.get(service, []))


def _serve(wait: _Wait, stamp: float) -> ReloadEvent:
    event = wait.event
    event.serving_at = max(stamp, event.synced_at or stamp)
    event.done = True
    return event


def _end(wait: _Wait, note: str | None) -> ReloadEvent:
    wait.event.note = note
    wait.event.done = True
    return wait.event
