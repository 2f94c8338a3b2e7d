"""The stack behind the Stack area and the CLI: compose (local) or a cluster namespace.

``StackBackend`` is what a front end needs of a dev stack, whichever engine runs it:

- ``kind`` (``"compose"`` | ``"cluster"``) and ``label`` for the header
  (``compose peripheral``, ``cluster peripheral-dev-alice (dev-cluster)``);
- ``statuses()``: one ``ServiceStatus`` per service (the status model's rows);
- ``status_feed(on_change)``: a ``Feed`` calling ``on_change(list[ServiceStatus])`` as
  they change (``connected`` / ``error`` say when the engine stopped answering);
- ``log_feed(on_lines)`` and ``read_logs(services, tail)``: ``LogLine``s, masked;
- ``watcher(on_event, services, status)``: hot reload, ``on_event(ReloadEvent)`` per step
  (the same ``seen → synced → serving`` on either backend);
- ``act(verb, services, progress)`` for a verb in ``actions`` (both have ``up``,
  ``down`` and ``restart``; compose also ``start``, ``stop``, ``rebuild``).

``ComposeBackend`` is a thin adapter over ``periph_env.stack`` (or any object with its
names: the TUI's tests hand a fake module); ``periph_env.cluster.backend.ClusterBackend``
is the cluster's. Neither imports Textual (the core never does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from periph_env.errors import UsageError
from periph_env.stack.models import LogLine, ReloadEvent, ServiceStatus

Progress = Callable[[str], None]
COMPOSE_ACTIONS = frozenset({"up", "down", "start", "stop", "restart", "rebuild"})


class Feed(Protocol):
    """Something running in its own threads until ``stop()`` (joins them)."""

    def start(self) -> Any: ...

    def stop(self) -> None: ...


@runtime_checkable
class StackBackend(Protocol):
    """A dev stack as the Stack area and the CLI see it (see the module docstring)."""

    kind: str
    actions: frozenset[str]

    @property
    def label(self) -> str:
        """Which stack is on screen, for the header."""
        ...

    @property
    def empty_text(self) -> str:
        """What the Stack area says while the stack has no service."""
        ...

    def statuses(self) -> list[ServiceStatus]:
        """Every service's state now (raises a ``PeriphError`` when unreachable)."""
        ...

    def status_feed(self, on_change: Callable[[list[ServiceStatus]], None]) -> Feed:
        """A feed of status snapshots (not started)."""
        ...

    def log_feed(self, on_lines: Callable[[list[LogLine]], None]) -> Feed:
        """A feed of every service's log lines, masked (not started)."""
        ...

    def read_logs(self, services: list[str], tail: int) -> list[LogLine]:
        """The last ``tail`` lines of ``services``, without following."""
        ...

    def watcher(
        self,
        on_event: Callable[[ReloadEvent], None],
        services: list[str] | None = None,
        status: Any = None,
    ) -> Any:
        """Hot reload of ``services`` (None: every one with rules); has ``services``."""
        ...

    def act(self, verb: str, services: list[str] | None, progress: Progress) -> None:
        """Run ``verb`` (one of ``actions``) on ``services`` (None: all)."""
        ...

    def remedy(self, error: BaseException) -> list[str]:
        """Lines saying how to get the stack back after ``error``."""
        ...


def refuse(backend: StackBackend, verb: str) -> None:
    """A ``UsageError`` for a verb ``backend`` cannot run, naming the ones it can."""
    if verb not in backend.actions:
        raise UsageError(
            f"{verb} is not available on the {backend.kind} stack",
            hint=f"it can: {', '.join(sorted(backend.actions))}",
        )


class ComposeBackend:
    """The local compose stack: ``stack`` is a ``Stack``, ``api`` the ``periph_env.stack``
    module (or a stand-in with its names)."""

    kind = "compose"
    actions = COMPOSE_ACTIONS

    def __init__(self, stack: Any, api: Any) -> None:
        self.stack = stack
        self.api = api

    @property
    def label(self) -> str:
        """``compose <project>``."""
        project = getattr(self.stack, "project", None)
        return f"compose {project}" if isinstance(project, str) else "compose"

    @property
    def empty_text(self) -> str:
        """The compose project has no container yet."""
        return "No services found in the compose project."

    def statuses(self) -> list[ServiceStatus]:
        """``Stack.ps()``."""
        return list(self.stack.ps())

    def status_feed(self, on_change: Callable[[list[ServiceStatus]], None]) -> Feed:
        """The engine-events ``StatusModel``."""
        return self.api.StatusModel(self.stack, on_change)

    def log_feed(self, on_lines: Callable[[list[LogLine]], None]) -> Feed:
        """The ``LogFollower`` of every service."""
        return self.api.LogFollower(self.stack, on_lines)

    def read_logs(self, services: list[str], tail: int) -> list[LogLine]:
        """``read_logs`` (no lines when the stack module has none)."""
        read = getattr(self.api, "read_logs", None)
        return [] if read is None else list(read(self.stack, services=services, tail=tail))

    def watcher(
        self,
        on_event: Callable[[ReloadEvent], None],
        services: list[str] | None = None,
        status: Any = None,
    ) -> Any:
        """The local ``Watcher`` (records reloads in ``status``, the ``StatusModel``)."""
        return self.api.Watcher(self.stack, on_event, services=services, status=status)

    def act(self, verb: str, services: list[str] | None, progress: Progress) -> None:
        """``stack.<verb>(services)``; ``down`` takes no services."""
        refuse(self, verb)
        method: Callable[..., Any] = getattr(self.stack, verb)
        if verb == "down":
            method(progress=progress)
        else:
            method(services, progress=progress)

    def remedy(self, error: BaseException) -> list[str]:
        """What ``periph doctor`` says (the TUI's banner); see ``tui.session``."""
        hint = getattr(error, "hint", None)
        return [f"→ {hint}"] if hint else []
