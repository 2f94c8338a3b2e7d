"""The Stack area: every service live, its hot reload, and the actions on it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from periph_env.tui import actions, formatting
from periph_env.tui.widgets.engine_banner import EngineBanner
from periph_env.tui.widgets.service_table import ServiceTable

if TYPE_CHECKING:
    from periph_env.tui.app import PeriphApp


class StackView(Vertical):
    """Services table, the selected service's detail and the last action's progress."""

    BINDINGS = actions.bindings("stack")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="area-view")
        self.statuses: dict[str, Any] = {}
        self.reloads: dict[str, Any] = {}
        self.tails: dict[str, list[str]] = {}

    @property
    def papp(self) -> PeriphApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield EngineBanner(id="stack-banner")
        yield Static("Connecting to the Docker engine…", id="stack-empty", classes="hint")
        yield ServiceTable(id="services")
        yield Static("", id="service-detail")
        yield Static("", id="stack-progress", classes="progress")

    def on_mount(self) -> None:
        self.query_one(ServiceTable).display = False
        # Uptime ticks once a second; cheap (cells only) and paused while hidden.
        self.set_interval(1.0, self._tick)
        self.papp.view_mounted("stack")

    def focus_main(self) -> None:
        """Focus the services table (so the area's keys are live)."""
        table = self.query_one(ServiceTable)
        (table if table.display else self).focus()

    # -- engine events ------------------------------------------------------------------

    def engine_down(
        self, message: str, remedy: list[str], can_start: bool, title: str = "No Docker engine"
    ) -> None:
        """No engine: the banner says why and how to fix it."""
        key = actions.key_display(self.papp.key_for("stack.engine"))
        self.query_one(EngineBanner).show_down(message, remedy, can_start, key, title)
        self.query_one("#stack-empty").display = False

    def engine_up(self) -> None:
        """The engine answers again."""
        self.query_one(EngineBanner).hide()

    def show_statuses(self, statuses: list[Any]) -> None:
        """A fresh status snapshot from the engine."""
        self.statuses = {s.service: s for s in statuses}
        for status in statuses:
            if formatting.failed_one_shot(status) and status.service not in self.tails:
                self.tails[status.service] = []
                self._load_tail(status.service)
        self.query_one("#stack-empty").display = not statuses
        if not statuses:
            self.query_one("#stack-empty", Static).update(
                "No services found in the compose project."
            )
        table = self.query_one(ServiceTable)
        table.display = bool(statuses)
        self.redraw()

    def on_reload(self, event: Any) -> None:
        """A hot-reload step of one service."""
        self.reloads[event.service] = event
        self.redraw()

    def show_progress(self, text: str, failed: bool = False) -> None:
        """The running action's last step line."""
        self.query_one("#stack-progress", Static).update(
            Text(text, style="bold red" if failed else "")
        )

    # -- drawing ------------------------------------------------------------------------

    def _tick(self) -> None:
        if self.statuses and self.is_on_screen:
            self.redraw()

    def _watching(self) -> set[str]:
        session = self.papp.session
        return {
            name
            for name, status in self.statuses.items()
            if status.hot_reload or (session is not None and session.watching(name))
        }

    def _last_reloads(self) -> dict[str, Any]:
        merged = {n: s.last_reload for n, s in self.statuses.items() if s.last_reload is not None}
        merged.update(self.reloads)
        return merged

    def redraw(self) -> None:
        """Redraw the table and the detail from what is known."""
        table = self.query_one(ServiceTable)
        table.show(
            list(self.statuses.values()), self.papp.clock(), self._watching(), self._last_reloads()
        )
        self._show_detail()

    def _show_detail(self) -> None:
        service = self.query_one(ServiceTable).selected
        detail = self.query_one("#service-detail", Static)
        status = self.statuses.get(service or "")
        if status is None:
            detail.update("")
            return
        text = Text()
        text.append(f"{status.service}", style="bold")
        if status.image:
            text.append(f"  {status.image}", style="dim")
        lines = formatting.reload_detail(
            status.service,
            status.service in self._watching(),
            self._last_reloads().get(status.service),
        )
        for line in lines:
            text.append("\n" + line)
        if formatting.failed_one_shot(status):
            text.append(
                f"\n{status.service} failed with exit code {status.exit_code}; last lines:",
                style="bold red",
            )
            for line in self.tails.get(status.service) or ["(no log output)"]:
                text.append("\n  " + line)
        detail.update(text)

    def on_data_table_row_highlighted(self) -> None:
        self._show_detail()

    def on_data_table_row_selected(self) -> None:
        self.action_logs()

    @work(thread=True, group="tail")
    def _load_tail(self, service: str) -> None:
        session = self.papp.session
        if session is None:
            return
        lines = [line.text for line in session.read_tail(service)]
        self.app.call_from_thread(self._set_tail, service, lines)

    def _set_tail(self, service: str, lines: list[str]) -> None:
        self.tails[service] = lines
        self._show_detail()

    # -- actions ------------------------------------------------------------------------

    def _selected(self) -> list[str] | None:
        service = self.query_one(ServiceTable).selected
        if service is None:
            self.app.notify("No service selected", severity="warning")
        return [service] if service else None

    def _on_selected(self, verb: str) -> None:
        if services := self._selected():
            self.papp.stack_action(verb, services)

    def action_up(self) -> None:
        self._on_selected("up")

    def action_up_all(self) -> None:
        self.papp.stack_action("up", None)

    def action_down(self) -> None:
        self.papp.stack_action("down", None)

    def action_start(self) -> None:
        self._on_selected("start")

    def action_start_all(self) -> None:
        self.papp.stack_action("start", None)

    def action_stop(self) -> None:
        self._on_selected("stop")

    def action_stop_all(self) -> None:
        self.papp.stack_action("stop", None)

    def action_restart(self) -> None:
        self._on_selected("restart")

    def action_restart_all(self) -> None:
        self.papp.stack_action("restart", None)

    def action_rebuild(self) -> None:
        self._on_selected("rebuild")

    def action_rebuild_all(self) -> None:
        self.papp.stack_action("rebuild", None)

    def action_reload(self) -> None:
        if services := self._selected():
            self.papp.toggle_reload(services[0])

    def action_reload_all(self) -> None:
        self.papp.toggle_reload(None)

    def action_logs(self) -> None:
        service = self.query_one(ServiceTable).selected
        self.papp.open_logs(service)

    def action_engine(self) -> None:
        self.papp.start_engine()
