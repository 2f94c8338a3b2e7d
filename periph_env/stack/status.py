"""``StatusModel``: the live status of every service, driven by the engine's events.

A thread reads the Engine API's events stream (filtered to the project's containers) and
re-inspects the project after each event; it calls ``on_change`` with the whole list
only when something the user sees changed. Health transitions arrive as
``health_status`` events, so nothing polls. When the stream breaks (the engine
restarted), the thread reconnects with back-off and resynchronises from a fresh ``ps``.
The events stream has no read timeout (a quiet stack sends nothing), so a heartbeat pings
the engine every ``HEARTBEAT_SECONDS`` while it follows: an engine that stopped
answering closes the stream, and the model says it is disconnected instead of showing
the last statuses as current.
Reload results (``record_reload``) are merged in so the UI shows each service's last
reload next to its state.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from periph_env.errors import PeriphError
from periph_env.stack.models import ReloadEvent, ServiceStatus

if TYPE_CHECKING:
    from periph_env.stack.control import Stack

OnChange = Callable[[list[ServiceStatus]], None]
HEARTBEAT_SECONDS = 5.0


class StatusModel:
    """A background thread keeping ``snapshot()`` current; ``start()`` / ``stop()``."""

    def __init__(self, stack: Stack, on_change: OnChange | None = None) -> None:
        self.stack = stack
        self.on_change = on_change or (lambda _s: None)
        self.connected = False  # False while the engine is unreachable
        self.error: str | None = None
        self._lock = threading.Lock()
        self._publishing = threading.Lock()  # publishes go out one at a time, in order
        self._statuses: list[ServiceStatus] = []
        self._reloads: dict[str, ReloadEvent] = {}
        self._watched: set[str] = set()
        self._stop = threading.Event()
        self._stream = None
        self._thread: threading.Thread | None = None

    def start(self) -> StatusModel:
        """Take a first snapshot and start following events."""
        self._thread = threading.Thread(target=self._run, name="periph-status", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop following (closes the events stream) and join the thread."""
        self._stop.set()
        stream = self._stream
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def snapshot(self) -> list[ServiceStatus]:
        """The latest statuses (copies are not needed: the model replaces, never mutates)."""
        with self._lock:
            return list(self._statuses)

    def record_reload(self, event: ReloadEvent) -> None:
        """Attach a reload's progress to its service's status and notify."""
        with self._lock:
            self._reloads[event.service] = event
        self._publish()

    def set_watched(self, services: set[str]) -> None:
        """Mark the services hot reload is on for."""
        with self._lock:
            self._watched = set(services)
        self._publish()

    def refresh(self) -> list[ServiceStatus]:
        """Re-read every container now and notify if anything changed."""
        return self._publish(self.stack.ps())

    def _publish(self, fresh: list[ServiceStatus] | None = None) -> list[ServiceStatus]:
        """Merge the reloads and the watched set into ``fresh`` (None: the latest
        statuses) and notify when what the user sees changed.

        Merged into new objects: merging into the published ones changed them under the
        comparison below, so a change (hot reload turned off) was never sent. And one
        publish at a time, in order: a reload thread, a toggle and the events thread
        publish concurrently, and one computed before another must not land after it
        (the screen kept saying "hot reload: on")."""
        with self._publishing:
            with self._lock:
                base = self._statuses if fresh is None else fresh
                merged = [
                    replace(
                        status,
                        last_reload=self._reloads.get(status.service),
                        hot_reload=status.service in self._watched,
                    )
                    for status in base
                ]
                changed = [s.to_json() for s in merged] != [s.to_json() for s in self._statuses]
                self._statuses = merged
            if changed:
                self.on_change(list(merged))
        return merged

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                self._follow()
                backoff = 0.5
            except PeriphError as exc:
                self.error = exc.message
            except Exception as exc:
                self.error = f"{type(exc).__name__}: {exc}"
            if self._stop.is_set():
                break
            if self.connected:
                self.connected = False
                self.on_change(self.snapshot())
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 5.0)

    def _heartbeat(self, stream: object, done: threading.Event) -> None:
        """Close ``stream`` when the engine stops answering pings (see the module doc)."""
        while not done.wait(HEARTBEAT_SECONDS):
            try:
                self.stack.check_engine()
            except PeriphError as exc:
                self.error = exc.message
                with contextlib.suppress(Exception):
                    stream.close()  # type: ignore[attr-defined]
                return

    def _follow(self) -> None:
        from periph_env.stack import docker_sdk

        client = docker_sdk.client(self.stack.api.host, timeout=None)
        done = threading.Event()
        try:
            label = f"com.docker.compose.project={self.stack.project}"
            with docker_sdk.sdk_errors("follow the engine's events", self.stack.api.host):
                self._stream = client.events(
                    decode=True, filters={"type": "container", "label": label}
                )
            threading.Thread(
                target=self._heartbeat, args=(self._stream, done), name="periph-status-ping",
                daemon=True,
            ).start()  # fmt: skip
            # Subscribed first, then resynchronised: no event can fall in between.
            self.connected, self.error = True, None
            self.refresh()
            for event in self._stream:
                if self._stop.is_set():
                    return
                if str(event.get("status", "")).startswith(
                    ("exec_", "top", "archive-path", "extract")
                ):
                    continue
                self.refresh()
        finally:
            done.set()
            self._stream = None
            client.close()
