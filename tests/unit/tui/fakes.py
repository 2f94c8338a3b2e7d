"""Fake-but-typed stack engine for TUI unit tests and snapshots.

Builds the engine's real dataclasses (``periph_env.stack.models``) so the views draw
exactly what they draw from the real engine; behaviour against the real engine is
covered by tests/integration/test_tui_stack.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import ClassVar

from periph_env.errors import UsageError
from periph_env.stack.models import LogLine, ReloadEvent, ServiceStatus

NOW = 1_800_000_000.0


def sample_statuses() -> list[ServiceStatus]:
    """The Peripheral stack in a typical state: one failed migration, one reload seen."""
    reload = ReloadEvent(
        "worker",
        "sync+restart",
        ["peripheral_worker/main.py"],
        seen_at=NOW - 30,
        synced_at=NOW - 29.95,
        restarted_at=NOW - 29.5,
        serving_at=NOW - 28.1,
    )
    return [
        ServiceStatus(
            "db",
            "running",
            "healthy",
            ["127.0.0.1:5432->5432/tcp"],
            NOW - 3725,
            "postgres:15-bookworm",
        ),
        ServiceStatus(
            "cache",
            "running",
            "healthy",
            ["127.0.0.1:6379->6379/tcp"],
            NOW - 3720,
            "redis:7-bookworm",
        ),
        ServiceStatus(
            "migrate",
            "exited",
            None,
            [],
            NOW - 3700,
            "peripheral-backend:dev",
            exit_code=3,
            one_shot=True,
        ),
        ServiceStatus(
            "backend",
            "running",
            "starting",
            ["127.0.0.1:5058->5058/tcp"],
            NOW - 42,
            "peripheral-backend:dev",
            restart_count=2,
        ),
        ServiceStatus(
            "worker",
            "running",
            None,
            ["127.0.0.1:9102->9102/tcp"],
            NOW - 28,
            "peripheral-worker:dev",
            hot_reload=True,
            last_reload=reload,
        ),
        ServiceStatus(
            "frontend", "exited", None, [], None, "peripheral-frontend:dev", exit_code=137
        ),
    ]


def sample_lines() -> list[LogLine]:
    """A few lines of each service, in time order."""
    texts = [
        ("db", "database system is ready to accept connections"),
        ("cache", "Ready to accept connections tcp"),
        ("migrate", "applying 0003_orders.sql"),
        ("migrate", 'ERROR: relation "orders" already exists'),
        ("backend", "listening on :5058"),
        ("worker", "consumer group ready: stream=orders"),
        ("backend", "GET /api/health 200 1.2ms"),
        ("worker", "processed order 41 in 3ms"),
        ("backend", "GET /api/orders 200 4.8ms"),
        ("worker", "reload: worker restarted"),
    ]
    return [LogLine(svc, NOW - 60 + i, text) for i, (svc, text) in enumerate(texts)]


class FakeStack:
    """Records the calls the TUI makes; ``up``/``stop`` change the statuses."""

    def __init__(self, statuses: list[ServiceStatus] | None = None, *, down: bool = False) -> None:
        self.statuses = statuses if statuses is not None else sample_statuses()
        self.calls: list[tuple[str, list[str] | None]] = []
        self.down_engine = down
        self.listeners: list[Callable[[list[ServiceStatus]], None]] = []

    def ps(self) -> list[ServiceStatus]:
        if self.down_engine:
            raise UsageError(
                "cannot reach the Docker engine at unix:///var/run/docker.sock",
                hint="start dockerd, or run `periph testenv up --tier docker`",
            )
        return list(self.statuses)

    def _set(self, services: list[str] | None, state: str) -> None:
        for status in self.statuses:
            if services is None or status.service in services:
                status.state = state
        for listener in self.listeners:
            listener(list(self.statuses))

    def up(self, services=None, *, build=False, wait=True, progress=None):
        self.calls.append(("up", services))
        self._set(services, "running")

    def down(self, *, volumes=False, progress=None):
        self.calls.append(("down", None))
        self._set(None, "missing")

    def start(self, services=None, progress=None):
        self.calls.append(("start", services))
        self._set(services, "running")

    def stop(self, services=None, progress=None):
        self.calls.append(("stop", services))
        self._set(services, "exited")

    def restart(self, services=None, progress=None):
        self.calls.append(("restart", services))

    def rebuild(self, services=None, progress=None):
        self.calls.append(("rebuild", services))


class FakeStatusModel:
    def __init__(self, stack: FakeStack, on_change) -> None:
        self.stack, self.on_change = stack, on_change

    def start(self) -> None:
        self.stack.listeners.append(self.on_change)
        self.on_change(list(self.stack.statuses))

    def stop(self) -> None:
        pass


class FakeLogFollower:
    """Hands ``lines`` to the callback once, from its own thread (as the real one does)."""

    lines: ClassVar[list[LogLine]] = []

    def __init__(self, stack, on_lines, services=None, since=None, grep=None) -> None:
        self.on_lines = on_lines
        self.thread = threading.Thread(target=lambda: on_lines(list(self.lines)), daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.thread.join(timeout=2)


class FakeWatcher:
    started: ClassVar[list[list[str] | None]] = []

    def __init__(self, stack, on_event, services=None, status=None) -> None:
        self.services = services if services is not None else ["backend", "worker"]
        self.on_event = on_event

    def start(self) -> None:
        FakeWatcher.started.append(self.services)

    def stop(self) -> None:
        pass


def fake_api(lines: list[LogLine] | None = None) -> SimpleNamespace:
    """A stand-in for the ``periph_env.stack`` module."""
    follower = type(
        "Follower", (FakeLogFollower,), {"lines": sample_lines() if lines is None else lines}
    )

    def read_logs(stack, services=None, **_):
        return [ln for ln in sample_lines() if services is None or ln.service in services]

    return SimpleNamespace(
        StatusModel=FakeStatusModel,
        LogFollower=follower,
        Watcher=FakeWatcher,
        read_logs=read_logs,
        doctor=lambda stack: [],
    )
