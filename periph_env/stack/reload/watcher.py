"""``Watcher``: hot reload from the compose file's ``develop.watch`` rules.

Change detection is watchfiles (inotify) with a 30 ms quiet period, grouped up to 3 s,
so a branch switch of a thousand files is one batch. Each service has its own reload
thread and queue: a batch becomes at most one reload per affected service, changes that
arrive while a reload runs are merged into the next one, and a slow rebuild of one
service never delays another service's sync.

Which paths a rule takes and what lands where is ``docker compose watch``'s meaning
(``rules.py``, ``patterns.py``): the same ``develop.watch`` gives the same container.
A sync is one ``rm`` exec for deletions plus one tar through ``put_archive``. A service
that is down keeps its pending changes until its container runs again. A rebuild builds
first (a failure leaves the old container serving and reports the build error) and then
recreates only that service (``--no-deps``), so db, cache and migrate are never touched.

Every reload is one ``ReloadEvent`` passed to ``on_event`` at each step (seen → synced →
restarted/rebuilt → serving), ``done`` on the last call. "Serving" is the service's
reload marker in its log when it reloads in-process, the container healthy (or
running) after a restart or rebuild, else the moment the files landed. Every reload
ends: a marker that does not come within the service's ``x-periph.reload_timeout``
(default 15 s) ends it with a note naming the pattern (``markers.py``).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from periph_env.errors import PeriphError, UsageError
from periph_env.stack.compose_file import WatchRule
from periph_env.stack.models import ReloadEvent
from periph_env.stack.reload import lock, patterns, rules, sync
from periph_env.stack.reload.markers import MarkerWatch

if TYPE_CHECKING:
    from periph_env.stack.control import Stack
    from periph_env.stack.status import StatusModel

OnEvent = Callable[[ReloadEvent], None]
STEP_MS = 30  # quiet period that ends a batch
DEBOUNCE_MS = 3000  # longest a batch may keep growing
BURST_FILES = 20  # a batch this big waits for the burst to end
BURST_SETTLE = 0.3  # seconds without new changes that end a burst
READY_TIMEOUT = 120.0


class _ServiceQueue:
    """Pending changed paths of one service and the thread that reloads them."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.paths: set[Path] = set()
        self.seen_at: float | None = None
        self.thread: threading.Thread | None = None

    def add(self, paths: set[Path], seen_at: float) -> None:
        with self.cond:
            self.paths |= paths
            self.seen_at = seen_at if self.seen_at is None else min(self.seen_at, seen_at)
            self.cond.notify()

    def take(self, stop: threading.Event) -> tuple[set[Path], float] | None:
        with self.cond:
            while not self.paths and not stop.is_set():
                self.cond.wait(0.5)
            if stop.is_set():
                return None
            # A burst (branch switch, formatter run) can pause longer than the watcher's
            # quiet period mid-way: let a big batch settle so it stays one reload. A
            # single save (the common case) goes at once.
            while len(self.paths) >= BURST_FILES and not stop.is_set():
                size = len(self.paths)
                self.cond.wait(BURST_SETTLE)
                if len(self.paths) == size:
                    break
            paths, seen = self.paths, self.seen_at or time.time()
            self.paths, self.seen_at = set(), None
            return paths, seen


class Watcher:
    """Watch the rules of ``services`` (default: every service that has rules)."""

    def __init__(
        self,
        stack: Stack,
        on_event: OnEvent,
        services: list[str] | None = None,
        status: StatusModel | None = None,
    ) -> None:
        self.stack = stack
        self.on_event = on_event
        self.status = status
        wanted = stack.select(services) or None
        self.rules: list[WatchRule] = stack.model.rules(wanted)
        if not self.rules:
            which = ", ".join(wanted) if wanted else "any service"
            raise UsageError(
                f"no develop.watch rules for {which} in {stack.compose_path}",
                hint="add develop.watch rules to the service in the compose file",
            )
        self.services = sorted({r.service for r in self.rules})
        specs = stack.model.services
        context_ignores = {
            s: patterns.dockerignore(specs[s].build_context, specs[s].dockerfile)
            for s in self.services
            if s in specs
        }
        compiled = rules.compile_rules(self.rules, context_ignores)
        self._by_service = {s: [r for r in compiled if r.rule.service == s] for s in self.services}
        self._owners: dict[str, tuple[int, int] | None] = {}  # container id → file owner
        self._stop = threading.Event()
        self._queues = {s: _ServiceQueue() for s in self.services}
        self._threads: list[threading.Thread] = []
        self._lock = None
        self._markers: MarkerWatch | None = None
        self.ready = threading.Event()  # set once the file watches are in place

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> Watcher:
        """Take the stack's watch lock (``WatchLocked`` if taken), then start watching."""
        self.stack.check_engine()
        self._lock = lock.acquire(self.stack.project, self.stack.compose_path)
        try:
            specs = {s: v for s, v in self.stack.model.services.items() if s in self.services}
            markers = {s: v.reload_marker for s, v in specs.items() if v.reload_marker}
            timeouts = {s: v.reload_timeout for s, v in specs.items() if v.reload_timeout}
            self._markers = MarkerWatch(
                self.stack, markers, time.time(), self._finish, timeouts
            ).start()
            for service, q in self._queues.items():
                q.thread = threading.Thread(
                    target=self._reload_loop,
                    args=(service, q),
                    name=f"periph-reload-{service}",
                    daemon=True,
                )
                self._threads.append(q.thread)
            recursive, flat = rules.watch_roots(self.rules)
            pending = 0
            for roots, rec in ((recursive, True), (flat, False)):
                if roots:
                    pending += 1
                    self._threads.append(
                        threading.Thread(
                            target=self._watch, args=(roots, rec), name="periph-watch", daemon=True
                        )
                    )
            self._watches_pending = pending
            self._watch_ready = threading.Semaphore(0)
            for thread in self._threads:
                thread.start()
            for _ in range(pending):
                self._watch_ready.acquire(timeout=10)
            self.ready.set()
            if self.status is not None:
                self.status.set_watched(set(self.services))
            self._initial_sync()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop watching (the stack keeps running) and release the lock."""
        self._stop.set()
        for q in self._queues.values():
            with q.cond:
                q.cond.notify_all()
        if self._markers is not None:
            self._markers.stop()
        for thread in self._threads:
            thread.join(timeout=10)
        if self._lock is not None:
            lock.release(self._lock)
            self._lock = None
        if self.status is not None:
            self.status.set_watched(set())

    # --- change detection ------------------------------------------------------------

    def _watch(self, roots: list[Path], recursive: bool) -> None:
        import watchfiles

        existing = [str(r) for r in roots if r.exists()]
        if not existing:
            self._watch_ready.release()
            return
        signalled = False
        watch = watchfiles.watch(
            *existing,
            watch_filter=None,
            debounce=DEBOUNCE_MS,
            step=STEP_MS,
            stop_event=self._stop,
            recursive=recursive,
            yield_on_timeout=True,
            rust_timeout=200,
            raise_interrupt=False,
        )
        for changes in watch:
            if not signalled:
                signalled = True
                self._watch_ready.release()
            if not changes:
                continue
            self.dispatch({Path(p) for _change, p in changes}, time.time())
        if not signalled:
            self._watch_ready.release()

    def dispatch(self, paths: set[Path], seen_at: float) -> None:
        """Queue changed ``paths`` for every service one of whose rules they match."""
        for service, service_rules in self._by_service.items():
            matched = {p for p in paths if rules.rule_for(p, service_rules)}
            if matched:
                self._queues[service].add(matched, seen_at)

    def _initial_sync(self) -> None:
        now = time.time()
        for rule in self.rules:
            if rule.initial_sync and rule.action != "rebuild" and rule.path.exists():
                files = set(sync.walk(rule.path)) if rule.path.is_dir() else {rule.path}
                self._queues[rule.service].add(files, now)

    # --- reloads ---------------------------------------------------------------------

    def _emit(self, event: ReloadEvent) -> None:
        if self.status is not None:
            self.status.record_reload(event)
        self.on_event(event)

    def _reload_loop(self, service: str, q: _ServiceQueue) -> None:
        while not self._stop.is_set():
            taken = q.take(self._stop)
            if taken is None:
                return
            paths, seen_at = taken
            plans = rules.plan(paths, self._by_service[service], Path.exists, sync.walk_all)
            plan = plans.get(service)
            if plan is None:
                continue
            root = self.stack.root
            event = ReloadEvent(
                service=service,
                kind=plan.kind,
                files=[_shown(p, root) for p in sorted(set(plan.files))][:50],
                seen_at=seen_at,
                trigger=_shown(plan.trigger, root) if plan.trigger else None,
            )
            if self._markers is not None:
                self._markers.supersede(service)  # ends first: the newest one is shown
            self._emit(event)
            deferred = False
            try:
                if plan.kind == "rebuild":
                    self._rebuild(event)
                else:
                    deferred = self._sync(plan, event)
            except PeriphError as exc:
                event.ok, event.error = False, self.stack.mask(exc.message)
            except Exception as exc:
                event.ok, event.error = False, self.stack.mask(f"{type(exc).__name__}: {exc}")
            if not deferred:
                self._finish(event)

    def _finish(self, event: ReloadEvent) -> None:
        if self._stop.is_set() and event.serving_at is None and event.ok:
            event.ok, event.error = False, "watch stopped before the reload finished"
        event.done = True
        self._emit(event)

    def _running(self, event: ReloadEvent) -> tuple[str, dict] | None:
        """(container id, inspect) once the service's container runs; None when stopping.

        Changes for a service that is down wait here and are applied when it is back."""
        service, told = event.service, False
        while not self._stop.is_set():
            try:
                cid = self.stack.container_id(service)
                detail = self.stack.api.get(f"/containers/{cid}/json") if cid else None
            except PeriphError:
                detail = None
            if detail and (detail.get("State") or {}).get("Running"):
                if told:
                    event.note = None
                return detail["Id"], detail
            if not told:
                told = True
                event.note = f"{service} is not running: the change is applied when it is back"
                self._emit(event)
            self._stop.wait(0.3)
        return None

    def _sync(self, plan: rules.ServicePlan, event: ReloadEvent) -> bool:
        """Apply a sync plan; True when the event finishes later (on its reload marker)."""
        found = self._running(event)
        if found is None:
            return False
        cid, detail = found
        api = self.stack.sdk().api
        sync_started = time.time()  # a marker before this belongs to an earlier reload
        if cid not in self._owners:
            self._owners[cid] = sync.owner(detail, lambda p: sync.read_text(api, cid, p))
        # Deletions first, then copies: what Compose does (a file replacing a folder).
        sync.delete_files(api, cid, plan.deletes)
        sync.put_files(api, cid, plan.copies, detail, self._owners[cid])
        event.synced_at = time.time()
        self._emit(event)
        spec = self.stack.model.services[event.service]
        if spec.sync_signal and plan.kind == "sync":
            _tell(api, cid, spec.sync_signal)
        if plan.kind == "sync+restart":
            api.restart(cid, timeout=10)
            event.restarted_at = time.time()
            self._emit(event)
        elif plan.kind == "sync+exec" and plan.exec_command:
            code, output = sync.run_exec(api, cid, list(plan.exec_command))
            event.restarted_at = time.time()
            if code != 0:
                event.ok = False
                event.error = self.stack.mask(f"exec exited {code}: {output.strip()[-500:]}")
                return False
        if spec.reload_marker and self._markers is not None:
            # A marker at or after the sync started can only come from this reload (or a
            # later one, whose code includes this change).
            self._markers.expect(event, sync_started)
            return True
        if plan.kind == "sync+restart":
            event.serving_at = self._ready(event.service)
            if event.serving_at is None and not self._stop.is_set():
                event.ok = False
                event.error = (
                    f"{event.service} not running and healthy {READY_TIMEOUT:g} s after the restart"
                )
        else:
            event.serving_at = event.restarted_at or event.synced_at
        return False

    def _ready(self, service: str) -> float | None:
        """Wait until the service runs (and is healthy, when it has a healthcheck)."""
        deadline = time.monotonic() + READY_TIMEOUT
        while not self._stop.is_set() and time.monotonic() < deadline:
            for status in self.stack.ps():
                if (
                    status.service == service
                    and status.state == "running"
                    and (status.health in (None, "healthy"))
                ):
                    return time.time()
            self._stop.wait(0.1)
        return None

    def _rebuild(self, event: ReloadEvent) -> None:
        service = event.service
        self.stack.build([service])
        event.restarted_at = time.time()  # "rebuilt"
        self._emit(event)
        self.stack.recreate([service], wait=True)
        event.serving_at = time.time()


def _tell(api: Any, container_id: str, signal_name: str) -> None:
    """Signal the container that a sync landed (``x-periph.sync_signal``).

    Best effort: the service's reloader polls too, so a lost signal costs a poll
    interval, never the change."""
    # The container stopping, an engine hiccup: the reloader's poll still sees the files.
    with contextlib.suppress(Exception):
        api.kill(container_id, signal=signal_name)


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
