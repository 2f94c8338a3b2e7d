"""The TUI's link to the stack engine: connect, feed status and logs, run actions.

Everything here runs in Textual thread workers or in the engine's own threads; it reaches
the UI only through ``app.post_message`` (thread-safe). The engine is imported in
``connect()`` — after the first frame — unless the app was handed one (tests do that).

The stack is a ``StackBackend`` (``periph_env.stack.backend``): the compose project
(``ComposeBackend`` over the ``stack`` and ``api`` handed in, or the real ones), or, with
``cluster`` set (``periph --cluster [NAME]``), the dev stack on a Kubernetes namespace
(``periph_env.cluster.backend.ClusterBackend``). Everything below goes through it.

Reconnection: while no engine answers, ``connect()`` retries every ``retry`` seconds and
posts ``EngineDown`` with the remedy once per distinct problem. An action that finds the
engine gone posts ``EngineDown`` and restarts the loop, so the screens recover on their own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from periph_env.errors import PeriphError
from periph_env.tui import loader
from periph_env.tui.batcher import LineBatcher
from periph_env.tui.messages import (
    ActionProgress,
    EngineDown,
    EngineReady,
    LogBatch,
    ReloadHappened,
    StatusChanged,
)

START_ENGINE_ARGV = [sys.executable, "-m", "periph_env.testenv", "up", "--tier", "docker"]
DEFAULT_REMEDY = [
    "periph needs a Docker engine (dockerd) and Compose v2 for the Stack and Logs screens.",
    "Start Docker, or run `periph testenv up --tier docker`, then run `periph doctor`.",
]


def can_start_engine() -> bool:
    """True where ``periph testenv up --tier docker`` can start one (root on Debian)."""
    return os.geteuid() == 0 and (
        shutil.which("dockerd") is not None or Path("/etc/debian_version").exists()
    )


def remedy_lines(stack: Any, api: Any, error: BaseException) -> list[str]:
    """What ``periph doctor`` says about the failing checks, else the error's hint."""
    lines: list[str] = []
    if stack is not None and hasattr(api, "doctor"):
        try:
            for check in api.doctor(stack):
                if getattr(check, "status", "ok") != "fail":
                    continue
                name = getattr(check, "name", "check")
                detail = getattr(check, "detail", "") or getattr(check, "message", "")
                if detail and detail in str(error):
                    detail = "(above)"  # the banner's first line already says it
                lines.append(f"✗ {name}: {detail}".rstrip(": "))
                hint = getattr(check, "hint", None) or getattr(check, "remedy", None)
                if hint:
                    lines.append(f"  → {hint}")
        except Exception:  # doctor itself needs pieces that may be missing
            lines = []
    if not lines:
        hint = getattr(error, "hint", None)
        lines = [f"→ {hint}"] if hint else list(DEFAULT_REMEDY)
    return lines


class StackSession:
    """One connection to the stack engine, owned by the app, driven from workers."""

    def __init__(
        self,
        app: Any,
        root: Path | None,
        *,
        stack: Any = None,
        api: Any = None,
        retry: float = 3.0,
        max_lines: int = 10_000,
        backend: Any = None,
        cluster: str | None = None,
    ) -> None:
        """``stack``/``api``: the compose engine (tests: fakes); ``backend``: any
        ``StackBackend`` (tests: fakes); ``cluster``: the cluster name (``""``: the
        ``[dev.cluster]`` default) whose backend ``connect`` opens."""
        self.app = app
        self.root = root
        self.stack = stack
        self.api = api
        self.backend = backend
        self.cluster = cluster
        self.retry = retry
        self.connected = False
        self._stopping = threading.Event()
        self._status_model: Any = None
        self._follower: Any = None
        self._watcher: Any = None
        self._forwarder: Any = None  # the cluster's port-forwards (none for compose)
        self._watched: set[str] = set()
        self._watch_lock = threading.Lock()
        self._batcher = LineBatcher(
            self._post_lines, self._backlog, capacity=max_lines * 2, limit=self._batch_limit
        )
        self._lock = threading.Lock()
        self._connecting = False

    # -- connection ---------------------------------------------------------------------

    def connect(self) -> None:
        """Block (in a thread worker) until the engine answers, then start the feeds."""
        with self._lock:
            if self._connecting:
                return  # another thread is already waiting for the engine
            self._connecting = True
        try:
            self._connect_loop()
        finally:
            with self._lock:
                self._connecting = False

    def _connect_loop(self) -> None:
        last_problem = None
        while not self._stopping.is_set():
            try:
                if self.backend is None:
                    self.backend = self._open_backend()
                statuses = self.backend.statuses()
            except PeriphError as exc:
                problem = str(exc)
                if problem != last_problem:
                    last_problem = problem
                    if self.backend is None:  # no project, a bad compose file or config
                        down = EngineDown(
                            exc.message,
                            [f"→ {exc.hint}"] if exc.hint else [],
                            False,
                            title="No cluster stack" if self.cluster is not None else "No stack",
                        )
                    else:
                        down = self._down(exc)
                    self.app.post_message(down)
                self._stopping.wait(self.retry)
                continue
            self.connected = True
            self.app.post_message(EngineReady(self.stack, self.api, statuses))
            try:
                self._start_feeds()
            except PeriphError as exc:  # the engine went away between ps and the feeds
                self.connected = False
                last_problem = None
                self.app.post_message(self._down(exc))
                self._stopping.wait(self.retry)
                continue
            return

    def _open_backend(self) -> Any:
        """The cluster's backend with ``cluster`` set; else the compose project's."""
        if self.cluster is not None:
            module = loader.load("periph_env.cluster.backend", "periph_env.stack", "kubernetes")
            return module.ClusterBackend.open(self.root, self.cluster, self._notice)
        if self.api is None:
            # The SDK its threads import lazily comes in now, under the lock.
            self.api = loader.load("periph_env.stack", "periph_env.stack.status", "docker")
        if self.stack is None:
            self.stack = self.api.Stack(self.root)
        from periph_env.stack.backend import ComposeBackend

        return ComposeBackend(self.stack, self.api)

    @property
    def kind(self) -> str:
        """``compose`` or ``cluster`` (known before the backend is opened)."""
        if self.backend is not None:
            return str(self.backend.kind)
        return "cluster" if self.cluster is not None else "compose"

    @property
    def label(self) -> str:
        """Which stack is on screen (the Stack area's header)."""
        if self.backend is not None:
            return str(self.backend.label)
        return "cluster" if self.cluster is not None else "compose"

    def details(self, service: str) -> list[str]:
        """The backend's extra detail lines for ``service`` (the cluster's pod, forward)."""
        details = getattr(self.backend, "details", None)
        return list(details(service)) if details is not None else []

    def shell_argv(self, service: str) -> list[str] | None:
        """The argv of a session in ``service``'s pod (a cluster backend), else None."""
        argv = getattr(self.backend, "shell_argv", None)
        return argv(service) if argv is not None else None

    def shell_hint(self, service: str) -> str | None:
        """The command that opens a shell in ``service`` where periph does not (a pod)."""
        shell = getattr(self.backend, "shell", None)
        return shell(service) if shell is not None else None

    def _notice(self, line: str) -> None:
        """A note of the cluster engine (a listing that failed): the progress line."""
        self.app.post_message(ActionProgress(line))

    def _down(self, error: PeriphError) -> EngineDown:
        """The banner for an engine (or cluster) that does not answer."""
        if self.backend is not None and self.backend.kind != "compose":
            title = f"No answer from the {self.backend.label}"
            return EngineDown(error.message, self.backend.remedy(error), False, title=title)
        return EngineDown(
            error.message, remedy_lines(self.stack, self.api, error), can_start_engine()
        )

    def _start_feeds(self) -> None:
        with self._lock:
            if self._status_model is None:
                self._status_model = self.backend.status_feed(self._post_status)
                self._status_model.start()
            if self._follower is None:
                self._batcher.start()
                self._follower = self.backend.log_feed(self._batcher.feed)
                self._follower.start()
            forward = getattr(self.backend, "forward_feed", None)
            if self._forwarder is None and forward is not None:
                try:
                    self._forwarder = forward()
                except PeriphError as exc:  # no ports to forward: the rest still works
                    self._notice(f"no port-forwards: {exc.message}")
                if self._forwarder is not None:
                    self._forwarder.start()

    def _post_status(self, statuses: list[Any]) -> None:
        model = self._status_model
        up = getattr(model, "connected", True)
        if not up and self.connected:
            # The events stream broke: the engine is gone. The model reconnects itself.
            self.connected = False
            error = getattr(model, "error", None) or "the Docker engine stopped answering"
            if self.backend is not None and self.backend.kind != "compose":
                self.app.post_message(self._down(PeriphError(error)))
            else:
                self.app.post_message(EngineDown(error, list(DEFAULT_REMEDY), can_start_engine()))
        elif up and not self.connected and model is not None:
            self.connected = True
            self.app.post_message(EngineReady(self.stack, self.api, list(statuses)))
            return
        self.app.post_message(StatusChanged(list(statuses)))

    def _post_lines(self, lines: list[Any], dropped: int) -> None:
        self.app.post_message(LogBatch(lines, dropped))

    def _backlog(self) -> int:
        return self.app.message_queue_size

    def _batch_limit(self) -> int:
        # What the Logs area can draw in a frame (it measures itself as it draws).
        return int(getattr(self.app, "log_batch_limit", 2_000))

    def lost(self, error: PeriphError) -> None:
        """An action found the engine gone: tell the UI, then wait for it to come back
        (in the calling worker thread)."""
        self.connected = False
        self.app.post_message(self._down(error))
        self.connect()

    # -- actions ------------------------------------------------------------------------

    def run_action(self, verb: str, services: list[str] | None) -> None:
        """Run ``stack.<verb>(services)`` in the calling (worker) thread, posting progress."""
        what = f"{verb} {' '.join(services) if services else 'all'}"
        self.app.post_message(ActionProgress(f"{what}…"))

        def progress(line: str) -> None:
            self.app.post_message(ActionProgress(f"{what}: {line}"))

        try:
            self.backend.act(verb, services, progress)
        except PeriphError as exc:
            hint = f" ({exc.hint})" if exc.hint else ""
            self.app.post_message(ActionProgress(f"{what} failed: {exc.message}{hint}", True, True))
            if type(exc).__name__ == "EngineUnavailable":
                self.lost(exc)
            return
        self.app.post_message(ActionProgress(f"{what}: done", done=True))

    @property
    def watched(self) -> set[str]:
        """The services hot reload is on for."""
        return set(self._watched)

    def watching(self, service: str) -> bool:
        """True while hot reload is on for ``service``."""
        return service in self._watched

    def set_watched(self, services: set[str]) -> set[str]:
        """Hot reload for exactly ``services``; returns the set now watched.

        The engine allows one ``Watcher`` per stack (it holds the stack's watch lock), so
        a change of the set restarts the one watcher over the new set. A set the engine
        refuses (a service without ``develop.watch`` rules) raises, after the previous
        set is watched again.
        """
        with self._watch_lock:
            previous = set(self._watched)
            self._stop_watcher()
            try:
                self._start_watcher(services)
            except Exception:
                self._start_watcher(previous)
                raise
            return set(self._watched)

    def toggle_watch(self, service: str) -> bool:
        """Turn hot reload on or off for one service; returns the new state."""
        wanted = set(self._watched) ^ {service}
        return service in self.set_watched(wanted)

    def _stop_watcher(self) -> None:
        watcher, self._watcher = self._watcher, None
        self._watched = set()
        if watcher is not None:
            watcher.stop()

    def watch_all(self, on: bool) -> set[str]:
        """Hot reload for every service that has watch rules (``on``), or for none."""
        with self._watch_lock:
            self._stop_watcher()
            if on:
                self._start_watcher(None)
            return set(self._watched)

    def _start_watcher(self, services: set[str] | None) -> None:
        if services is not None and not services:
            return
        watcher = self.backend.watcher(
            self._post_reload,
            services=None if services is None else sorted(services),
            status=self._status_model,
        )
        watcher.start()
        self._watcher = watcher
        self._watched = set(watcher.services)

    def _post_reload(self, event: Any) -> None:
        # The real Watcher also records the event in the StatusModel it was given.
        self.app.post_message(ReloadHappened(event))

    def read_tail(self, service: str, lines: int = 20) -> list[Any]:
        """The last ``lines`` log lines of a (finished) service, without following."""
        if self.backend is None:
            return []
        try:
            found = list(self.backend.read_logs([service], lines))
        except PeriphError:
            return []
        return found[-lines:]

    def start_engine(self) -> tuple[bool, str]:
        """Run ``periph testenv up --tier docker``; (ok, last lines of its output)."""
        done = subprocess.run(START_ENGINE_ARGV, capture_output=True, text=True, check=False)
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-6:])
        return done.returncode == 0, tail

    def stop(self) -> None:
        """The run registry's stop: ``close`` (its parts join their own threads)."""
        self.close()

    def join(self, timeout: float | None = None) -> bool:
        """True: ``close`` has joined the session's threads already."""
        return True

    def close(self) -> None:
        """Stop every thread this session started (watchers, follower, status, batcher)."""
        self._stopping.set()
        with self._lock:
            parts = [self._watcher, self._follower, self._status_model, self._forwarder]
            self._watcher, self._watched = None, set()
            self._follower = self._status_model = self._forwarder = None
        for part in parts:
            if part is not None:
                # Already dead with its engine, perhaps: quitting must not fail.
                with contextlib.suppress(Exception):
                    part.stop()
        self._batcher.stop()
