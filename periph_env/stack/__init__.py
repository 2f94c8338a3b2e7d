"""The dev stack engine: compose control, live status, logs and hot reload (no Textual).

Public API (the CLI and the TUI use only these names):

- ``Stack(root=None, *, env_file=None, project=None)`` (``control.py``): one compose
  project over ``compose/compose.yaml`` with the repo's ``.env`` as ``--env-file``.
  ``services()`` in dependency order; ``ps() -> list[ServiceStatus]``;
  ``up(services=None, *, build=False, wait=True, progress=None)``;
  ``down(*, volumes=False, progress=None)``; ``start/stop/restart/rebuild(services=None,
  progress=None)``. ``progress`` is a ``Callable[[str], None]`` for step lines.
- ``StatusModel(stack, on_change)`` (``status.py``): a thread fed by the engine's events
  stream that calls ``on_change(list[ServiceStatus])``; ``start()``, ``stop()``,
  ``snapshot()``. Reconnects on its own when the engine restarts.
- ``LogFollower(stack, on_lines, services=None, since=None, grep=None)`` (``logs.py``): a
  thread that calls ``on_lines(list[LogLine])`` in time-based batches, following services
  across restarts and recreations; ``start()``, ``stop()``. ``read_logs(...)`` returns
  the lines without following.
- ``Watcher(stack, on_event, services=None)`` (``reload/``): hot reload from the compose
  file's ``develop.watch`` rules; calls ``on_event(ReloadEvent)`` as each reload
  progresses; ``start()``, ``stop()``.
- ``doctor(stack) -> list[Check]`` (``checks.py``).

Models live in ``models.py``. Errors are ``periph_env.errors`` types: an engine that is
down or does not answer is an ``EngineUnavailable`` (exit 1, like ``periph images``)
naming the endpoint, with a remedy hint; one that answers but is not an engine an
``EngineError``. Docker SDK clients come from ``docker_sdk.client()`` and its errors are
translated in ``docker_sdk.translate`` (one place).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from periph_env.stack.errors import (
    BuildFailed,
    ComposeFileError,
    EngineUnavailable,
    PortInUse,
    WatchLocked,
)
from periph_env.stack.models import LogLine, ReloadEvent, ServiceStatus

if TYPE_CHECKING:
    from periph_env.stack.checks import Check, doctor
    from periph_env.stack.control import EnvCheckFailed, Stack
    from periph_env.stack.logs import LogFollower, read_logs
    from periph_env.stack.reload import Watcher
    from periph_env.stack.status import StatusModel

# Loaded on first use: ``periph ps`` must not pay for the watcher or the docker SDK.
_LAZY = {
    "Stack": "periph_env.stack.control",
    "EnvCheckFailed": "periph_env.stack.control",
    "StatusModel": "periph_env.stack.status",
    "LogFollower": "periph_env.stack.logs",
    "read_logs": "periph_env.stack.logs",
    "Watcher": "periph_env.stack.reload",
    "doctor": "periph_env.stack.checks",
    "Check": "periph_env.stack.checks",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "BuildFailed",
    "Check",
    "ComposeFileError",
    "EngineUnavailable",
    "EnvCheckFailed",
    "LogFollower",
    "LogLine",
    "PortInUse",
    "ReloadEvent",
    "ServiceStatus",
    "Stack",
    "StatusModel",
    "WatchLocked",
    "Watcher",
    "doctor",
    "read_logs",
]
