"""Loud failures: one alert per incident when a service crashes, crash-loops or fails a
reload or a rebuild, with its last log lines (masked) and a how-to-fix hint.

``AlertDetector`` is pure bookkeeping: it is fed status snapshots and reload events
(with an explicit ``now``) and returns the ``Alert``s to raise; it reads nothing and
draws nothing, so front ends decide how to show them and tests need no engine.
``complete(alert, lines, rules)`` adds the log tail and the hint; ``terminal_sequence``
is the bell and the desktop notification (OSC 9 / OSC 777) a terminal front end writes.

What is an incident: failures of one service less than ``crash_window`` seconds apart.
The first failure that is worth telling raises the alert; later ones in the same
incident do not (a crash loop would otherwise toast every second). A container that
exits and stays down (no restart policy) is told at once; one that a restart policy
restarts is told only after ``crash_restarts`` restarts within ``crash_window``
seconds (a single restart that recovers is not an incident worth a bell). A reload or
rebuild that fails is told at once; the next successful one closes its incident. A
stop, restart or rebuild the user asked for (``expect``) is never a failure and starts
a fresh incident. A container the kernel killed for going past its memory limit (the
engine's ``OOMKilled``, exit 137 like a ``docker stop``) is told at once, as "out of
memory (limit X)", whether or not a restart policy brings it back: a restart does not
cure it.

Settings (``periph.toml``, ``[alerts]``): ``crash_restarts`` (3), ``crash_window``
(60 s), ``bell`` (true), ``desktop`` ("auto" | "osc9" | "osc777" | "off"),
``lines`` (10, the log lines an alert carries).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from periph_env.common.redact import redact
from periph_env.errors import UsageError
from periph_env.stack.hints import HintRule, find_hint
from periph_env.stack.models import ReloadEvent, ServiceStatus

KINDS = ("exited", "out-of-memory", "crash-loop", "reload-failed", "rebuild-failed")
DESKTOP = ("auto", "osc9", "osc777", "off")
# Exit codes of a container stopped on purpose: SIGTERM / SIGKILL after the grace period.
_STOP_CODES = (143, 137)


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """How alerts are raised (``[alerts]`` in periph.toml)."""

    crash_restarts: int = 3
    crash_window: float = 60.0
    bell: bool = True
    desktop: str = "auto"
    lines: int = 10

    @classmethod
    def from_config(cls, config: Mapping[str, Any], where: str = "periph.toml") -> AlertSettings:
        """The ``[alerts]`` table of a loaded configuration; a bad value is a
        ``UsageError`` naming the key and what it accepts."""
        table = config.get("alerts") or {}
        if not isinstance(table, dict):
            raise UsageError(f"{where}: [alerts] must be a table")
        made = cls()
        checks: dict[str, tuple[type, str]] = {
            "crash_restarts": (int, "a whole number of restarts >= 1"),
            "crash_window": (float, "a number of seconds > 0"),
            "bell": (bool, "true or false"),
            "desktop": (str, f"one of {', '.join(DESKTOP)}"),
            "lines": (int, "a whole number of lines >= 1"),
        }
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key not in checks:
                raise UsageError(
                    f"{where}: [alerts] has no setting {key!r}",
                    hint=f"known: {', '.join(checks)}",
                )
            kind, accepts = checks[key]
            given = value
            ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                ok, value = True, float(value)
            if ok and kind is str:
                ok = value in DESKTOP
            elif ok and kind in (int, float):
                ok = value >= 1 if kind is int else value > 0
            if not ok:
                raise UsageError(f"{where}: [alerts] {key} = {given!r}: expected {accepts}")
            values[key] = value
        return replace(made, **values)


@dataclass(frozen=True, slots=True)
class Alert:
    """One failure worth telling. ``lines`` are masked and escaped, ready to show."""

    service: str
    kind: str
    summary: str  # "backend exited with code 2", "worker restarted 3 times in 60 s"
    at: float
    lines: tuple[str, ...] = ()
    hint: str | None = None

    @property
    def title(self) -> str:
        """A short title: ``periph: backend crash-loop``."""
        return f"periph: {self.service} {self.kind.replace('-', ' ')}"

    def to_json(self) -> dict:
        """The alert as a JSON object (for logs and tests)."""
        return {
            "service": self.service,
            "kind": self.kind,
            "summary": self.summary,
            "at": self.at,
            "lines": list(self.lines),
            "hint": self.hint,
        }


@dataclass(slots=True)
class _Service:
    restarts: deque[float] = field(default_factory=deque)
    restart_count: int | None = None
    started_at: float | None = None
    state: str | None = None
    last_failure: float | None = None  # time of the incident's latest failure
    alerted: bool = False  # the current incident has raised its alert
    reload_failed: bool = False
    oom: bool = False  # the latest status said OOMKilled (one alert per kill, not per look)


class AlertDetector:
    """Turns status snapshots and reload events into alerts, one per incident."""

    def __init__(self, settings: AlertSettings | None = None) -> None:
        self.settings = settings or AlertSettings()
        self._services: dict[str, _Service] = {}
        self._expected: dict[str, float] = {}  # service -> until when a stop is expected

    def _of(self, service: str) -> _Service:
        return self._services.setdefault(service, _Service())

    def expect(self, services: Iterable[str], now: float, for_seconds: float = 120.0) -> None:
        """The user asked to stop, restart or rebuild ``services``: their exits in the
        next ``for_seconds`` are not failures, and their incidents are over."""
        for service in services:
            self._expected[service] = now + for_seconds
            state = self._of(service)
            state.alerted, state.last_failure, state.reload_failed = False, None, False
            state.restarts.clear()

    def _new_failure(self, state: _Service, now: float) -> None:
        """Record a failure; one more than ``crash_window`` after the last starts over."""
        last = state.last_failure
        if last is None or now - last > self.settings.crash_window:
            state.alerted = False
            state.restarts.clear()
        state.last_failure = now

    def _raise(self, state: _Service, alert: Alert) -> list[Alert]:
        if state.alerted:
            return []
        state.alerted = True
        return [alert]

    def statuses(self, statuses: Iterable[ServiceStatus], now: float) -> list[Alert]:
        """The alerts a new status snapshot raises."""
        alerts: list[Alert] = []
        for status in statuses:
            alerts += self._status(status, now)
        return alerts

    def _status(self, status: ServiceStatus, now: float) -> list[Alert]:
        state = self._of(status.service)
        first_look = state.state is None
        previous_count, previous_state = state.restart_count, state.state
        state.state, state.restart_count = status.state, status.restart_count
        was_oom, state.oom = state.oom, status.oom_killed
        if first_look:
            return []  # what was already so when periph started is not news
        expected = self._expected.get(status.service, 0.0) >= now
        restarted = (
            previous_count is not None
            and status.restart_count > previous_count
            and status.container_id is not None
        )
        if status.oom_killed and not was_oom and not expected:
            self._new_failure(state, now)
            if restarted:  # still counts towards a crash loop's restarts
                state.restarts.extend([now] * (status.restart_count - previous_count))
            return self._raise(state, oom_alert(status, now))
        if restarted and not expected:
            self._new_failure(state, now)
            state.restarts.extend([now] * (status.restart_count - previous_count))
            window = self.settings.crash_window
            while state.restarts and now - state.restarts[0] > window:
                state.restarts.popleft()
            if len(state.restarts) >= self.settings.crash_restarts:
                summary = (
                    f"{status.service} restarted {len(state.restarts)} times in "
                    f"{window:g} s (crash loop)"
                )
                return self._raise(state, Alert(status.service, "crash-loop", summary, now))
            return []
        stopped = status.state in ("exited", "dead") and previous_state not in ("exited", "dead")
        if not stopped or expected:
            return []
        code = status.exit_code
        if code == 0 or (code in _STOP_CODES and not status.one_shot):
            # A clean exit is a finished job; SIGTERM/SIGKILL codes are a `docker stop`
            # (from periph or outside it): not a crash either.
            return []
        self._new_failure(state, now)
        what = "failed" if status.one_shot else "exited unexpectedly"
        summary = f"{status.service} {what} with exit code {code}"
        return self._raise(state, Alert(status.service, "exited", summary, now))

    def reload(self, event: ReloadEvent, now: float) -> list[Alert]:
        """The alerts a (finished) reload raises: one per failing streak."""
        if not event.done:
            return []
        state = self._of(event.service)
        if event.ok:
            if state.reload_failed:
                state.reload_failed, state.alerted, state.last_failure = False, False, None
            return []
        state.reload_failed = True
        self._new_failure(state, now)
        kind = "rebuild-failed" if event.kind == "rebuild" else "reload-failed"
        what = "rebuild" if event.kind == "rebuild" else f"{event.kind} reload"
        summary = f"{event.service}: the {what} failed; the old container keeps serving"
        if event.kind != "rebuild":
            summary = f"{event.service}: the {what} failed"
        return self._raise(state, Alert(event.service, kind, summary, now))


def memory_size(n: int) -> str:
    """Bytes as the engine's own units: ``64 MiB``, ``1.5 GiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def oom_alert(status: ServiceStatus, now: float) -> Alert:
    """The alert for a container the kernel killed for memory, with a default hint (a
    compose rule that matches its log lines still wins)."""
    if status.memory_limit:
        limit = f"limit {memory_size(status.memory_limit)}"
        hint = (
            "raise its limit (mem_limit, or deploy.resources.limits.memory in compose) "
            "or find what grows"
        )
    else:
        limit = "no limit set: the engine's host ran out"
        hint = "give it a limit (mem_limit in compose) so one service cannot starve the rest"
    summary = f"{status.service} was killed: out of memory ({limit})"
    return Alert(status.service, "out-of-memory", summary, now, hint=hint)


def complete(
    alert: Alert,
    lines: Iterable[str],
    rules: Mapping[str, list[HintRule]],
    *,
    secrets: Iterable[str] = (),
    keep: int = 10,
) -> Alert:
    """``alert`` with its service's last ``keep`` log ``lines`` (secrets masked, control
    characters escaped, colours dropped) and the hint the rules find in them."""
    shown = [redact(line, secrets, keep_lines=False, colors="drop") for line in lines]
    shown = [line for line in shown if line.strip()][-keep:]
    found = find_hint(dict(rules), alert.service, shown)
    return replace(alert, lines=tuple(shown), hint=found or alert.hint)


def desktop_kind(setting: str, environ: Mapping[str, str] | None = None) -> str:
    """Which desktop notification to send: "osc9", "osc777" or "off". "auto" picks OSC 777
    for terminals known to speak it (foot, urxvt, VTE's notify patch) and OSC 9 (iTerm2,
    kitty, WezTerm, Windows Terminal, ghostty) otherwise; never both, as a terminal that
    knows both would notify twice."""
    if setting != "auto":
        return setting
    env = os.environ if environ is None else environ
    term = env.get("TERM", "")
    if term.startswith(("foot", "rxvt")) or env.get("VTE_VERSION"):
        return "osc777"
    return "osc9"


def _field(text: str, limit: int) -> str:
    """One OSC payload field: masked, no control characters (they are written visibly),
    no ``;`` (the OSC 777 separator), at most ``limit`` characters."""
    clean = redact(text, keep_lines=False).replace(";", ",")
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def terminal_sequence(alert: Alert, settings: AlertSettings, environ: Mapping | None = None) -> str:
    """What a terminal front end writes for ``alert``: the bell and one desktop
    notification, per the settings. Nothing in it comes raw from a service: every field
    goes through the masker and the control-character escaper first."""
    out = "\a" if settings.bell else ""
    kind = desktop_kind(settings.desktop, environ)
    body = alert.summary + (f" — {alert.hint}" if alert.hint else "")
    if kind == "osc9":
        out += f"\x1b]9;{_field(alert.title + ': ' + body, 400)}\x1b\\"
    elif kind == "osc777":
        out += f"\x1b]777;notify;{_field(alert.title, 80)};{_field(body, 400)}\x1b\\"
    return out
