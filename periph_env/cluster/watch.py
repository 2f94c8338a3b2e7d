"""``periph up --cluster --watch``: file changes -> ``PodSync`` batches, in threads it owns.

watchfiles (inotify) with the local watcher's debounce; one watching thread per kind of
root (recursive, flat) and one thread applying batches in order, so a batch never
overtakes the one before it. While no batch waits, that thread asks ``PodSync.catch_up``
every ``CATCH_UP_EVERY`` seconds whether a service's pod was replaced (it then gets the
session's synced files). ``stop()`` sets the event and joins every thread.

With ``lock`` (namespace, compose file) it holds the local watch lock of that pair while
it runs (``stack.reload.lock``): a second watcher into the same namespace from this
machine (``watch --cluster`` next to the TUI's, or ``up --cluster --watch``) is refused,
naming the first one's pid, instead of syncing every change twice.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from periph_env.cluster.sync import PodSync
from periph_env.stack.models import ReloadEvent

DEBOUNCE_MS = 30
STEP_MS = 30
CATCH_UP_EVERY = 1.0


class ClusterWatcher:
    """Watches the rules' roots and syncs each batch into the pods."""

    def __init__(
        self,
        pod_sync: PodSync,
        on_event: Callable[[ReloadEvent], None],
        notice: Callable[[str], None] | None = None,
        lock: tuple[str, Path] | None = None,
    ) -> None:
        """``notice``: where a failed sync attempt is said (default: printed; the TUI
        hands its own, as nothing may write around Textual); ``lock``: see the module
        docstring."""
        self.pod_sync = pod_sync
        self.on_event = on_event
        self.notice = notice or _print
        # The services whose rules are watched (the Stack area marks them "on").
        self.services = sorted({rule.rule.service for rule in pod_sync.rules})
        pod_sync.on_progress = on_event  # built / pushed / new pod notes
        self._stop = threading.Event()
        self._batches: queue.Queue[tuple[set[Path], float]] = queue.Queue(maxsize=100)
        self._threads: list[threading.Thread] = []
        self._lock_key = lock
        self._lock: Any = None
        # Released by each watching thread once its watches are in place.
        self._watching = threading.Semaphore(0)

    def start(self) -> ClusterWatcher:
        """Take the watch lock (``WatchLocked`` if held), then start watching and syncing."""
        from periph_env.stack.reload import lock

        if self._lock_key is not None:
            self._lock = lock.acquire(*self._lock_key)
        recursive, flat = self.pod_sync.roots()
        pending = 0
        for roots, deep in ((recursive, True), (flat, False)):
            if roots:
                self._spawn(self._watch, roots, deep)
                pending += 1
        # Back only once the file watches are in place (as the local watcher): an edit
        # made right after "watching ..." is printed is not missed.
        for _ in range(pending):
            self._watching.acquire(timeout=10)
        self._spawn(self._apply)
        return self

    def stop(self) -> None:
        """Stop watching; a batch being synced finishes first."""
        from periph_env.stack.reload import lock

        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        if self._lock is not None:
            lock.release(self._lock)
            self._lock = None

    def _spawn(self, target, *args) -> None:  # type: ignore[no-untyped-def]
        thread = threading.Thread(target=target, args=args, name="cluster-watch", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _watch(self, roots: list[Path], recursive: bool) -> None:
        import watchfiles

        existing = [str(r) for r in roots if r.exists()]
        if not existing:
            self._watching.release()
            return
        signalled = False
        for changes in watchfiles.watch(
            *existing,
            watch_filter=None,
            debounce=DEBOUNCE_MS,
            step=STEP_MS,
            stop_event=self._stop,
            recursive=recursive,
            yield_on_timeout=True,
            rust_timeout=200,
            raise_interrupt=False,
        ):
            if not signalled:  # the first (empty) yield: the watches are in place
                signalled = True
                self._watching.release()
            if changes:
                # A full queue (the cluster is far slower than the edits) blocks the
                # watcher: watchfiles keeps collecting, the next batch is just bigger.
                self._batches.put(({Path(p) for _c, p in changes}, time.time()))
        if not signalled:
            self._watching.release()

    def _apply(self) -> None:
        next_check = time.monotonic() + CATCH_UP_EVERY
        while not self._stop.is_set():
            try:
                paths, seen_at = self._batches.get(timeout=0.2)
            except queue.Empty:
                if self.pod_sync.synced and time.monotonic() >= next_check:
                    for event in self._guarded(self.pod_sync.catch_up):
                        self.on_event(event)
                    next_check = time.monotonic() + CATCH_UP_EVERY
                continue
            while True:  # merge what queued up meanwhile: one tar for all of it
                try:
                    more, _seen = self._batches.get_nowait()
                except queue.Empty:
                    break
                paths |= more
            for event in self._guarded(self.pod_sync.apply, paths, seen_at):
                self.on_event(event)

    def _guarded(self, work: Callable[..., list[ReloadEvent]], *args) -> list[ReloadEvent]:
        """``work()``; an unreachable cluster (a list of pods failed) is printed, not the
        end of the watch thread: the next batch or check tries again."""
        try:
            return work(*args)
        except Exception as exc:
            message = getattr(exc, "message", None) or str(exc)
            self.notice(f"cluster watch: {self.pod_sync.kube.mask(message)}")
            return []


def _print(line: str) -> None:
    print(f"periph: {line}", flush=True)
