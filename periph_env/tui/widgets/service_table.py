"""The Stack view's table: one row per service, updated in place as statuses arrive."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from periph_env.tui import formatting

COLUMNS = ("service", "state", "health", "ports", "up", "restarts", "reload")
# Added once the first stats sample arrives (a stack without stats keeps the table as is).
STATS_COLUMNS = ("cpu", "mem", "trend")
_STYLES = {"ok": "green", "warn": "yellow", "bad": "bold red", "idle": "dim"}


class ServiceTable(DataTable):
    """Rows keyed by service name, so the cursor stays on its service across updates."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.columns_shown: tuple[str, ...] = COLUMNS
        self._reselect: str | None = None

    def on_mount(self) -> None:
        for name in COLUMNS:
            self.add_column(name, key=name)

    @property
    def selected(self) -> str | None:
        """The service under the cursor."""
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key((self.cursor_row, 0))
        return row_key.value

    def show_stats(self) -> None:
        """Add the cpu / mem / trend columns (once)."""
        if self.columns_shown == COLUMNS:
            for name in STATS_COLUMNS:
                self.add_column(name, key=name)
            self.columns_shown = COLUMNS + STATS_COLUMNS
            # Rows are re-added with the new cells by the next show(); the cursor must
            # stay on the service the user chose (a key pressed next acts on it).
            self._reselect = self.selected
            self.clear()

    def show(
        self,
        statuses: list[Any],
        now: float,
        watching: set[str],
        reloads: dict[str, Any],
        waits: dict[str, str] | None = None,
        stats: dict[str, tuple[str, str, str]] | None = None,
    ) -> None:
        """Redraw from statuses, in their order (in place when the services are
        unchanged). ``waits``: why a service is not up yet (shown as its state);
        ``stats``: (cpu, mem, sparkline) per service, once ``show_stats`` ran."""
        waits, stats = waits or {}, stats or {}
        with_stats = self.columns_shown != COLUMNS
        rows = {
            s.service: self._cells(s, now, s.service in watching, reloads.get(s.service),
                                   waits.get(s.service))
            + ((stats.get(s.service) or ("-", "-", "")) if with_stats else ())
            for s in statuses
        }  # fmt: skip
        current = [key.value for key in self.rows]
        if current == list(rows):
            for service, cells in rows.items():
                for column, value in zip(self.columns_shown, cells, strict=True):
                    # Any update re-renders the table: touch only what changed.
                    if str(self.get_cell(service, column)) != str(value):
                        self.update_cell(service, column, value, update_width=True)
            return
        selected, self._reselect = self._reselect or self.selected, None
        self.clear()
        for service, cells in rows.items():
            self.add_row(*cells, key=service)
        if selected in rows:
            self.move_cursor(row=list(rows).index(selected))

    @staticmethod
    def _cells(status: Any, now: float, watching: bool, event: Any, wait: str | None) -> tuple:
        style = _STYLES[formatting.severity(status)]
        running = status.state == "running"
        return (
            Text(status.service, style="bold"),
            Text(wait or formatting.state(status), style=style),
            Text(formatting.health(status), style="red" if status.health == "unhealthy" else ""),
            formatting.ports(status.ports) if running else "-",
            formatting.uptime(status.started_at if running else None, now),
            str(status.restart_count),
            Text(formatting.reload_cell(watching, event), style="green" if watching else "dim"),
        )
