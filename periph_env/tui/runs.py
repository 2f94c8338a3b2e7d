"""The app's runs, in one place: every operation and long-lived part the TUI starts.

The app owns one ``RunRegistry``. A deploy, a rollback, a verify (``OperationRun``s), and
the parts that keep threads (the stack session, the deploy area's monitor and log
follower) are registered here. Quitting asks before stopping a run that changes a cluster
(``to_confirm``), then stops everything and joins it: when the app returns, no thread of
periph is left, and the interpreter exits normally.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from periph_env.common.runs import Run

JOIN_SECONDS = 30.0  # a deploy's ending (its history record) may take a few kubectl calls


class IteratorRun(Run):
    """A run over any event iterator (the engines handed to the app in tests): the stop
    request is seen between events, and the iterator is closed on the way out."""

    def __init__(self, name: str, events: Callable[[], Iterator[Any]]) -> None:
        super().__init__(name)
        self._events = events
        self.changes_cluster = False

    def events(self) -> Iterator[Any]:
        """The iterator's events until it ends or a stop is requested."""
        with self.working():
            source = self._events()
            try:
                for event in source:
                    yield event
                    if self.stop_requested:
                        return
            finally:
                close = getattr(source, "close", None)
                if close is not None:
                    close()


class RunRegistry:
    """What the app owns that runs on its own: runs and parts with ``stop``/``join``."""

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._lock = threading.Lock()

    def add(self, item: Any) -> Any:
        """Own ``item`` (anything with ``stop()`` and ``join(timeout)``); returns it."""
        with self._lock:
            self._items = [i for i in self._items if not getattr(i, "done", False)]
            self._items.append(item)
        return item

    def running(self) -> list[Run]:
        """The runs still working."""
        with self._lock:
            return [i for i in self._items if isinstance(i, Run) and i.running]

    def to_confirm(self) -> list[Run]:
        """Running runs that change a cluster: quitting asks before stopping them."""
        return [r for r in self.running() if getattr(r, "changes_cluster", False)]

    def question(self) -> str:
        """``a deploy of demo is running (step: rollout). Stop it and quit?``"""
        runs = self.to_confirm()
        what = "; ".join(
            f"a {r.name} is running" + (f" (step: {r.step})" if r.step else "") for r in runs
        )
        return f"{what}. Stop {'it' if len(runs) == 1 else 'them'} and quit?"

    def stop_all(self) -> None:
        """Ask every run and part to stop (returns at once)."""
        with self._lock:
            items = list(self._items)
        for item in reversed(items):
            item.stop()

    def join_all(self, timeout: float = JOIN_SECONDS) -> list[Any]:
        """Wait for everything to end; what is still alive after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._lock:
            items = list(self._items)
        alive = []
        for item in items:
            ended = item.join(max(0.0, deadline - time.monotonic()))
            if ended is False:
                alive.append(item)
        return alive

    def close(self, timeout: float = JOIN_SECONDS) -> list[Any]:
        """``stop_all`` then ``join_all``; what did not end in time."""
        self.stop_all()
        return self.join_all(timeout)
