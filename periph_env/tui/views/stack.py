"""The Stack area: every service live, its hot reload, and the actions on it.

Also, from the stack engine's pieces (issue 24): an alert per failure incident (a toast
with the hint and last lines, the bell and a desktop notification: ``AlertFeed``),
CPU / memory per service with a sparkline (``StatsModel``, read on the once-a-second
tick, so stats add no redraws of their own), a sort key (compose order → CPU → memory),
and why a service is not up yet (``WaitTracker``) in its state cell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from periph_env.stack.alerts import Alert, AlertSettings, terminal_sequence
from periph_env.stack.stats import cpu_text, human_bytes, sparkline
from periph_env.stack.waits import WaitTracker
from periph_env.tui import actions, formatting
from periph_env.tui.widgets.engine_banner import EngineBanner
from periph_env.tui.widgets.service_table import ServiceTable

if TYPE_CHECKING:
    from periph_env.tui.app import PeriphApp

STATS_EVERY = 5  # seconds per CPU / memory refresh and per sparkline point


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


class StackView(Vertical):
    """Services table, the selected service's detail and the last action's progress."""

    BINDINGS = actions.bindings("stack")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="area-view")
        self.statuses: dict[str, Any] = {}
        self.reloads: dict[str, Any] = {}
        self.tails: dict[str, list[str]] = {}
        self.sort = "compose"  # "compose" | "cpu" | "mem" (the `o` key cycles)
        self.alerts: list[Alert] = []  # raised so far (newest last)
        self.emitted: list[str] = []  # what went to the terminal (bell, OSC)
        self.stats: Any = None  # a StatsModel once the engine is known (real stacks)
        self._feed: Any = None
        self._waits: WaitTracker | None = None
        self._alert_settings: AlertSettings | None = None
        self._stats_values: dict[str, tuple[float, float]] = {}  # service -> (cpu, mem)
        self._stats_cache: tuple[float, dict[str, tuple[str, str, str]]] | None = None
        self.branch_db: Any = None  # a BranchDb once the stack is known (tests: a fake)
        self.branch_note: list[str] = []  # what the last branch check said
        self._switching = False  # a db switch runs (one at a time; no check meanwhile)

    @property
    def papp(self) -> PeriphApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        session = self.papp.session
        kind = session.kind if session is not None else "compose"
        # Which stack is on screen: compose (local) or a cluster namespace.
        yield Static(Text(f"stack: {kind}", style="bold"), id="stack-header")
        yield EngineBanner(id="stack-banner")
        where = "the cluster" if kind == "cluster" else "the Docker engine"
        yield Static(f"Connecting to {where}…", id="stack-empty", classes="hint")
        yield ServiceTable(id="services")
        yield Static("", id="service-detail")
        yield Static("", id="stack-progress", classes="progress")

    def on_unmount(self) -> None:
        if self.stats is not None:
            self.stats.stop()

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

    def show_backend(self, label: str) -> None:
        """The header: which stack the rows are of (``compose peripheral``,
        ``cluster peripheral-dev-alice (dev-cluster)``)."""
        self.query_one("#stack-header", Static).update(Text(f"stack: {label}", style="bold"))

    def engine_up(self) -> None:
        """The engine answers again."""
        self.query_one(EngineBanner).hide()

    def _feeds(self) -> None:
        """Make the alert feed, the stats model and the wait tracker once the session
        (and so the stack) is known. A piece that the stack cannot give (a fake stack in
        tests, a broken compose file) is left out rather than breaking the view."""
        session = self.papp.session
        stack = getattr(session, "stack", None)
        # On the cluster, alerts come from the pods' rows; the hint rules and the secrets
        # to mask are the compose file's and the env file's the cluster stack is made
        # from. The branch database is the db pod's (psql through kubectl exec); stats come
        # from the backend's model on the cluster (the kubelet's numbers).
        local = getattr(session, "kind", "compose") == "compose"
        cluster = None
        if not local:
            backend = getattr(session, "backend", None)
            cluster = getattr(backend, "cluster", None)
            stack = getattr(cluster, "stack", None)
            stats_model = getattr(backend, "stats_model", None)
            if stats_model is not None and self.stats is None:
                self.stats = stats_model()  # the pods' CPU/MEM, StatsModel's interface
        if self._feed is not None or stack is None:
            return
        from periph_env.common.config import load
        from periph_env.errors import PeriphError
        from periph_env.stack.alert_feed import AlertFeed
        from periph_env.stack.engine_api import EngineAPI
        from periph_env.stack.stats import StatsModel

        try:
            root = getattr(stack, "root", None) or self.papp.root
            settings = AlertSettings.from_config(load(root)) if root else AlertSettings()
        except PeriphError as exc:
            settings = AlertSettings()
            self.app.notify(exc.message, title="alerts", severity="warning", timeout=10)
        self._alert_settings = settings

        def tail(service: str, lines: int) -> list[str]:
            return [line.text for line in session.read_tail(service, lines)]

        def raised(alert: Alert) -> None:
            self.app.call_from_thread(self.show_alert, alert)

        self._feed = AlertFeed(stack, raised, settings, tail=tail)
        # Real stacks only (like the stats): the check runs psql in the db container/pod.
        if self.branch_db is None and isinstance(getattr(stack, "api", None), EngineAPI):
            from periph_env.tui.branch_db import BranchDb

            try:
                self.branch_db = BranchDb(stack, cluster)
            except (PeriphError, AttributeError, OSError):
                self.branch_db = None
        if local and isinstance(getattr(stack, "api", None), EngineAPI) and self.stats is None:
            self.stats = StatsModel(stack.api)
        try:
            depends = {n: s.depends_on for n, s in stack.model.services.items()}
        except (PeriphError, AttributeError):
            depends = {}
        self._waits = WaitTracker(depends)

    def show_statuses(self, statuses: list[Any]) -> None:
        """A fresh status snapshot from the engine."""
        self._feeds()
        if self._feed is not None:
            self._feed.statuses(statuses)
        if self.stats is not None:
            self.stats.update(statuses)
        self.statuses = {s.service: s for s in statuses}
        for status in statuses:
            if formatting.failed_one_shot(status) and status.service not in self.tails:
                self.tails[status.service] = []
                self._load_tail(status.service)
        self.query_one("#stack-empty").display = not statuses
        if not statuses:
            backend = getattr(self.papp.session, "backend", None)
            self.query_one("#stack-empty", Static).update(
                getattr(backend, "empty_text", "No services found in the compose project.")
            )
        table = self.query_one(ServiceTable)
        table.display = bool(statuses)
        self.redraw()

    def on_reload(self, event: Any) -> None:
        """A hot-reload step of one service."""
        self.reloads[event.service] = event
        if self._feed is not None:
            self._feed.reload(event)
        self.redraw()

    def show_alert(self, alert: Alert) -> None:
        """A failure worth telling: a toast with the hint and the last lines, the bell
        and a desktop notification (per the [alerts] settings)."""
        self.alerts.append(alert)
        body = alert.summary
        if alert.hint:
            body += f"\n→ {alert.hint}"
        if alert.lines:
            body += "\n" + "\n".join("  " + line for line in alert.lines[-4:])
        self.app.notify(body, title=alert.title, severity="error", timeout=20)
        sequence = terminal_sequence(alert, self._alert_settings or AlertSettings())
        if sequence:
            self.emitted.append(sequence)
            driver = getattr(self.app, "_driver", None)
            if driver is not None and not self.app.is_headless:
                # Textual owns the terminal: write through its driver, never around it.
                driver.write(sequence)
                driver.flush()

    def show_progress(self, text: str, failed: bool = False) -> None:
        """The running action's last step line."""
        self.query_one("#stack-progress", Static).update(
            Text(text, style="bold red" if failed else "")
        )

    # -- drawing ------------------------------------------------------------------------

    def _tick(self) -> None:
        if self.statuses and self.is_on_screen:
            self.redraw()
        if (
            self.branch_db is not None
            and self.statuses
            and not self._switching
            and self.branch_db.moved()
        ):
            self._check_branch()

    # -- per-branch databases (m) --------------------------------------------------------

    @work(thread=True, exclusive=True, group="branch-check")
    def _check_branch(self) -> None:
        lines = self.branch_db.check()
        self.app.call_from_thread(self.show_branch_note, lines)

    def show_branch_note(self, lines: list[str]) -> None:
        """The branch check's lines: in the progress line and, when new, as a toast."""
        if lines and lines != self.branch_note:
            key = actions.key_display(self.papp.key_for("stack.switch_db"))
            self.app.notify(
                "\n".join(lines), title=f"dev database ({key}: switch)", severity="warning"
            )
            self.show_progress(f"db: {lines[0]} ({key} switches)")
        self.branch_note = lines

    def action_switch_db(self) -> None:
        """Keep the dev database as its branch's snapshot; this branch's back (or fresh)."""
        if self.branch_db is None:
            self.app.notify("no dev database to switch (is the stack known?)", severity="warning")
            return
        if self._switching:
            self.app.notify("a db switch is running", severity="warning")
            return
        self._switching = True
        self.show_progress("db switch: saving the dev database under its branch…")
        self._switch_db()

    @work(thread=True, group="branch-switch")
    def _switch_db(self) -> None:
        from periph_env.errors import PeriphError

        try:
            lines = self.branch_db.switch()
        except PeriphError as exc:
            self.app.call_from_thread(self.show_progress, f"db switch failed: {exc}", True)
            self.app.call_from_thread(self.app.notify, str(exc), severity="error")
            return
        finally:
            self._switching = False
        self.app.call_from_thread(self.show_progress, "db switch: " + "; ".join(lines))
        self.app.call_from_thread(self.app.notify, "\n".join(lines), title="dev database")
        self.app.call_from_thread(setattr, self, "branch_note", [])

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

    def _stats_cells(self, now: float) -> dict[str, tuple[str, str, str]]:
        """(cpu, mem, sparkline) per service, recomputed every ``STATS_EVERY`` seconds:
        CPU is the mean over that window and each sparkline point one window. Why not
        every second: a table repaint a second (cells that always change) cost the idle
        TUI ~3 % CPU, over its 2 % goal; windows also smooth health-check spikes."""
        if self.stats is None:
            return {}
        if self._stats_cache is not None and now - self._stats_cache[0] < STATS_EVERY:
            return self._stats_cache[1]
        cells, self._stats_values = {}, {}
        for service, sample in self.stats.latest().items():
            cpus = [s.cpu for s in self.stats.history(service)]
            windows = [
                _mean(cpus[max(0, end - STATS_EVERY) : end])
                for end in range(len(cpus), 0, -STATS_EVERY)
            ][::-1]
            cpu = windows[-1] if windows else None
            self._stats_values[service] = (cpu or 0.0, float(sample.mem))
            cells[service] = (
                cpu_text(cpu),
                human_bytes(sample.mem),
                sparkline(windows, 8),
            )
        self._stats_cache = (now, cells)
        return cells

    def ordered(self) -> list[Any]:
        """The statuses in the chosen order: compose order, or busiest first (by the
        shown window's values, so rows move at most once per refresh)."""
        statuses = list(self.statuses.values())
        values = self._stats_values
        if self.sort == "compose" or not values:
            return statuses
        index = 0 if self.sort == "cpu" else 1
        return sorted(
            statuses, key=lambda st: -values[st.service][index] if st.service in values else 1.0
        )

    def redraw(self) -> None:
        """Redraw the table and the detail from what is known."""
        table = self.query_one(ServiceTable)
        now = self.papp.clock()
        latest = self.stats.latest() if self.stats is not None else {}
        if latest:
            table.show_stats()
        waits = {}
        if self._waits is not None:
            waits = {
                s: w.text(now) for s, w in self._waits.update(self.statuses.values(), now).items()
            }
        stats = self._stats_cells(now)  # first: ordered() reads the values it computes
        table.show(
            self.ordered(), now, self._watching(), self._last_reloads(), waits=waits, stats=stats
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
        session = self.papp.session
        for line in session.details(status.service) if session is not None else []:
            text.append("\n" + formatting.safe(line, one_line=True))
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

    def _act(self, verb: str, services: list[str] | None) -> None:
        if self._feed is not None and verb != "up":
            # A stop the user asked for is no crash (None: every service shown).
            self._feed.expect(services or list(self.statuses))
        self.papp.stack_action(verb, services)

    def _on_selected(self, verb: str) -> None:
        if services := self._selected():
            self._act(verb, services)

    def action_up(self) -> None:
        self._on_selected("up")

    def action_up_all(self) -> None:
        self.papp.stack_action("up", None)

    def action_down(self) -> None:
        self._act("down", None)

    def action_start(self) -> None:
        self._on_selected("start")

    def action_start_all(self) -> None:
        self._act("start", None)

    def action_stop(self) -> None:
        self._on_selected("stop")

    def action_stop_all(self) -> None:
        self._act("stop", None)

    def action_restart(self) -> None:
        self._on_selected("restart")

    def action_restart_all(self) -> None:
        self._act("restart", None)

    def action_rebuild(self) -> None:
        self._on_selected("rebuild")

    def action_rebuild_all(self) -> None:
        self._act("rebuild", None)

    def action_reload(self) -> None:
        if services := self._selected():
            self.papp.toggle_reload(services[0])

    def action_reload_all(self) -> None:
        self.papp.toggle_reload(None)

    def action_logs(self) -> None:
        service = self.query_one(ServiceTable).selected
        self.papp.open_logs(service)

    def action_shell(self) -> None:
        """Suspend the app and open the selected service's shell in its container (psql
        for db, redis-cli for cache, sh otherwise); the app comes back when it ends."""
        from periph_env.data.pg import docker_env
        from periph_env.data.shell import argv_for
        from periph_env.tui.suspend import run_on_terminal

        service = self.query_one(ServiceTable).selected
        status = self.statuses.get(service) if service else None
        session = self.papp.session
        hint = session.shell_hint(service or "") if session else None
        if hint:  # a pod, not a container: kubectl exec, or the toast names its command
            argv = session.shell_argv(service or "") if session else None
            if argv is None:
                self.app.notify(f"a shell in its pod: `{hint}`", severity="warning")
                return
            run_on_terminal(self.app, service or "", argv, None, hint)
            return
        if status is None or status.state != "running" or not status.container_id:
            self.app.notify(
                f"{service or 'no service'} is not running; u starts it", severity="warning"
            )
            return
        stack = getattr(self.papp.session, "stack", None)
        env = docker_env(getattr(getattr(stack, "api", None), "host", None))
        argv = argv_for(service, status.container_id, [], tty=True)
        run_on_terminal(self.app, service, argv, env, f"periph exec {service}")

    def action_sort(self) -> None:
        orders = ("compose", "cpu", "mem")
        self.sort = orders[(orders.index(self.sort) + 1) % len(orders)]
        self._stats_cache = None
        self.app.notify(
            f"services ordered by {self.sort if self.sort != 'compose' else 'compose file'}"
        )
        self.redraw()

    def action_engine(self) -> None:
        self.papp.start_engine()
