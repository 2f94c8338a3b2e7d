"""Pure helpers for logs: ``--since`` durations, the regex filter, engine line parsing, and
the health-check fold (request lines for health endpoints, hidden unless asked for)."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from periph_env.errors import UsageError
from periph_env.stack.logstream import stamp_ns
from periph_env.stack.models import LogLine
from periph_env.stack.status_parse import parse_time

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(value: str | None, now: float) -> float | None:
    """``--since`` as epoch seconds: a duration back from ``now`` (``90s``, ``10m``,
    ``1h30m``), an RFC 3339 time, or epoch seconds. ``UsageError`` otherwise."""
    if value is None or value == "":
        return None
    text = value.strip()
    if _DURATION.fullmatch(text) or re.fullmatch(rf"(?:{_DURATION.pattern})+", text):
        seconds = sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(text))
        return now - seconds
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    stamp = parse_time(text if re.search(r"(Z|[+-]\d\d:\d\d)$", text) else text + "Z")
    if stamp is None:
        raise UsageError(
            f"--since {value!r}: not a duration or a time",
            hint="use a duration like 30s, 10m, 1h30m, or a time like 2026-11-27T06:00:00Z",
        )
    return stamp


def compile_grep(pattern: str | None) -> re.Pattern[str] | None:
    """The ``--grep`` regex, or a ``UsageError`` naming the problem."""
    if not pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise UsageError(f"--grep {pattern!r}: invalid regex: {exc}") from None


@dataclass(slots=True)
class LineSplitter:
    """Reassembles engine log frames (which may split or join lines) into lines."""

    service: str
    container_id: str
    stream: str = "stdout"
    _pending: str = ""

    def feed(self, data: bytes) -> list[LogLine]:
        """Lines completed by ``data`` (each engine line starts with its timestamp)."""
        text = self._pending + data.decode(errors="replace")
        *complete, self._pending = text.split("\n")
        return [line for raw in complete if (line := self.parse(raw)) is not None]

    def flush(self) -> list[LogLine]:
        """A final line without a newline, if any."""
        rest, self._pending = self._pending, ""
        line = self.parse(rest) if rest else None
        return [] if line is None else [line]

    def parse(self, raw: str) -> LogLine | None:
        """``2026-11-27T06:10:09.123456789Z text`` → ``LogLine``."""
        stamp_text, _, text = raw.partition(" ")
        ns = stamp_ns(stamp_text)  # exact: lines are ordered by it
        if ns is None:
            return None
        return LogLine(
            service=self.service,
            timestamp=ns / 1e9,
            text=text.rstrip("\r"),
            stream=self.stream,
            container_id=self.container_id,
            ns=ns,
        )


def keep(line: LogLine, grep: re.Pattern[str] | None, since: float | None) -> bool:
    """Whether ``line`` passes the filters."""
    if since is not None and line.timestamp < since:
        return False
    return grep is None or grep.search(line.text) is not None


# Paths only probes request: the backend's /api/health (its compose healthcheck command and
# the frontend's status poll), the frontend's /healthz, the backend's internal port, and
# the conventional Kubernetes probes. "/" is not here although the frontend's healthcheck
# fetches it: the root also serves real page loads.
HEALTH_PATHS = frozenset(
    {"/api/health", "/healthz", "/health", "/livez", "/readyz", "/internal/health"}
)
# Cheap test before any parsing: a line without one of these cannot be a health request,
# so the fold costs one substring scan for nearly every line.
_HINTS = ("health", "livez", "readyz")
# Access-log style: `GET /healthz HTTP/1.1" 200`, `GET /healthz 200 1.2 ms`, `HEAD /health`.
_PLAIN_REQUEST = re.compile(r"\b(?:GET|HEAD) (/[^\s\"?]*)")
# JSON request lines name the path under one of these keys (slog's "path", pino/morgan
# style "url", "uri"; "route" as "GET /api/health" when only the pattern is logged).
_PATH_KEYS = ("path", "url", "uri", "route")


def request_path(text: str) -> str | None:
    """The path of a request log line (JSON or access-log style), or None for other lines
    (and for a JSON request line answered with a 5xx, so a failing probe stays in view)."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            record = json.loads(stripped)
        except ValueError:
            record = None
        if isinstance(record, dict):
            request = record.get("req") if isinstance(record.get("req"), dict) else record
            status = record.get("status")
            if isinstance(status, int) and status >= 500:
                return None  # a failing probe is news: never folded
            for key in _PATH_KEYS:
                value = request.get(key)
                if isinstance(value, str) and value:
                    path = value.rsplit(" ", 1)[-1].split("?", 1)[0]
                    return path if path.startswith("/") else None
            return None
    match = _PLAIN_REQUEST.search(text)
    return match.group(1) if match else None


@functools.cache
def _needles(paths: frozenset[str]) -> tuple[str, ...]:
    # The hints, and the paths that hold none of them (substring scans are C's fastest
    # search; a regex alternation tries every position and was slower than per line).
    return (*_HINTS, *sorted(p for p in paths if not any(h in p for h in _HINTS)))


def may_hold_health_check(text: str, paths: frozenset[str] = HEALTH_PATHS) -> bool:
    """False when no line of ``text`` (one line, or many joined) can be a health-check
    request: a few substring scans for a whole batch, so a batch without one costs no
    Python step per line (``is_health_check`` then decides line by line)."""
    return any(needle in text for needle in _needles(paths))


def is_health_check(text: str, paths: frozenset[str] = HEALTH_PATHS) -> bool:
    """Whether ``text`` is a request line for a health endpoint (a probe, not a user)."""
    if not any(hint in text for hint in _HINTS) and not any(p in text for p in paths):
        return False
    path = request_path(text)
    return path is not None and path.rstrip("/") in paths


@dataclass
class HealthFold:
    """Drops health-check request lines (unless ``show_all``) and counts what it dropped.

    Shared by ``periph logs`` and the Logs area, so both hide and count the same lines; it
    reads the services' own log lines and does not rely on a service not logging probes.
    """

    show_all: bool = False
    paths: frozenset[str] = HEALTH_PATHS
    hidden: int = 0

    def keep(self, line: LogLine) -> bool:
        """Whether ``line`` is shown; a hidden line is counted."""
        if self.show_all or not is_health_check(line.text, self.paths):
            return True
        self.hidden += 1
        return False

    def __call__(self, lines: Iterable[LogLine]) -> list[LogLine]:
        """The lines that are shown."""
        return list(lines) if self.show_all else [ln for ln in lines if self.keep(ln)]

    def summary(self, how: str = "--all shows them") -> str | None:
        """``142 health-check lines hidden — --all shows them``, or None when none were."""
        if not self.hidden or self.show_all:
            return None
        noun = "line" if self.hidden == 1 else "lines"
        return f"{self.hidden} health-check {noun} hidden — {how}"
