"""``AlertFeed``: the alert pipeline a front end plugs status snapshots and reload events
into, and gets finished ``Alert``s (tail and hint included) out of.

The detection is ``AlertDetector``'s (pure, called in the caller's thread, cheap); the
log tail is read from the engine in a short thread per alert, so a status callback never
blocks on the engine. The hint rules are re-read from the compose file when it changes
(an edited rule applies to the next alert). A failed reload's own error text (a build's
output) comes before the container's log lines, as it is usually where the cause is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from periph_env.errors import PeriphError
from periph_env.stack.alerts import Alert, AlertDetector, AlertSettings, complete
from periph_env.stack.hints import HintRule, load_rules

if TYPE_CHECKING:
    from periph_env.stack.control import Stack
    from periph_env.stack.models import ReloadEvent, ServiceStatus


class AlertFeed:
    """Statuses and reloads in, ``on_alert(Alert)`` out (from a worker thread)."""

    def __init__(
        self,
        stack: Stack,
        on_alert: Callable[[Alert], None],
        settings: AlertSettings | None = None,
        clock: Callable[[], float] = time.time,
        tail: Callable[[str, int], list[str]] | None = None,
    ) -> None:
        """``tail(service, n)``: its last ``n`` log lines (default: read from the engine
        with ``read_logs``; the TUI passes its session's reader)."""
        self.stack, self.on_alert, self.clock = stack, on_alert, clock
        self.tail = tail or self._read_tail
        self.settings = settings or AlertSettings()
        self.detector = AlertDetector(self.settings)
        self._rules: dict[str, list[HintRule]] = {}
        self._rules_mtime: float | None = None
        self._lock = threading.Lock()

    def rules(self) -> dict[str, list[HintRule]]:
        """The compose file's hint rules (re-read when the file changed). A broken rule
        raises ``ComposeFileError`` (file:line), which callers show once."""
        path = getattr(self.stack, "compose_path", None)
        if path is None:
            return self._rules
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return self._rules
        if mtime != self._rules_mtime:
            self._rules, self._rules_mtime = load_rules(path), mtime
        return self._rules

    def statuses(self, statuses: Iterable[ServiceStatus]) -> list[Alert]:
        """Feed a status snapshot; the alerts it raised are being completed."""
        with self._lock:
            alerts = self.detector.statuses(list(statuses), self.clock())
        for alert in alerts:
            self._complete(alert, [])
        return alerts

    def reload(self, event: ReloadEvent) -> list[Alert]:
        """Feed a reload event."""
        with self._lock:
            alerts = self.detector.reload(event, self.clock())
        for alert in alerts:
            self._complete(alert, (event.error or "").splitlines())
        return alerts

    def expect(self, services: Iterable[str] | None) -> None:
        """The user acts on ``services`` (None: all): their exits are not failures."""
        names = list(services) if services else self.stack.services()
        with self._lock:
            self.detector.expect(names, self.clock())

    def _complete(self, alert: Alert, first: list[str]) -> None:
        threading.Thread(
            target=self._finish, args=(alert, first), name="periph-alert", daemon=True
        ).start()

    def _read_tail(self, service: str, lines: int) -> list[str]:
        from periph_env.stack.logs import read_logs

        return [line.text for line in read_logs(self.stack, [service], tail=lines)]

    def _finish(self, alert: Alert, first: list[str]) -> None:
        keep = self.settings.lines
        try:
            tail = self.tail(alert.service, keep)
        except PeriphError:
            tail = []
        try:
            rules = self.rules()
        except PeriphError:
            rules = {}
        lines = [*first[-keep:], *tail] if first else tail
        self.on_alert(
            complete(
                alert, lines, rules, secrets=_secrets(self.stack), keep=keep * 2 if first else keep
            )
        )


def _secrets(stack: object) -> list[str]:
    """The env file's secrets, to mask in the alert (none when they cannot be read: the
    process-wide remembered set still applies)."""
    try:
        return list(getattr(stack, "secrets", list)())
    except PeriphError:
        return []
