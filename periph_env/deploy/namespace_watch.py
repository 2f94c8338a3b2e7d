"""A namespace's Deployments, pods and events, kept current by streams, not by polling.

One ``ResourceWatch`` per kind (``periph_env.deploy.watch_streams``: list once, then
watch from that resourceVersion; a dropped connection resumes, a 410 Gone lists again)
feeds one queue; a pump thread folds what arrives into a copy of the namespace and calls
``on_change`` once per burst. The TUI's Deploy area shows this copy: after the initial
lists, keeping it current costs the API server no list call at all, however long the
area stays open (tests/integration/test_tui_deploy.py counts them in ``/metrics``).

A failing stream (the API server gone, RBAC refusing) is said through ``error`` until
the stream gets an answer again; meanwhile the last copy stays as it was.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from periph_env.deploy.watch_streams import ResourceWatch, lister

Obj = dict[str, Any]
KINDS = ("Deployment", "Pod", "Event")
_END = ("", "END", {})  # the pump's stop signal


def error_text(exc: BaseException) -> str:
    """What a failed request says on one line: a PeriphError's (masked) message, else the
    exception's first line."""
    message = getattr(exc, "message", None)
    if isinstance(message, str) and message:
        return message
    lines = str(exc).splitlines()
    return (lines[0] if lines else type(exc).__name__)[:300]


def _key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return meta.get("uid") or meta.get("name", "")


class NamespaceWatch:
    """Deployments, pods and events of ``namespace``, current within a watch event's delay.

    ``lister_of(api_client, kind)`` makes each stream's list/watch call (the default is
    plain REST; tests hand in fakes). ``on_change()`` is called from the pump thread after
    each burst of changes, and from a stream's thread when its error appears or clears:
    it must return at once (the Deploy session sets an Event).
    """

    def __init__(
        self,
        api_client: Any,
        namespace: str,
        on_change: Callable[[], None],
        *,
        kinds: tuple[str, ...] = KINDS,
        lister_of: Callable[[Any, str], Callable[..., Any]] | None = None,
    ) -> None:
        lister_of = lister_of or lister
        self.namespace, self.kinds, self.on_change = namespace, kinds, on_change
        self.queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._objects: dict[str, dict[str, Obj]] = {kind: {} for kind in kinds}
        # A (re-)list's items gather here until its SYNCED: then they replace the kind's
        # objects whole, so what was deleted while the stream was away goes too.
        self._listing: dict[str, dict[str, Obj]] = {kind: {} for kind in kinds}
        self._synced: set[str] = set()
        self._errors: dict[str, str] = {}
        self.changes = 0  # bursts folded (for tests and the bench)
        self.watches = [
            ResourceWatch(
                kind,
                lister_of(api_client, kind),
                namespace,
                self.queue,
                on_error=lambda exc, kind=kind: self._on_error(kind, exc),
            )
            for kind in kinds
        ]
        self._pump = threading.Thread(target=self._run, daemon=True, name="periph-ns-watch")
        self._started = False

    # -- the owner's side -----------------------------------------------------------------

    def start(self) -> NamespaceWatch:
        """Start the streams and the pump (returns at once)."""
        self._started = True
        self._pump.start()
        for watch in self.watches:
            watch.start()
        return self

    def stop(self) -> None:
        """Stop the streams (their open connections are closed) and the pump."""
        for watch in self.watches:
            watch.stop()
        self.queue.put(_END)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for every thread; True when all ended."""
        if not self._started:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in [*self.watches, self._pump]:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in [*self.watches, self._pump])

    @property
    def synced(self) -> bool:
        """Every kind has been listed once."""
        with self._lock:
            return len(self._synced) == len(self.kinds)

    @property
    def error(self) -> str:
        """Why a stream fails now ("" when every stream is answered)."""
        with self._lock:
            return next((self._errors[k] for k in self.kinds if k in self._errors), "")

    def snapshot(self) -> dict[str, list[Obj]]:
        """The objects of each kind now (copies of the lists; the objects are shared and
        must not be changed)."""
        with self._lock:
            return {kind: list(objects.values()) for kind, objects in self._objects.items()}

    # -- the threads' side ----------------------------------------------------------------

    def _on_error(self, kind: str, exc: BaseException | None) -> None:
        with self._lock:
            before = self._errors.get(kind)
            if exc is None:
                self._errors.pop(kind, None)
            else:
                self._errors[kind] = error_text(exc)
            changed = self._errors.get(kind) != before
        if changed:
            self.on_change()

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            burst = [item]
            # Fold everything already queued before telling: a re-list of 200 pods is
            # one change, not 200.
            while item is not _END:
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
                burst.append(item)
            with self._lock:
                for kind, change, obj in burst:
                    if kind in self._objects:
                        self._apply(kind, change, obj)
            if _END in burst:
                return
            self.changes += 1
            self.on_change()

    def _apply(self, kind: str, change: str, obj: Obj) -> None:
        """One stream item, under the lock."""
        if change == "LISTED":
            self._listing[kind][_key(obj)] = obj
        elif change == "SYNCED":
            self._objects[kind], self._listing[kind] = self._listing[kind], {}
            self._synced.add(kind)
        elif change == "DELETED":
            self._objects[kind].pop(_key(obj), None)
        else:  # ADDED, MODIFIED
            self._objects[kind][_key(obj)] = obj
