"""The Build area: per-service image builds with progress, why each one ran, pushes and pins.

The images engine (``periph_env.images``: ``build``, ``push``, ``list_images``) runs in a
thread worker; its events are folded into ``BuildBoard`` on the UI thread in batches
(at most ten a second), so a chatty ``RUN`` step never floods the message queue.
Without a Docker engine or a registry the area says which is missing and how to get it.
"""

from __future__ import annotations

import importlib
import time
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from periph_env.common.runs import Run
from periph_env.errors import PeriphError
from periph_env.tui import actions
from periph_env.tui.views.build_state import STYLES, BuildBoard, human_size, short_digest

if TYPE_CHECKING:
    from periph_env.tui.app import PeriphApp

COLUMNS = ("service", "status", "now", "tags", "size", "time", "digest")
FLUSH_SECONDS = 0.1
DOCKER_REMEDY = "Start Docker, or run `periph testenv up --tier docker` (then `periph doctor`)."
REGISTRY_REMEDY = "Start the test registry with `periph testenv up --tier registry`."
LOGIN_REMEDY = (
    "Log in with `docker login HOST`, or set DOCKER_USERNAME and DOCKER_PASSWORD "
    "(for the test registry: `periph testenv up --tier registry`, then the eval line it prints)."
)


def remedy_for(message: str, hint: str | None = None) -> str:
    """Which engine a failure points at, as the next step that works.

    A registry that answers but wants a login needs credentials, not starting; when the test
    registry already runs, the step is pointing periph at it (``shell_env.remedy``), whatever
    the engine's own ``hint`` says (it cannot know that the test registry runs).
    """
    from periph_env.testenv import shell_env

    lowered = message.lower()
    if "registry" not in lowered:
        return hint or DOCKER_REMEDY
    default = hint or (LOGIN_REMEDY if "credentials" in lowered else REGISTRY_REMEDY)
    return shell_env.remedy("registry", default)


class BuildView(Vertical):
    """Build table, the selected service's detail (why, digest, failing step and log tail)."""

    BINDINGS = actions.bindings("build")
    can_focus = True

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="area-view")
        self.board = BuildBoard()
        self._listed = False

    @property
    def papp(self) -> PeriphApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Static("", id="build-banner", classes="engine-banner")
        yield Static("Reading the project's images…", id="build-status", classes="progress")
        yield DataTable(id="build-table", cursor_type="row")
        # Not focusable: leaving the area must not hand focus to a sibling in this pane
        # (TabbedContent would switch back to the pane that holds the focus).
        with VerticalScroll(id="build-detail-box", can_focus=False):
            yield Static("", id="build-detail")

    def on_mount(self) -> None:
        self.query_one("#build-banner").display = False
        table = self.query_one(DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name)
        self.papp.view_mounted("build")
        if self.papp.area == "build":
            self.shown()

    def shown(self) -> None:
        """The tab became visible: list images once (in a worker)."""
        self.focus_main()
        if not self._listed:
            self._listed = True
            self._list_images()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        # Leaving the area, Textual hands focus to a neighbour that may sit in this
        # (now hidden) pane; TabbedContent would then switch back here. Not while hidden.
        if self.papp.area != "build":
            event.stop()

    def focus_main(self) -> None:
        """Focus the table (so the area's keys are live) while the area is on screen."""
        if self.papp.area == "build":  # focusing a hidden pane's widget would switch to it
            self.query_one(DataTable).focus()

    def _api(self) -> Any:
        return getattr(self.papp, "images_api", None) or importlib.import_module(
            "periph_env.images"
        )

    # -- rendering ----------------------------------------------------------------------

    @property
    def selected(self) -> str | None:
        """The service under the cursor."""
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        row_key, _ = table.coordinate_to_cell_key((table.cursor_row, 0))
        return row_key.value

    def redraw(self) -> None:
        """Redraw table, headline and detail from the board."""
        table = self.query_one(DataTable)
        for service, row in self.board.rows.items():
            cells = (
                Text(service, style="bold"),
                Text(row.status, style=STYLES.get(row.status, "")),
                Text(self.board.current(row), overflow="ellipsis", no_wrap=True),
                ", ".join(t.rsplit(":", 1)[-1] for t in row.tags) or "-",
                human_size(row.size),
                f"{row.seconds:.1f}s" if row.seconds else "-",
                short_digest(row.digest),
            )
            if service in table.rows:
                for column, cell in zip(COLUMNS, cells, strict=True):
                    table.update_cell(service, column, cell, update_width=True)
            else:
                table.add_row(*cells, key=service)
        style = "bold red" if self.board.failed_run else ""
        self.query_one("#build-status", Static).update(Text(self.board.message, style=style))
        self._show_detail()

    def _show_detail(self) -> None:
        service = self.selected
        text = Text()
        if service is not None:
            for index, (line, style) in enumerate(self.board.detail(service)):
                text.append(("\n" if index else "") + line, style=style)
        self.query_one("#build-detail", Static).update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_detail()

    def show_problem(self, message: str, remedy: str) -> None:
        """Something the whole area needs is missing (engine, registry): say how to get it."""
        banner = self.query_one("#build-banner", Static)
        text = Text()
        text.append(message.splitlines()[0] if message else "unavailable", style="bold")
        text.append("\n" + remedy)
        text.append("\nThe other areas keep working.", style="dim")
        banner.update(text)
        banner.display = True

    def hide_problem(self) -> None:
        """The engines answer."""
        self.query_one("#build-banner").display = False

    # -- engine work (thread workers) ---------------------------------------------------

    @work(thread=True, exclusive=True, group="build-list", exit_on_error=False)
    def _list_images(self) -> None:
        try:
            listing = self._api().list_images(self.papp.root)
        except PeriphError as exc:
            message = exc.message if hasattr(exc, "message") else str(exc)
            self.app.call_from_thread(self._listed_failed, message, getattr(exc, "hint", None))
            return
        self.app.call_from_thread(self._apply_listing, listing)

    def _listed_failed(self, message: str, hint: str | None) -> None:
        self.show_problem(message, remedy_for(message, hint))
        self.board.message = "cannot read images"
        self.redraw()

    def _apply_listing(self, listing: list[Any]) -> None:
        self.board.know([item.service for item in listing])
        remote_down = None
        for item in listing:
            row = self.board.row(item.service)
            local = self._matching(item.local, row.content_tag)
            if local is not None:
                row.size = local.size
                if not row.tags:
                    row.tags = list(local.tags)
            remote = self._matching(item.remote, row.content_tag)
            if remote is not None and remote.digest and not row.digest:
                row.digest = remote.digest
            remote_down = remote_down or item.remote_error
        if remote_down:
            self.show_problem(f"Registry not reachable: {remote_down}", remedy_for(remote_down))
        if not self.board.running and not self.board.message.endswith("done"):
            count = len(listing)
            self.board.message = self.board.message or f"{count} services with images"
        self.redraw()

    @staticmethod
    def _matching(rows: list[Any], content_tag: str) -> Any:
        for row in rows:
            if content_tag and any(t.endswith(":" + content_tag) for t in row.tags):
                return row
        return rows[0] if rows and not content_tag else None

    def run_images(self, verb: str, services: list[str] | None) -> None:
        """Start ``build``/``push``/``pin-demo``/``pin-prod`` for ``services`` (None: all)."""
        if self.board.running:
            self.app.notify("A build is already running", severity="warning")
            return
        self.board.start(services or list(self.board.rows), verb)
        self.redraw()
        self._run(verb, services)

    @work(thread=True, exclusive=True, group="build-run", exit_on_error=False)
    def _run(self, verb: str, services: list[str] | None) -> None:
        # An owned run in the app's registry: quitting stops it (the image pipeline closes
        # its build streams at their next event) and waits for it.
        run = Run(f"{verb} of {', '.join(services) if services else 'every image'}")
        runs = getattr(self.app, "runs", None)
        if runs is not None:
            runs.add(run)
        with run.working():
            self._run_images(run, verb, services)

    def _run_images(self, run: Run, verb: str, services: list[str] | None) -> None:
        api = self._api()
        started = time.monotonic()
        batch: list[Any] = []
        flushed = time.monotonic()
        failed = 0
        try:
            if verb == "push":
                events = api.push(self.papp.root, services)
            else:
                options_cls = (
                    getattr(api, "BuildOptions", None)
                    or importlib.import_module("periph_env.images.pipeline").BuildOptions
                )
                pin = verb.split("-", 1)[1] if verb.startswith("pin-") else None
                events = api.build(self.papp.root, options_cls(services=services, pin=pin))
            for event in events:
                if run.stop_requested:
                    close = getattr(events, "close", None)
                    if close is not None:
                        close()
                    return
                batch.append(event)
                if type(event).__name__ == "Done" and event.result.status == "failed":
                    failed += 1
                now = time.monotonic()
                if now - flushed >= FLUSH_SECONDS or type(event).__name__ == "Done":
                    self.app.call_from_thread(self._apply, batch)
                    batch, flushed = [], now
        except PeriphError as exc:
            self.app.call_from_thread(self._apply, batch)
            message = exc.message if hasattr(exc, "message") else str(exc)
            hint = getattr(exc, "hint", None)
            self.app.call_from_thread(self._run_failed, verb, message, hint)
            return
        self.app.call_from_thread(self._apply, batch)
        seconds = time.monotonic() - started
        summary = f"{verb}: done in {seconds:.1f}s" + (f", {failed} failed" if failed else "")
        self.app.call_from_thread(self._finished, summary, bool(failed))
        try:
            listing = api.list_images(self.papp.root)
        except PeriphError:
            return
        self.app.call_from_thread(self._apply_listing, listing)

    def _apply(self, events: list[Any]) -> None:
        for event in events:
            self.board.apply(event)
        self.redraw()

    def _run_failed(self, verb: str, message: str, hint: str | None) -> None:
        self.board.finish(f"{verb} failed: {message}", failed=True)
        if "Docker" in message or "registry" in message.lower() or "engine" in message.lower():
            self.show_problem(message, remedy_for(message, hint))
        elif hint:
            self.board.message += f" — {hint}"
        self.redraw()

    def _finished(self, summary: str, failed: bool) -> None:
        self.hide_problem()
        self.board.finish(summary)
        self.board.failed_run = failed
        self.redraw()

    # -- actions ------------------------------------------------------------------------

    def _one(self) -> list[str] | None:
        service = self.selected
        return [service] if service else None

    def action_build(self) -> None:
        self.run_images("build", self._one())

    def action_build_all(self) -> None:
        self.run_images("build", None)

    def action_push(self) -> None:
        self.run_images("push", None)

    def action_pin_demo(self) -> None:
        self.run_images("pin-demo", None)

    def action_pin_prod(self) -> None:
        self.run_images("pin-prod", None)

    def action_copy(self) -> None:
        service = self.selected
        row = self.board.rows.get(service or "")
        if row is None or not row.digest:
            self.app.notify("No digest yet: push first", severity="warning")
            return
        self.app.copy_to_clipboard(row.digest)
        self.app.notify(f"copied {row.digest}")

    def action_refresh(self) -> None:
        self._list_images()
