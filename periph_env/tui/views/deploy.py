"""The Deploy area: pick demo or prod, check the guards and the change summary, confirm,
watch the rollout (Deployments, pods, problems, events, live logs), roll back, and read
the shared history.

The state lives in the app's ``DeploySession`` (``deploy_session.py``), so a deploy runs
on while the maintainer looks at another area; this view only draws it, whenever the
session posts ``SessionChanged``.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, RichLog, Select, Static, Switch, TabbedContent, TabPane

from periph_env.errors import PeriphError
from periph_env.tui import actions
from periph_env.tui.formatting import safe
from periph_env.tui.views.deploy_session import (
    K8S_REMEDY,
    PodLogLines,
    RollbackChecked,
    SessionChanged,
    session_for,
)
from periph_env.tui.widgets import deploy_panels as panels
from periph_env.tui.widgets.confirm import Confirm
from periph_env.tui.widgets.confirm_deploy import ConfirmDeploy
from periph_env.tui.widgets.deploy_previews import PreviewsPane

if TYPE_CHECKING:
    from periph_env.tui.app import PeriphApp
    from periph_env.tui.views.deploy_session import DeploySession

ENVIRONMENTS = ("demo", "prod")
DEPLOYMENT_COLUMNS = ("deployment", "desired", "updated", "ready", "available", "state")
POD_COLUMNS = ("pod", "status", "ready", "restarts", "age")
HISTORY_COLUMNS = ("#", "action", "result", "who", "when", "took", "commit", "images")


class DeployView(Vertical):
    """Environment picker, banners, and four panes: plan, rollout, logs, history."""

    BINDINGS = actions.bindings("deploy")
    can_focus = True

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="area-view")
        self._drawn = -1

    @property
    def papp(self) -> PeriphApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    @property
    def session(self) -> DeploySession:
        """The app's deploy session (outlives this view's visibility)."""
        return session_for(self.papp)

    def compose(self) -> ComposeResult:
        with Horizontal(id="deploy-toolbar"):
            yield Select[str](
                [(e, e) for e in ENVIRONMENTS], value="demo", allow_blank=False, id="deploy-env"
            )
            yield Static("auto-rollback", id="deploy-auto-label")
            yield Switch(value=False, id="deploy-auto")
            yield Static("canary", id="deploy-canary-label")
            yield Switch(value=False, id="deploy-canary")
            yield Static("", id="deploy-headline")
        yield Static("", id="deploy-prod-banner")
        yield Static("", id="deploy-cluster-banner", classes="engine-banner")
        with TabbedContent(id="deploy-tabs"):
            with TabPane("Plan", id="deploy-plan"), VerticalScroll(id="deploy-plan-body"):
                yield Static("", id="deploy-guards")
                yield Static("", id="deploy-summary")
            with TabPane("Rollout", id="deploy-rollout"), Vertical():
                yield DataTable(id="deploy-deployments", cursor_type="row")
                yield DataTable(id="deploy-pods", cursor_type="row")
                with VerticalScroll(id="deploy-problems-box", can_focus=False):
                    yield Static("", id="deploy-problems")
            with TabPane("Logs", id="deploy-logs"):
                yield RichLog(id="deploy-log", max_lines=5_000, markup=False, wrap=False)
            with TabPane("History", id="deploy-history"):
                yield DataTable(id="deploy-history-table", cursor_type="row")
            with TabPane("Previews", id="deploy-previews"):
                yield PreviewsPane(id="deploy-previews-pane")

    def on_mount(self) -> None:
        for table_id, columns in (
            ("#deploy-deployments", DEPLOYMENT_COLUMNS),
            ("#deploy-pods", POD_COLUMNS),
            ("#deploy-history-table", HISTORY_COLUMNS),
        ):
            table = self.query_one(table_id, DataTable)
            for column in columns:
                table.add_column(column, key=column)
        session = self.session
        session.listener = self
        self.query_one("#deploy-env", Select).value = session.state.env
        self.query_one("#deploy-log", RichLog).write("\n".join(session.logs) or "")
        self.redraw()
        self.set_interval(0.5, self._sync_visible)
        self.papp.view_mounted("deploy")
        if self.papp.area == "deploy":
            # After a refresh: mounted while shown, its inner tabs are not there yet.
            self.call_after_refresh(self.shown)

    def on_unmount(self) -> None:
        self.session.close()

    def shown(self) -> None:
        """The tab became visible: start watching the environment (once), redraw."""
        self.session.visible = True
        self.session.select(self.session.state.env)  # once per environment
        self.session.start_monitor()
        self.redraw()
        self.focus_main()

    def _sync_visible(self) -> None:
        visible = self.papp.area == "deploy"
        if visible and not self.session.visible:
            self.session.start_monitor()  # wake it: list now, then ten times a second
        self.session.visible = visible

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        # Leaving the area, Textual hands focus to a neighbour that may sit in this
        # (now hidden) pane; TabbedContent would then switch back here. Not while hidden.
        if self.papp.area != "deploy":
            event.stop()

    def focus_main(self) -> None:
        """Focus the visible pane's main widget (so the area's keys are live)."""
        if self.papp.area != "deploy":
            return  # focusing a hidden pane's widget would switch the app to it
        tabs = self.query_one("#deploy-tabs", TabbedContent)
        target = {
            "deploy-rollout": "#deploy-deployments",
            "deploy-logs": "#deploy-log",
            "deploy-history": "#deploy-history-table",
            "deploy-previews": "#deploy-previews-table",
        }.get(tabs.active, "#deploy-plan-body")
        self.query_one(target).focus()

    # -- drawing ------------------------------------------------------------------------

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # The previews are listed when their pane is opened (and while it shows), never
        # in the background of the other panes.
        if event.pane.id == "deploy-previews":
            self.query_one(PreviewsPane).shown()

    def on_session_changed(self, message: SessionChanged) -> None:
        message.stop()
        self.redraw()

    def on_pod_log_lines(self, message: PodLogLines) -> None:
        message.stop()
        log = self.query_one("#deploy-log", RichLog)
        for line in message.lines:
            log.write(line)

    def redraw(self) -> None:
        """Draw everything from the session's state (skipped when nothing changed)."""
        state = self.session.state
        with self.session.lock:
            if state.version == self._drawn:
                return
            self._drawn = state.version
            self._draw(state)

    def _draw(self, state: Any) -> None:
        text, style = state.headline()
        self.query_one("#deploy-headline", Static).update(Text(text, style=style))
        banner = self.query_one("#deploy-prod-banner", Static)
        banner.display = state.env == "prod"
        banner.update(panels.prod_banner(state.env))
        cluster = self.query_one("#deploy-cluster-banner", Static)
        cluster.display = bool(state.cluster_error)
        if state.cluster_error:
            from periph_env.testenv import shell_env  # only when a banner shows

            remedy = shell_env.remedy("k8s", K8S_REMEDY)  # the eval line when the test one runs
            cluster.update(panels.cluster_banner(state.env, safe(state.cluster_error), remedy))
        check_key = actions.key_display(self.papp.key_for("deploy.check"))
        self.query_one("#deploy-guards", Static).update(panels.guards_text(state, check_key))
        self.query_one("#deploy-summary", Static).update(panels.summary_text(state))
        self._fill("#deploy-deployments", panels.deployment_rows(state))
        self._fill(
            "#deploy-pods",
            {
                p.name: (
                    Text(p.name, style="bold red" if p.problem else ""),
                    Text(p.status, style="bold red" if p.problem else ""),
                    p.ready,
                    Text(str(p.restarts), style="red" if p.restarts else ""),
                    p.age,
                )
                for p in state.pods
            },
        )
        self.query_one("#deploy-problems", Static).update(panels.problems_text(state))
        history = state.history_error and {"error": (Text(safe(state.history_error), style="red"),)}
        self._fill(
            "#deploy-history-table",
            history or {str(r.revision): panels.history_cells(r) for r in state.history},
        )

    def _fill(self, selector: str, rows: dict[str, tuple[Any, ...]]) -> None:
        """Replace a table's rows, keeping the cursor on the same key."""
        table = self.query_one(selector, DataTable)
        keys = [k.value for k in table.rows]
        if keys == list(rows):
            columns = [c.key for c in table.columns.values()]
            for key, cells in rows.items():
                for column, cell in zip(columns, cells, strict=False):
                    table.update_cell(key, column, cell, update_width=True)
            return
        selected = keys[table.cursor_row] if keys and table.cursor_row < len(keys) else None
        table.clear()
        width = len(table.columns)
        for key, cells in rows.items():
            table.add_row(*(list(cells) + [""] * (width - len(cells)))[:width], key=key)
        if selected in rows:
            table.move_cursor(row=list(rows).index(selected))

    # -- environment and options ----------------------------------------------------------

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        env = str(event.value)
        try:
            self.session.select(env)
        except PeriphError as exc:
            self.app.notify(exc.message, severity="warning")
            event.select.value = self.session.state.env
            return
        self.query_one("#deploy-log", RichLog).clear()
        self.redraw()

    @property
    def auto_rollback(self) -> bool:
        """Roll back on a failed rollout (the switch)."""
        return self.query_one("#deploy-auto", Switch).value

    @property
    def canary(self) -> bool:
        """Judge one new backend pod beside the old ones first (``deploy --canary``)."""
        return self.query_one("#deploy-canary", Switch).value

    def options_text(self) -> str:
        """The options the next deploy runs with, as the confirmation says them."""
        auto = "on" if self.auto_rollback else "off"
        canary = "on: one new backend pod judged first" if self.canary else "off"
        return f"auto-rollback {auto}\ncanary {canary}"

    def action_env(self) -> None:
        select = self.query_one("#deploy-env", Select)
        env = self.session.state.env
        select.value = ENVIRONMENTS[(ENVIRONMENTS.index(env) + 1) % len(ENVIRONMENTS)]

    def action_auto_rollback(self) -> None:
        switch = self.query_one("#deploy-auto", Switch)
        switch.value = not switch.value
        self.app.notify(f"auto-rollback {'on' if switch.value else 'off'}")

    def action_canary(self) -> None:
        switch = self.query_one("#deploy-canary", Switch)
        switch.value = not switch.value
        self.app.notify(f"canary {'on' if switch.value else 'off'} for the next deploy")

    def _pane(self, pane: str) -> None:
        self.query_one("#deploy-tabs", TabbedContent).active = pane
        self.call_after_refresh(self.focus_main)

    def action_plan(self) -> None:
        self._pane("deploy-plan")

    def action_rollout(self) -> None:
        self._pane("deploy-rollout")

    def action_history(self) -> None:
        self._pane("deploy-history")

    def action_previews(self) -> None:
        self._pane("deploy-previews")

    def action_preview_up(self) -> None:
        self._pane("deploy-previews")
        self.query_one(PreviewsPane).bring_up()

    def action_preview_down(self) -> None:
        if self.query_one("#deploy-tabs", TabbedContent).active != "deploy-previews":
            self._pane("deploy-previews")
            self.app.notify("Pick the preview to delete, then press x again")
            return
        self.query_one(PreviewsPane).delete_selected()

    def action_logs(self) -> None:
        self._pane("deploy-logs")
        self.session.follow_logs()

    def action_refresh(self) -> None:
        self.session.run("history")
        self.session.start_monitor()
        if self.query_one("#deploy-tabs", TabbedContent).active == "deploy-previews":
            self.query_one(PreviewsPane).reload()

    # -- operations ---------------------------------------------------------------------

    def _busy(self) -> bool:
        state = self.session.state
        if state.running:
            self.app.notify(f"{state.operation} of {state.env} still runs", severity="warning")
        return state.running

    def action_check(self) -> None:
        if not self._busy():
            # The canary's scope refusal (a change beyond the backend) shows at the check.
            self.session.run("check", auto_rollback=self.auto_rollback, canary=self.canary)
            self._pane("deploy-plan")

    def action_status(self) -> None:
        if not self._busy():
            self.session.run("status")
            self._pane("deploy-rollout")

    def action_run(self) -> None:
        state = self.session.state
        if self._busy():
            return
        if not state.guards:
            self.app.notify("Checking the guards first; deploy again when they pass")
            self.action_check()
            return
        failing = state.failing_guards()
        # The confirmation guard refuses only for want of --yes: the typed name is it here.
        blocking = [g for g in failing if g.name != "confirmation"]
        if blocking:
            names = ", ".join(f"{g.name} ({g.message})" for g in blocking)
            self._refused(f"guard failed: {names}")
            self._pane("deploy-plan")
            return
        images = len(state.summary.images) if state.summary else 0
        detail = f"{images} image(s) pinned by digest\n{self.options_text()}"
        self._confirm("Deploy", detail, self._deploy_confirmed)

    def _refused(self, why: str, operation: str = "deploy") -> None:
        """Say, in the headline and a notification, that the deploy (or rollback) did not
        start."""
        session = self.session
        with session.lock:
            session.state.operation = operation
            session.state.finished = SimpleNamespace(result="refused", revision=None, message=why)
            session.state.version += 1
        self.app.notify(f"{operation.capitalize()} refused: {why}", severity="error", timeout=8)
        self.redraw()

    def _confirm(self, what: str, detail: str, then: Any) -> None:
        env = self.session.state.env
        self.app.push_screen(ConfirmDeploy(env, what, detail, typed=env == "prod"), then)

    def _deploy_confirmed(self, confirmed: bool | None) -> None:
        env = self.session.state.env
        if not confirmed:
            self._refused(f"{env} not confirmed")
            return
        self.session.run("deploy", auto_rollback=self.auto_rollback, canary=self.canary)
        self._pane("deploy-rollout")

    def action_rollback(self) -> None:
        self._ask_rollback(None)

    def action_rollback_to(self) -> None:
        if self._busy():
            return
        table = self.query_one("#deploy-history-table", DataTable)
        state = self.session.state
        if not state.history or not table.row_count:
            self.app.notify("No deploy in the history to return to", severity="warning")
            return
        row_key, _ = table.coordinate_to_cell_key((table.cursor_row, 0))
        self._ask_rollback(int(str(row_key.value)))

    def _ask_rollback(self, revision: int | None) -> None:
        """Check the schema first (read-only); the confirmation then says what it found."""
        if self._busy():
            return
        if self.session.check_rollback(revision):
            self.app.notify("Reading the database's migrations before the rollback…")
        else:
            self.app.notify("The schema check of a rollback already runs", severity="warning")

    def on_rollback_checked(self, message: RollbackChecked) -> None:
        message.stop()
        revision, preview = message.to_revision, message.preview
        where = (
            f"every Deployment to what deploy #{revision} ran"
            if revision
            else "every Deployment to its previous revision"
        )
        if self._busy():
            return
        if preview is None:
            detail = f"{where}\nschema: checked when the rollback runs"
            self._confirm("Roll back", detail, self._rollback(revision))
        elif preview.ok:
            lines = "\n".join(f"schema: {safe(line)}" for line in preview.lines[-6:])
            self._confirm("Roll back", f"{where}\n{lines}".rstrip(), self._rollback(revision))
        else:
            why = safe(preview.message) + (f" ({safe(preview.hint)})" if preview.hint else "")
            self._refused(why, "rollback")
            if preview.forceable:
                self._offer_force(revision, preview)

    def _offer_force(self, revision: int | None, preview: Any) -> None:
        """A schema refusal can be overridden: say so, then ask twice (the second time by
        typing the environment's name) before ``--force-schema``."""
        env = self.session.state.env
        lines = "\n".join(safe(line) for line in preview.lines[-6:])
        detail = f"{safe(preview.message)}\n→ {safe(preview.hint)}\n{lines}".rstrip()
        ask = (
            "Press y to force it with --force-schema (you confirm once more); escape or n cancels."
        )

        def asked(ok: bool | None) -> None:
            if not ok:
                return
            self.app.push_screen(
                ConfirmDeploy(
                    env, "Roll back with --force-schema",
                    f"{detail}\nThe old code will run on a schema it does not know.",
                    typed=True,
                ),
                self._rollback(revision, force_schema=True),
            )  # fmt: skip

        title = f"Rollback of {env.upper()} refused by the schema check"
        self.app.push_screen(Confirm(title, detail, ask, loud=True), asked)

    def _rollback(self, revision: int | None, *, force_schema: bool = False) -> Any:
        def confirmed(ok: bool | None) -> None:
            if not ok:
                self.app.notify("Rollback not confirmed: nothing changed", severity="warning")
                return
            self.session.run("rollback", to_revision=revision, force_schema=force_schema)
            self._pane("deploy-rollout")

        return confirmed
