"""Pure log-view logic: which lines to show, how to print them, where a search lands.

The Logs view keeps a bounded deque of ``LogLine`` objects; everything it draws comes
from these functions, so filtering and search are unit-tested without a terminal.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from periph_env.stack.logfilter import is_health_check, may_hold_health_check


@dataclass(frozen=True, slots=True)
class LineFilter:
    """Show lines of ``service`` (None: merged, every service) matching ``pattern``;
    health-check request lines only with ``show_health``."""

    service: str | None = None
    pattern: re.Pattern[str] | None = None
    show_health: bool = False

    def accepts(self, line: Any) -> bool:
        """True when the line belongs in the view."""
        if self.service is not None and line.service != self.service:
            return False
        if self.pattern is not None and self.pattern.search(line.text) is None:
            return False
        return self.show_health or not is_health_check(line.text)


def _joined(lines: Sequence[Any]) -> str:
    return "\n".join([line.text for line in lines])


def health_lines(lines: Iterable[Any]) -> int:
    """How many of ``lines`` are health-check request lines (what the fold hides)."""
    lines = lines if isinstance(lines, list) else list(lines)
    if not lines or not may_hold_health_check(_joined(lines)):
        return 0  # the common batch: one search, no step per line
    return sum(1 for line in lines if is_health_check(line.text))


def health_status(hidden: int, key: str) -> str | None:
    """The status-line part for hidden health checks, or None when there are none."""
    if not hidden:
        return None
    noun = "line" if hidden == 1 else "lines"
    return f"{hidden} health-check {noun} hidden — {key} to show"


def compile_regex(text: str) -> re.Pattern[str] | None:
    """The user's regex (case-insensitive unless it has an upper-case letter); ValueError
    with the position when it does not compile. Empty text means no pattern."""
    if not text:
        return None
    flags = 0 if any(ch.isupper() for ch in text) else re.IGNORECASE
    try:
        return re.compile(text, flags)
    except re.error as exc:
        raise ValueError(f"bad regex at {exc.pos}: {exc.msg}") from None


def render_line(line: Any, timestamps: bool, width: int) -> str:
    """``12:03:04.512 backend | text`` (the service padded to ``width``)."""
    head = f"{line.service:<{width}} | "
    if timestamps:
        stamp = time.strftime("%H:%M:%S", time.localtime(line.timestamp))
        head = f"{stamp}.{int(line.timestamp * 1000) % 1000:03d} {head}"
    return head + line.text


def render(
    lines: Iterable[Any], line_filter: LineFilter, timestamps: bool, width: int
) -> list[str]:
    """The printed lines of everything ``line_filter`` accepts."""
    lines = lines if isinstance(lines, list) else list(lines)
    if (
        not timestamps
        and line_filter.pattern is None
        and (line_filter.show_health or not may_hold_health_check(_joined(lines)))
    ):
        # The common case (no regex, no timestamps, no health line in the batch): the
        # same text as ``render_line``, without a call and a filter test per line (a
        # backlog of 200,000 lines is drawn at the speed of this loop).
        heads = {name: f"{name:<{width}} | " for name in {line.service for line in lines}}
        only = line_filter.service
        if only is None:
            return [heads[line.service] + line.text for line in lines]
        return [heads[only] + line.text for line in lines if line.service == only]
    return [render_line(ln, timestamps, width) for ln in lines if line_filter.accepts(ln)]


def find(
    lines: Sequence[str], pattern: re.Pattern[str], start: int, backwards: bool = False
) -> int | None:
    """The index of the next (or previous) line matching ``pattern`` after ``start``,
    wrapping around; None when no line matches."""
    count = len(lines)
    if not count:
        return None
    step = -1 if backwards else 1
    for offset in range(1, count + 1):
        index = (start + step * offset) % count
        if pattern.search(lines[index]):
            return index
    return None


def count_matches(lines: Sequence[str], pattern: re.Pattern[str]) -> int:
    """How many lines match (shown as ``3/17``)."""
    return sum(1 for line in lines if pattern.search(line))
