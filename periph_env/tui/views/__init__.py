"""The app's areas, one module each; ``AREAS`` lists them in tab order.

Adding an area (part 2's Build and Deploy) is one entry here plus its view module and
its actions in ``periph_env.tui.actions``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual.widget import Widget


@dataclass(frozen=True)
class Area:
    """A tab: its id (also the action-id prefix), title and view factory."""

    id: str
    title: str
    make: Callable[[], Widget]


def _stack() -> Widget:
    from periph_env.tui.views.stack import StackView

    return StackView(id="stack-view")


def _logs() -> Widget:
    from periph_env.tui.views.logs import LogsView

    return LogsView(id="logs-view")


def _env() -> Widget:
    from periph_env.tui.views.env import EnvView

    return EnvView(id="env-view")


def _build() -> Widget:
    from periph_env.tui.views.build import BuildView

    return BuildView(id="build-view")


def _deploy() -> Widget:
    from periph_env.tui.views.deploy import DeployView

    return DeployView(id="deploy-view")


def _coming(area: str, what: str) -> Callable[[], Widget]:
    def make() -> Widget:
        from periph_env.tui.views.coming import ComingView

        return ComingView(area, what, id=f"{area.lower()}-view")

    return make


AREAS: tuple[Area, ...] = (
    Area("stack", "Stack", _stack),
    Area("logs", "Logs", _logs),
    Area("env", "Env", _env),
    Area("build", "Build", _build),
    Area("deploy", "Deploy", _deploy),
)
