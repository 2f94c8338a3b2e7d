"""The Deploy area's engine side, owned by the app (not the view) so that a deploy runs on
while the maintainer looks at another area, and its progress is there on return.

Operations (check, deploy, rollback, rollout status) are owned runs of the public
``periph_env.deploy`` API (``DeployRun``, ``RollbackRun``, ...), registered with the app's
``RunRegistry`` so that quitting asks before stopping a deploy, stops it and joins it. The
session's own threads (the monitor, its streams, the pod-log follower, the operations'
drivers) belong to its ``owner`` run and end with ``stop``/``join``.

The namespace's Deployments, pods and events come from streams, not polling
(``periph_env.deploy.namespace_watch``: each kind listed once, then watched): a pod
turning Ready is on screen as soon as its watch event arrives, and an open area costs the
API server no list call. The monitor thread folds the streams' copy into the state on
each change, and once a second while the area shows (pod ages tick). The streams stay
open while the area is hidden (three idle connections; coming back shows the namespace
at once, with no new list) and are replaced when the environment changes. Pod logs follow
every replica with the engine's log follower (what ``periph logs --env`` uses), batched
by part 1's ``LineBatcher``. Threads reach the UI only by posting messages to the view.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
from collections import deque
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from textual.message import Message

from periph_env.common.runs import Run
from periph_env.errors import PeriphError
from periph_env.tui.batcher import LineBatcher
from periph_env.tui.runs import IteratorRun
from periph_env.tui.views.deploy_state import DeployState

K8S_REMEDY = "Start the test cluster with `periph testenv up --tier k8s`, or check periph.toml."
AGE_TICK = 1.0  # refold while on screen: the pods' ages (no API call: the streams' copy)
REOPEN = 1.0, 5.0  # retry opening the streams (cluster unreachable): on screen, hidden
MAX_LOG_LINES = 5_000


@dataclass
class SessionChanged(Message):
    """The deploy state changed (only the newest matters)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SessionChanged)


@dataclass
class PodLogLines(Message):
    """Lines from the pods' logs since the last batch."""

    lines: list[str]
    dropped: int = 0


@dataclass
class RollbackChecked(Message):
    """The schema check before a rollback ended (``preview`` None: the engine handed to
    the app cannot check ahead; the rollback run still checks)."""

    to_revision: int | None
    preview: Any


def session_for(app: Any) -> DeploySession:
    """The app's one deploy session (created on first use)."""
    session = getattr(app, "deploy_session", None)
    if session is None:
        session = DeploySession(app, app.root, getattr(app, "deploy_api", None))
        app.deploy_session = session
        runs = getattr(app, "runs", None)
        if runs is not None:
            runs.add(session)
    return session


class DeploySession:
    """One environment's deploy state, and the threads that keep it current."""

    def __init__(self, app: Any, root: Any, api: Any = None) -> None:
        self.app = app
        self.root = root
        self.api = api
        self.state = DeployState()
        self.lock = threading.RLock()
        self.listener: Any = None  # the Deploy view, once mounted
        self.logs: deque[str] = deque(maxlen=MAX_LOG_LINES)
        self.following = False
        self.visible = False  # the Deploy area is on screen: ages tick, reopen sooner
        self._kube: Any = None
        self._kube_env = ""
        self._selected: str | None = None
        self.streams: Any = None  # the NamespaceWatch of ``_streams_env``
        self._streams_env = ""
        self.owner = Run("deploy area")  # owns the monitor, log follower, drivers
        self._stop = self.owner.stop_event
        self._wake = threading.Event()
        self.owner.on_stop(self._wake.set)
        self._monitor: threading.Thread | None = None
        self._logs_stop: threading.Event | None = None
        self.operation: Any = None  # the running (or last) operation's run
        self._tasks: list[threading.Thread] = []  # operation and history threads
        self.checking = False  # a rollback's schema check runs (before its confirmation)
        self._batcher = LineBatcher(self._post_lines, capacity=MAX_LOG_LINES)
        self._batcher.start()

    def engine(self) -> Any:
        """The deploy engine (the one handed to the app, else ``periph_env.deploy``)."""
        if self.api is None:
            self.api = importlib.import_module("periph_env.deploy")
        return self.api

    # -- telling the UI -------------------------------------------------------------------

    def changed(self) -> None:
        """Tell the view to redraw (coalesced: only the newest message is kept)."""
        listener = self.listener
        if listener is not None:
            with contextlib.suppress(Exception):  # the app is shutting down
                listener.post_message(SessionChanged())

    def _post_lines(self, lines: list[str], dropped: int) -> None:
        self.logs.extend(lines)
        listener = self.listener
        if listener is not None:
            listener.post_message(PodLogLines(lines, dropped))

    # -- environment ----------------------------------------------------------------------

    def select(self, env: str) -> None:
        """Show ``env``: fresh state, its history, the monitor on its namespace."""
        with self.lock:
            if env == self._selected:
                return
            if self.state.running:
                raise PeriphError(f"{self.state.operation} of {self.state.env} is running")
            self.stop_logs()
            # The view redraws when the version moves: a fresh state continues the count
            # (restarting it could land on the number the view drew last, and skip).
            version = self.state.version
            self.state = DeployState(env=env)
            self.state.version = version + 1
            self._selected = env
            self._kube, self._kube_env = None, ""
            self._close_streams()  # the old namespace's: the monitor opens env's
        self.logs.clear()
        self.changed()
        self.start_monitor()
        self.run("history")

    def start_monitor(self) -> None:
        """Keep the cluster view current (one thread for the session); wakes it to fold now."""
        if self._monitor is None and not self._stop.is_set():
            self._monitor = self.owner.thread(self._monitor_loop, name="periph-deploy-monitor")
        self._wake.set()

    def _kube_for(self, env: str) -> Any:
        if self._kube is None or self._kube_env != env:
            from periph_env.deploy.session import kube_for

            target = self.engine().resolve(self.root, env)
            self._kube, self._kube_env = kube_for(target), env
        return self._kube

    def _streams_for(self, env: str) -> Any:
        """``env``'s namespace streams, opened on first use (raises when the environment
        has no cluster or its API server does not answer)."""
        with self.lock:
            if self.streams is not None and self._streams_env == env:
                return self.streams
        from periph_env.deploy.namespace_watch import NamespaceWatch

        kube = self._kube_for(env)
        api_client = kube.client()  # checks the API server answers: else the banner says
        streams = NamespaceWatch(api_client, kube.namespace, self._wake.set)
        with self.lock:
            if self.state.env != env or self._stop.is_set():
                return None  # switched (or quitting) meanwhile: the next round opens anew
            self._close_streams()
            self.owner.own(streams)
            self.streams, self._streams_env = streams.start(), env
        return streams

    def _close_streams(self) -> None:
        """Stop the open streams (joined with the owner run); returns at once."""
        if self.streams is not None:
            self.streams.stop()
            self.streams, self._streams_env = None, ""

    def _monitor_loop(self) -> None:
        while not self._stop.is_set():
            env = self.state.env
            on_screen = self.state.running or self.following or self.visible
            try:
                streams = self._streams_for(env)
                if streams is not None:
                    self._fold(env, streams)
                delay: float | None = AGE_TICK if on_screen else None  # else: on change
            except Exception as exc:  # every failure becomes the banner's text
                self._show_error(env, exc)
                delay = REOPEN[0] if on_screen else REOPEN[1]
            # Cleared after the wait, before the next fold: a change that lands meanwhile
            # is in the copy that fold reads.
            self._wake.wait(delay)
            self._wake.clear()

    def _show_error(self, env: str, exc: BaseException | str) -> None:
        from periph_env.deploy.namespace_watch import error_text

        message = exc if isinstance(exc, str) else error_text(exc)
        with self.lock:
            if self.state.env != env or self.state.cluster_error == message:
                return
            self.state.cluster_error = message
            self.state.version += 1
        self.changed()

    def _fold(self, env: str, streams: Any) -> None:
        """The streams' copy of the namespace into the state (a redraw when it differs)."""
        error = streams.error
        if error:  # the last copy stays on screen under the banner
            self._show_error(env, error)
            return
        if not streams.synced:
            return  # not listed yet: a half listing would flicker
        found = streams.snapshot()
        with self.lock:
            if self.state.env != env:
                return
            before = self.state.version
            self.state.set_cluster(found["Deployment"], found["Pod"], found["Event"])
        if self.state.version != before:
            self.changed()

    # -- operations -----------------------------------------------------------------------

    def run(
        self,
        operation: str,
        *,
        auto_rollback: bool = False,
        to_revision: int | None = None,
        canary: bool = False,
        force_schema: bool = False,
    ) -> bool:
        """Start ``check``/``deploy``/``rollback``/``status``/``history`` in a worker."""
        with self.lock:
            if operation != "history":
                if self.state.running:
                    return False
                self.state.reset_for(operation)
        self.changed()
        self._wake.set()
        if self._stop.is_set():
            return False  # the app is quitting
        if operation == "history":
            task = self.owner.thread(
                self._load_history, self.state.env, name="periph-deploy-history"
            )
            self._tasks.append(task)
            return True
        run = self.make_run(
            operation, auto_rollback, to_revision, canary=canary, force_schema=force_schema
        )
        self.operation = run
        runs = getattr(self.app, "runs", None)
        if runs is not None:
            runs.add(run)
        self._tasks.append(self.owner.thread(self._operate, run, name=f"periph-{operation}"))
        return True

    def check_rollback(self, to_revision: int | None) -> bool:
        """Read what the schema check says about rolling back (to deploy #N), in a thread;
        the view gets ``RollbackChecked``. False when a check already runs."""
        with self.lock:
            if self.checking or self._stop.is_set():
                return False
            self.checking = True
        self._tasks.append(
            self.owner.thread(
                self._check_rollback, self.state.env, to_revision, name="periph-schema-check"
            )
        )
        return True

    def _check_rollback(self, env: str, to_revision: int | None) -> None:
        api = self.engine()
        checker = getattr(api, "rollback_schema", None)
        if checker is None and hasattr(api, "RollbackRun"):  # the real engine
            from periph_env.tui.views.deploy_schema import rollback_schema

            def checker(root: Any, env: str, to: int | None) -> Any:
                return rollback_schema(root, env, to, self._stop)  # quitting ends its wait

        try:
            preview = checker(self.root, env, to_revision) if checker else None
        except Exception as exc:  # an unexpected failure: said, never a dead thread
            from periph_env.tui.views.deploy_schema import SchemaPreview

            preview = SchemaPreview(False, message=str(exc).splitlines()[0][:300])
        finally:
            self.checking = False
        listener = self.listener
        if listener is not None and self.state.env == env and not self._stop.is_set():
            with contextlib.suppress(Exception):  # the app is shutting down
                listener.post_message(RollbackChecked(to_revision, preview))

    @property
    def busy(self) -> bool:
        """True while an operation or a history read is under way."""
        self._tasks = [t for t in self._tasks if t.is_alive()]
        return bool(self._tasks)

    def make_run(
        self,
        operation: str,
        auto_rollback: bool,
        to_revision: int | None,
        *,
        canary: bool = False,
        force_schema: bool = False,
    ) -> Any:
        """The owned run of ``operation`` (the engine's run classes; a handed-in engine
        without them is driven through ``IteratorRun``)."""
        api, env = self.engine(), self.state.env
        if operation in ("check", "deploy"):
            options = api.Options(
                yes=operation == "deploy",
                dry_run=operation == "check",
                auto_rollback=auto_rollback,
                canary=canary,
            )
            if hasattr(api, "DeployRun"):
                return api.DeployRun(self.root, env, options)
            run = IteratorRun(f"deploy of {env}", lambda: api.deploy(self.root, env, options))
            run.changes_cluster = operation == "deploy"
            return run
        if operation == "rollback":
            if hasattr(api, "RollbackRun"):
                return api.RollbackRun(self.root, env, to_revision, force_schema=force_schema)
            # Only a forced rollback passes the keyword (an older handed-in engine lacks it).
            forced = {"force_schema": True} if force_schema else {}
            run = IteratorRun(
                f"rollback of {env}",
                lambda: api.rollback_environment(self.root, env, to_revision, **forced),
            )
            run.changes_cluster = True
            return run
        if hasattr(api, "RolloutStatusRun"):
            return api.RolloutStatusRun(self.root, env)
        return IteratorRun(f"rollout status of {env}", lambda: api.rollout_status(self.root, env))

    def _operate(self, run: Any) -> None:
        env = self.state.env
        try:
            for event in run.events():
                with self.lock:
                    self.state.apply(event)
                self.changed()
        except PeriphError as exc:
            hint = f" ({exc.hint})" if getattr(exc, "hint", None) else ""
            failure = SimpleNamespace(
                result="failed", exit_code=1, revision=None, message=f"{exc.message}{hint}"
            )
            with self.lock:
                self.state.finished, self.state.running = failure, False
                self.state.version += 1
            self.changed()
        finally:
            with self.lock:
                self.state.running = False
        if not self._stop.is_set():  # quitting: the history is read on the next start
            self._load_history(env)

    def _load_history(self, env: str) -> None:
        try:
            records = self.engine().read_history(self.root, env)
            error = ""
        except PeriphError as exc:
            records, error = [], exc.message
        with self.lock:
            if self.state.env == env:
                self.state.history, self.state.history_error = list(records), error
                self.state.history_loaded = True
                self.state.version += 1
        self.changed()

    # -- pod logs -------------------------------------------------------------------------

    def follow_logs(self) -> None:
        """Follow every replica's log (new pods of a rollout included)."""
        if self.following:
            return
        from periph_env.deploy.logs import follow

        try:
            kube = self._kube_for(self.state.env)
        except PeriphError as exc:
            self._post_lines([f"[periph] cannot follow logs: {exc.message}"], 0)
            return
        stop = threading.Event()
        self.owner.on_stop(stop.set)
        self._logs_stop, self.following = stop, True

        def run() -> None:
            try:
                follow(kube, [], lambda line: self._batcher.feed([line]), stop)
            except Exception as exc:  # the cluster went away: say so in the log view
                self._batcher.feed([f"[periph] log follower stopped: {exc}"])
            finally:
                self.following = False

        self.owner.thread(run, name="periph-pod-logs")
        self._wake.set()  # ages tick from now on

    def stop_logs(self) -> None:
        """Stop following pod logs."""
        if self._logs_stop is not None:
            self._logs_stop.set()
            self._logs_stop = None
        self.following = False

    def describe(self) -> str:
        """What the session runs now (for the quit question)."""
        run = self.operation
        return run.describe() if run is not None else self.owner.name

    def stop(self) -> None:
        """Stop the operation, the monitor, its streams and the log follower (returns at
        once)."""
        if self.operation is not None:
            self.operation.stop()
        self.stop_logs()
        self.owner.stop()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the operation and every thread of the session; True when all ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        ended = self.operation is None or self.operation.join(timeout)
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        ended = self.owner.join(left) and ended
        self._batcher.stop()
        return ended

    def close(self, timeout: float | None = 30.0) -> bool:
        """Stop everything the session owns and join it."""
        self.stop()
        return self.join(timeout)
