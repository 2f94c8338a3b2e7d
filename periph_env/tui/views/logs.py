"""The Logs area: merged or per-service logs, follow/pause, regex filter and search.

Memory is bounded twice: the view keeps the last ``max_lines`` ``LogLine`` objects (a
deque) and the ``Log`` widget the same number of rendered strings. Lines arrive as
``LogBatch`` messages (one per 50–100 ms, from ``LineBatcher``); a hidden or paused view
only buffers them and redraws once when shown or resumed.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Log, Select, Static

from periph_env.tui import actions, logfilter
from periph_env.tui.widgets.engine_banner import EngineBanner

if TYPE_CHECKING:
    from periph_env.tui.app import PeriphApp

MERGED = "__merged__"
# Drawing one batch may take this long: a frame at 30 fps leaves room for the paint.
FRAME_BUDGET = 0.020


class LogsView(Vertical):
    """Toolbar (service, filter, search, status) over a bounded ``Log``."""

    BINDINGS = actions.bindings("logs")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="area-view")
        self.buffer: deque[Any] = deque()
        self.services: list[str] = []
        self.filter = logfilter.LineFilter()
        self.timestamps = False
        self.following = True
        self.dirty = False
        self.unseen = 0
        self.skipped = 0
        self.received = 0  # every line read since start (the buffer keeps the newest)
        self.health = 0  # health-check request lines read (hidden unless shown)
        self.search: Any = None
        self.match_line: int | None = None
        self.problem = ""
        self._per_line: float | None = None  # seconds to draw one line (moving average)
        self.drawn_at = 0.0  # time.monotonic() of the last batch drawn on screen

    @property
    def papp(self) -> PeriphApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield EngineBanner(id="logs-banner")
        with Horizontal(id="logs-toolbar"):
            yield Select[str](
                [("merged", MERGED)], value=MERGED, allow_blank=False, id="logs-service"
            )
            yield Input(placeholder="filter (regex)", id="logs-filter")
            yield Input(placeholder="search", id="logs-search")
        yield Static("", id="logs-status", classes="progress")
        yield Log(max_lines=self.papp.settings.max_lines, id="logs-lines")

    def on_mount(self) -> None:
        self.buffer = deque(maxlen=self.papp.settings.max_lines)
        blink = self.papp.settings.cursor_blink
        for box in self.query(Input):
            box.cursor_blink = blink
        self._status()
        self.papp.view_mounted("logs")
        if self.papp.area == "logs":
            self.focus_main()

    def focus_main(self) -> None:
        """Focus the log lines (so the area's keys are live)."""
        self.query_one(Log).focus()

    @property
    def _log(self) -> Log:
        return self.query_one("#logs-lines", Log)

    # -- engine events ------------------------------------------------------------------

    def engine_down(
        self, message: str, remedy: list[str], can_start: bool, title: str = "No Docker engine"
    ) -> None:
        """No engine: say why and how to fix it; lines already read stay."""
        key = actions.key_display(self.papp.key_for("logs.engine"))
        self.query_one(EngineBanner).show_down(message, remedy, can_start, key, title)

    def engine_up(self) -> None:
        """The engine answers again."""
        self.query_one(EngineBanner).hide()

    def set_services(self, services: list[str]) -> None:
        """The services to offer in the selector (from the stack's status)."""
        if services == self.services:
            return
        self.services = list(services)
        select = self.query_one("#logs-service", Select)
        current = select.value
        with self.prevent(Select.Changed):
            select.set_options([("merged", MERGED), *((name, name) for name in services)])
            select.value = current if current in (MERGED, *services) else MERGED
        self._redraw()

    def add_lines(self, lines: list[Any], dropped: int = 0) -> None:
        """A batch from the log reader; drawing it is timed, so the next batches are
        sized to what one frame can draw (``log_batch_limit``, read by the batcher)."""
        started = time.perf_counter()
        keep = self.buffer.maxlen
        if keep is not None and len(lines) > keep:
            # Older lines would be trimmed right after being drawn: skip drawing them.
            self.received += len(lines) - keep
            self.health += logfilter.health_lines(lines[:-keep])
            lines = lines[-keep:]
        self.buffer.extend(lines)
        self.received += len(lines)
        self.health += logfilter.health_lines(lines)
        self.skipped += dropped
        for line in lines:
            if line.service not in self.services and line.service:
                self.set_services([*self.services, line.service])
        if not self.is_on_screen or not self.following:
            self.dirty = True
            self.unseen += len(lines)
            self._status()
            return
        shown = logfilter.render(lines, self.filter, self.timestamps, self._width())
        if shown:
            self._log.write_lines(shown)
        self._status()
        self._measure(len(lines), time.perf_counter() - started)
        self.drawn_at = time.monotonic()

    def drawing(self, within: float = 0.15) -> bool:
        """Whether lines are streaming onto the screen (a batch drawn ``within`` s)."""
        return self.is_on_screen and time.monotonic() - self.drawn_at < within

    def _measure(self, count: int, seconds: float) -> None:
        """Keep ``log_batch_limit`` at the lines one frame's budget draws (a moving
        average of the cost per line; only batches large enough to time)."""
        if count < 200:
            return
        per_line = seconds / count
        if self._per_line is not None:
            per_line = 0.7 * self._per_line + 0.3 * per_line
        self._per_line = per_line
        limit = int(FRAME_BUDGET / max(per_line, 1e-7))
        self.papp.log_batch_limit = max(200, min(limit, self.buffer.maxlen or limit))

    # -- drawing ------------------------------------------------------------------------

    def _width(self) -> int:
        return max((len(name) for name in self.services), default=7)

    def _redraw(self) -> None:
        log = self._log
        log.clear()
        log.write_lines(logfilter.render(self.buffer, self.filter, self.timestamps, self._width()))
        if self.following:
            log.scroll_end(animate=False, immediate=True)
        self.dirty = False
        self.unseen = 0
        self._status()

    def shown(self) -> None:
        """The tab became visible: catch up once."""
        if self.dirty and self.following:
            self._redraw()

    def _status(self) -> None:
        parts = ["following" if self.following else f"paused · {self.unseen} new"]
        service = self.filter.service or "all services"
        parts.append(service)
        if self.filter.pattern is not None:
            parts.append(f"filter /{self.filter.pattern.pattern}/")
        parts.append(f"{self._log.line_count} lines")
        if self.search is not None:
            total = logfilter.count_matches(self._log.lines, self.search)
            at = "" if self.match_line is None else f" at line {self.match_line + 1}"
            parts.append(f"{total} matches{at}")
        if self.skipped:
            parts.append(f"{self.skipped} skipped under load")
        if not self.filter.show_health:
            key = actions.key_display(self.papp.key_for("logs.health"))
            parts.append(logfilter.health_status(self.health, key) or "")
        if self.problem:
            parts.append(self.problem)
        self.query_one("#logs-status", Static).update(" · ".join(p for p in parts if p))

    # -- inputs -------------------------------------------------------------------------

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        value = event.value
        self.filter = logfilter.LineFilter(
            None if value == MERGED else str(value), self.filter.pattern, self.filter.show_health
        )
        self._redraw()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        try:
            pattern = logfilter.compile_regex(event.value)
        except ValueError as exc:
            event.input.add_class("-invalid")
            self.problem = str(exc)
            self._status()
            return
        event.input.remove_class("-invalid")
        self.problem = ""
        if event.input.id == "logs-filter":
            self.filter = logfilter.LineFilter(
                self.filter.service, pattern, self.filter.show_health
            )
            self._redraw()
        else:
            self.search = pattern
            self.match_line = None
            if pattern is not None:
                self._jump(backwards=False)
            self._status()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_main()

    def _jump(self, backwards: bool) -> None:
        if self.search is None:
            self.app.notify("Type a search first (ctrl+f)", severity="warning")
            return
        log = self._log
        start = self.match_line if self.match_line is not None else int(log.scroll_y) - 1
        found = logfilter.find(log.lines, self.search, start, backwards)
        if found is None:
            self.match_line = None
            self._status()
            return
        self.following = False
        log.auto_scroll = False
        self.match_line = found
        log.scroll_to(y=max(0, found - log.size.height // 2), animate=False)
        self._status()

    # -- actions ------------------------------------------------------------------------

    def action_follow(self) -> None:
        self.following = not self.following
        self._log.auto_scroll = self.following
        if self.following:
            self.match_line = None
            self._redraw()
        self._status()

    def action_health(self) -> None:
        """Show or hide (and count) health-check request lines."""
        old = self.filter
        self.filter = logfilter.LineFilter(old.service, old.pattern, not old.show_health)
        self._redraw()

    def action_timestamps(self) -> None:
        self.timestamps = not self.timestamps
        self._redraw()

    def show_service(self, service: str | None) -> None:
        """Show one service (None: merged)."""
        self.query_one("#logs-service", Select).value = service or MERGED

    def action_service(self) -> None:
        order = [None, *self.services]
        index = order.index(self.filter.service) if self.filter.service in order else 0
        self.show_service(order[(index + 1) % len(order)])

    def action_merged(self) -> None:
        self.show_service(None)

    def action_filter(self) -> None:
        self.query_one("#logs-filter", Input).focus()

    def action_search(self) -> None:
        self.query_one("#logs-search", Input).focus()

    def action_next(self) -> None:
        self._jump(backwards=False)

    def action_previous(self) -> None:
        self._jump(backwards=True)

    def action_clear(self) -> None:
        self.buffer.clear()
        self.skipped = 0
        self.health = 0
        self._redraw()

    def action_engine(self) -> None:
        self.papp.start_engine()
