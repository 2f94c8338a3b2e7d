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
- ``doctor(stack) -> list[Check]`` (``doctor.py``).

Models live in ``models.py``. Errors are ``periph_env.errors`` types: an unreachable
engine is a ``UsageError``-coded ``EngineUnavailable`` (exit 2) with a remedy hint.
"""
