"""The app's stack side: the actions the Stack and Logs views ask of it (run in workers
on the stack session) and the engine messages it hands to those views.

A mixin of ``PeriphApp`` (Textual finds ``on_*`` handlers along the whole MRO): it uses the
app's ``session``, ``tell``, ``show_area``, ``notify`` and ``services``.
"""

from __future__ import annotations

from typing import Any

from textual import work
from textual.widgets import Input

from periph_env.tui.messages import (
    ActionProgress,
    EngineDown,
    EngineReady,
    LogBatch,
    ReloadHappened,
    StatusChanged,
)


class StackOperations:
    """Stack actions and engine messages of ``PeriphApp``."""

    session: Any
    services: list[str]

    def stack_action(self, verb: str, services: list[str] | None) -> None:
        """Run ``up``/``down``/``start``/``stop``/``restart``/``rebuild`` in a worker."""
        if self.session is None or not self.session.connected:
            self.notify(f"No {self._engine_name()} yet", severity="warning")
            return
        self._stack_action(verb, services)

    def _engine_name(self) -> str:
        cluster = self.session is not None and self.session.kind == "cluster"
        return "answer from the cluster" if cluster else "Docker engine"

    @work(thread=True, group="stack-action")
    def _stack_action(self, verb: str, services: list[str] | None) -> None:
        assert self.session is not None
        self.session.run_action(verb, services)

    def toggle_reload(self, service: str | None) -> None:
        """Turn hot reload on or off for one service (None: every service with rules)."""
        if self.session is None or not self.session.connected:
            self.notify(f"No {self._engine_name()} yet", severity="warning")
            return
        self._toggle_reload(service)

    @work(thread=True, exclusive=True, group="reload-toggle")
    def _toggle_reload(self, service: str | None) -> None:
        assert self.session is not None
        try:
            if service is None:
                watched = self.session.watch_all(not self.session.watched)
                text = (
                    f"hot reload on for {', '.join(sorted(watched))}"
                    if watched
                    else "hot reload off"
                )
            else:
                on = self.session.toggle_watch(service)
                text = f"{service}: hot reload {'on' if on else 'off'}"
        except Exception as exc:  # e.g. no develop.watch rules: the engine says which
            self.call_from_thread(self.notify, f"hot reload: {exc}", severity="error")
        else:
            self.call_from_thread(self.notify, text)
        self.call_from_thread(self.tell, "stack", lambda view: view.redraw())

    def open_logs(self, service: str | None) -> None:
        """Show the Logs area for one service (None: merged)."""
        self.tell("logs", lambda view: view.show_service(service))
        self.show_area("logs")

    def start_engine(self) -> None:
        """Start a Docker engine with the testenv (where periph can)."""
        from periph_env.tui.session import can_start_engine

        if not can_start_engine():
            self.notify(
                "periph cannot start an engine here; start Docker yourself", severity="warning"
            )
            return
        for area in ("stack", "logs"):
            self.tell(area, lambda view: view.query_one(".engine-banner").show_starting())
        self._start_engine()

    @work(thread=True, exclusive=True, group="engine-start")
    def _start_engine(self) -> None:
        assert self.session is not None
        ok, tail = self.session.start_engine()
        severity = "information" if ok else "error"
        text = "Docker engine started" if ok else f"could not start the engine:\n{tail}"
        self.call_from_thread(self.notify, text, severity=severity)

    # -- engine messages ----------------------------------------------------------------

    def on_engine_down(self, message: EngineDown) -> None:
        self._show_label()
        for area in ("stack", "logs"):
            self.tell(
                area,
                lambda v: v.engine_down(
                    message.message, message.remedy, message.can_start, message.title
                ),
            )

    def on_engine_ready(self, message: EngineReady) -> None:
        for area in ("stack", "logs"):
            self.tell(area, lambda view: view.engine_up())
        self._show_label()
        self._show_statuses(message.statuses)
        if self.area == "stack" and not isinstance(self.focused, Input):
            self._focus_area()  # the table appears now; never steal a field being typed in

    def _show_label(self) -> None:
        """The Stack area's header: which stack (compose, or which cluster namespace)."""
        if self.session is not None:
            label = self.session.label
            self.tell("stack", lambda view: view.show_backend(label))

    def on_status_changed(self, message: StatusChanged) -> None:
        self._show_statuses(message.statuses)

    def _show_statuses(self, statuses: list[Any]) -> None:
        self.services = [s.service for s in statuses]
        services = list(self.services)
        self.tell("stack", lambda view: view.show_statuses(statuses))
        self.tell("logs", lambda view: view.set_services(services))

    def on_log_batch(self, message: LogBatch) -> None:
        self.tell("logs", lambda view: view.add_lines(message.lines, message.dropped))

    def on_reload_happened(self, message: ReloadHappened) -> None:
        self.tell("stack", lambda view: view.on_reload(message.event))

    def on_action_progress(self, message: ActionProgress) -> None:
        self.tell("stack", lambda view: view.show_progress(message.text, message.failed))
