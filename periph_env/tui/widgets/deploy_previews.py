"""The Deploy area's Previews pane: the preview environments on the demo cluster.

A table (preview, branch, namespace, expires) filled from ``periph_env.deploy.preview.
list_previews`` (or the app's ``deploy_api.list_previews`` when one was handed to the app),
read in a thread worker whenever the pane is shown and every ``REFRESH`` seconds while it
is; a cluster that cannot be reached shows its error in the pane's status line instead.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from periph_env.errors import PeriphError
from periph_env.tui.formatting import safe

COLUMNS = ("preview", "branch", "namespace", "expires")
REFRESH = 15.0  # seconds between listings while the pane is on screen


def expires_in(expires_at: str, now: datetime) -> Text:
    """``in 3h 20m`` / ``expired`` (red) / ``unknown`` (red): how long a preview has left."""
    from periph_env.deploy.preview_plan import parse_time

    moment = parse_time(expires_at) if expires_at else None
    if moment is None:
        return Text("unknown (gc deletes it)", style="red")
    left = (moment - now).total_seconds()
    if left <= 0:
        return Text("expired (gc deletes it)", style="red")
    hours, minutes = int(left // 3600), int(left % 3600 // 60)
    days, hours = divmod(hours, 24)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours or days else []
    parts += [f"{minutes}m"] if not days else []
    return Text(f"in {' '.join(parts)}", style="yellow" if left < 3600 else "")


class PreviewsLoaded(Message):
    """A listing ended: the previews, or the error that stopped it."""

    def __init__(self, previews: list[Any], error: str | None) -> None:
        super().__init__()
        self.previews, self.error = previews, error


class PreviewsPane(Vertical):
    """The previews table and a status line."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.loaded: list[Any] | None = None  # None until the first listing ended
        self._timer: Any = None

    def compose(self) -> ComposeResult:
        yield Static("previews: not listed yet", id="deploy-previews-status")
        yield DataTable(id="deploy-previews-table", cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for column in COLUMNS:
            table.add_column(column, key=column)

    def _lister(self) -> Any:
        api = getattr(self.app, "deploy_api", None)
        lister = getattr(api, "list_previews", None) if api is not None else None
        if lister is None:
            from periph_env.deploy.preview import list_previews

            lister = list_previews
        return lister

    def shown(self) -> None:
        """The pane became visible: list now, then every ``REFRESH`` s while it shows."""
        self.reload()
        if self._timer is None:
            self._timer = self.set_interval(REFRESH, self._tick)

    def _tick(self) -> None:
        if self.is_on_screen:
            self.reload()

    @property
    def is_on_screen(self) -> bool:
        """Shown in the app (its area and its tab active)."""
        return getattr(self.app, "area", "deploy") == "deploy" and self.region.area > 0

    def reload(self) -> None:
        """List the previews in a thread (one listing at a time)."""
        self.query_one("#deploy-previews-status", Static).update("previews: listing…")
        lister, root = self._lister(), getattr(self.app, "root", None)
        self.run_worker(
            lambda: self._load(lister, root), thread=True, exclusive=True, group="previews"
        )

    def _load(self, lister: Any, root: Any) -> None:
        try:
            found, error = list(lister(root)), None
        except PeriphError as exc:
            found, error = [], exc.message
        self.post_message(PreviewsLoaded(found, error))

    def on_previews_loaded(self, message: PreviewsLoaded) -> None:
        message.stop()
        status = self.query_one("#deploy-previews-status", Static)
        table = self.query_one(DataTable)
        if message.error is not None:
            status.update(Text(f"previews: {safe(message.error)}", style="red"))
            return
        self.loaded = message.previews
        now = datetime.now(UTC)
        table.clear()
        for p in message.previews:
            table.add_row(
                safe(p.slug), safe(p.branch or "-"), safe(p.namespace),
                expires_in(p.expires_at, now), key=p.namespace,
            )  # fmt: skip
        count = len(message.previews)
        status.update(
            f"{count} preview(s) on the demo cluster; expired ones go with `periph preview gc`"
            if count
            else "no previews on the demo cluster; `periph preview up BRANCH` makes one"
        )
