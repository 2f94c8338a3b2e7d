"""The Deploy area's Previews pane: the preview environments on the demo cluster.

A table (preview, branch, namespace, expires) filled from ``periph_env.deploy.preview.
list_previews`` (or the app's ``deploy_api.list_previews`` when one was handed to the app),
read in a thread worker whenever the pane is shown and every ``REFRESH`` seconds while it
is; a cluster that cannot be reached shows its error in the pane's status line instead.

``up`` brings up the checked-out branch's preview and ``down`` deletes the selected one
after its slug is typed (``preview_ops``); the progress shows under the table, as a
deploy's steps. The run is the app's (quitting asks before stopping it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from periph_env.errors import PeriphError
from periph_env.tui.formatting import safe
from periph_env.tui.views.deploy_state import DeployState
from periph_env.tui.widgets import preview_ops

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


class PreviewEvent(Message):
    """An event of the running ``preview up`` (None: the run ended; ``error``: it could
    not start or broke)."""

    def __init__(self, event: Any, error: str | None = None) -> None:
        super().__init__()
        self.event, self.error = event, error


class PreviewRemoved(Message):
    """``preview down`` ended: what happened, in words (or the error)."""

    def __init__(self, said: str, error: bool) -> None:
        super().__init__()
        self.said, self.error = said, error


class PreviewsPane(Vertical):
    """The previews table, a status line, and the progress of ``up``/``down``."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.loaded: list[Any] | None = None  # None until the first listing ended
        self._timer: Any = None
        self.progress = DeployState(env="preview")  # the last up's events, folded
        self.op_title = ""
        self.up_run: Any = None  # the running (or last) up

    def compose(self) -> ComposeResult:
        yield Static("previews: not listed yet", id="deploy-previews-status")
        yield DataTable(id="deploy-previews-table", cursor_type="row")
        yield Static("", id="deploy-previews-progress")

    # -- up and down ------------------------------------------------------------------

    @property
    def op_running(self) -> bool:
        """An up or down still runs."""
        return self.progress.running

    def bring_up(self) -> None:
        """Bring up (or update) the preview of the checked-out branch."""
        if self.op_running:
            self.app.notify(f"{self.op_title} still runs", severity="warning")
            return
        self.progress = DeployState(env="preview")
        self.progress.reset_for("preview up")
        self.op_title = "preview up"
        self._show_progress()
        app = self.app
        self.run_worker(lambda: self._drive_up(app), thread=True, group="preview-op")

    def _drive_up(self, app: Any) -> None:
        try:
            run = preview_ops.up_run(app)
        except PeriphError as exc:
            hint = f" ({exc.hint})" if exc.hint else ""
            self.post_message(PreviewEvent(None, f"{exc.message}{hint}"))
            return
        self.up_run = run
        runs = getattr(app, "runs", None)
        if runs is not None:
            runs.add(run)  # quitting asks before stopping it, and joins it
        branch = getattr(run, "branch", "")
        if branch:
            self.op_title = f"preview up of {branch}"
        try:
            for event in run.events():
                self.post_message(PreviewEvent(event))
        except PeriphError as exc:
            self.post_message(PreviewEvent(None, exc.message))
            return
        self.post_message(PreviewEvent(None))

    def on_preview_event(self, message: PreviewEvent) -> None:
        message.stop()
        state = self.progress
        if message.event is not None:
            state.apply(message.event)
        elif message.error is not None or state.running:
            why = message.error or "ended without saying how"
            state.finished = SimpleNamespace(result="failed", revision=None, message=why)
            state.running = False
        if message.event is None or not state.running:
            self.reload()  # the new (or updated) preview's expiry shows in the table
        self._show_progress()

    def _show_progress(self) -> None:
        text = preview_ops.progress_text(self.progress, self.op_title)
        self.query_one("#deploy-previews-progress", Static).update(text)

    def selected_preview(self) -> Any:
        """The preview under the table's cursor (None when there is none)."""
        table = self.query_one(DataTable)
        if not self.loaded or not table.row_count:
            return None
        row_key, _ = table.coordinate_to_cell_key((table.cursor_row, 0))
        return next((p for p in self.loaded if p.namespace == row_key.value), None)

    def delete_selected(self) -> None:
        """Delete the selected preview, once its slug is typed."""
        if self.op_running:
            self.app.notify(f"{self.op_title} still runs", severity="warning")
            return
        chosen = self.selected_preview()
        if chosen is None:
            self.app.notify("No preview selected: nothing to delete", severity="warning")
            return
        if not chosen.branch:
            self.app.notify(
                f"{chosen.namespace} records no branch: `periph preview gc` deletes it "
                "(it counts as expired)",
                severity="warning",
            )
            return
        detail = (
            f"namespace {chosen.namespace} (branch {chosen.branch}) and everything in it: "
            "its database, Secrets and pods"
        )
        title = f"Delete preview {chosen.slug}"
        self.app.push_screen(
            preview_ops.ConfirmTyped(safe(title), safe(detail), chosen.slug),
            lambda ok: self._remove(chosen, ok),
        )

    def _remove(self, chosen: Any, ok: bool | None) -> None:
        if not ok:
            self.app.notify("Preview not deleted: the slug was not typed", severity="warning")
            return
        self.progress = DeployState(env="preview")
        self.progress.reset_for("preview down")
        self.op_title = f"preview down of {chosen.branch}"
        self._show_progress()
        app = self.app

        def remove() -> None:
            try:
                said, error = preview_ops.down(app, chosen.branch), False
            except PeriphError as exc:
                said, error = exc.message, True
            self.post_message(PreviewRemoved(said, error))

        self.run_worker(remove, thread=True, group="preview-op")

    def on_preview_removed(self, message: PreviewRemoved) -> None:
        message.stop()
        result = "failed" if message.error else "succeeded"
        self.progress.finished = SimpleNamespace(result=result, revision=None, message=message.said)
        self.progress.running = False
        self._show_progress()
        self.reload()

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
