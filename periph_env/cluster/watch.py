"""``periph up --cluster --watch``: file changes -> ``PodSync`` batches, in threads it owns.

watchfiles (inotify) with the local watcher's debounce; one watching thread per kind of
root (recursive, flat) and one thread applying batches in order, so a batch never
overtakes the one before it. ``stop()`` sets the event and joins every thread.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

from periph_env.cluster.sync import PodSync
from periph_env.stack.models import ReloadEvent

DEBOUNCE_MS = 30
STEP_MS = 30


class ClusterWatcher:
    """Watches the rules' roots and syncs each batch into the pods."""

    def __init__(self, pod_sync: PodSync, on_event: Callable[[ReloadEvent], None]) -> None:
        self.pod_sync = pod_sync
        self.on_event = on_event
        self._stop = threading.Event()
        self._batches: queue.Queue[tuple[set[Path], float]] = queue.Queue(maxsize=100)
        self._threads: list[threading.Thread] = []

    def start(self) -> ClusterWatcher:
        """Start watching and syncing."""
        recursive, flat = self.pod_sync.roots()
        for roots, deep in ((recursive, True), (flat, False)):
            if roots:
                self._spawn(self._watch, roots, deep)
        self._spawn(self._apply)
        return self

    def stop(self) -> None:
        """Stop watching; a batch being synced finishes first."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _spawn(self, target, *args) -> None:  # type: ignore[no-untyped-def]
        thread = threading.Thread(target=target, args=args, name="cluster-watch", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _watch(self, roots: list[Path], recursive: bool) -> None:
        import watchfiles

        existing = [str(r) for r in roots if r.exists()]
        if not existing:
            return
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
            if changes:
                # A full queue (the cluster is far slower than the edits) blocks the
                # watcher: watchfiles keeps collecting, the next batch is just bigger.
                self._batches.put(({Path(p) for _c, p in changes}, time.time()))

    def _apply(self) -> None:
        while not self._stop.is_set():
            try:
                paths, seen_at = self._batches.get(timeout=0.2)
            except queue.Empty:
                continue
            while True:  # merge what queued up meanwhile: one tar for all of it
                try:
                    more, _seen = self._batches.get_nowait()
                except queue.Empty:
                    break
                paths |= more
            for event in self.pod_sync.apply(paths, seen_at):
                self.on_event(event)
