"""Command palette provider: every registered action, runnable from any area."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from periph_env.tui import actions
from periph_env.tui.views import AREAS

if TYPE_CHECKING:
    from periph_env.tui.app import PeriphApp

_TITLES = {"app": "", **{area.id: area.title + ": " for area in AREAS}}


def _title(action: actions.Action) -> str:
    return f"{_TITLES.get(action.area, '')}{action.label}"


class ActionsProvider(Provider):
    """Offers ``Stack: Restart``, ``Logs: Follow``, ``Env: Add missing`` … with their keys."""

    def _entries(self) -> list[tuple[str, str, actions.Action]]:
        app: PeriphApp = self.app  # type: ignore[assignment]
        out = []
        for action in actions.ACTIONS:
            key = actions.key_display(app.keymap.get(action.id, action.key))
            out.append((_title(action), f"{action.tooltip} · key {key}", action))
        return out

    def _run(self, action_id: str) -> None:
        app: PeriphApp = self.app  # type: ignore[assignment]
        app.run_registered(action_id)

    async def discover(self) -> Hits:
        for title, help_text, action in self._entries():
            yield DiscoveryHit(title, partial(self._run, action.id), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action in self._entries():
            score = max(matcher.match(title), matcher.match(action.tooltip) * 0.5)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(title), partial(self._run, action.id), help=help_text
                )
