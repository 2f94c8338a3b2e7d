"""Pure helpers for logs: ``--since`` durations, the regex filter, engine line parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass

from periph_env.errors import UsageError
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
        stamp = parse_time(stamp_text)
        if stamp is None:
            return None
        return LogLine(
            service=self.service,
            timestamp=stamp,
            text=text.rstrip("\r"),
            stream=self.stream,
            container_id=self.container_id,
        )


def keep(line: LogLine, grep: re.Pattern[str] | None, since: float | None) -> bool:
    """Whether ``line`` passes the filters."""
    if since is not None and line.timestamp < since:
        return False
    return grep is None or grep.search(line.text) is not None
