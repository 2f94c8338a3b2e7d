"""The key help (``?``): every action by area with its current key, as k9s shows it."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from periph_env.tui import actions
from periph_env.tui.views import AREAS

if TYPE_CHECKING:
    from periph_env.tui.app import PeriphApp


def help_table(keymap: dict[str, str]) -> Table:
    """A table of area, key, action and what it does (after the user's remaps)."""
    table = Table(box=None, expand=True, padding=(0, 1), show_edge=False)
    table.add_column("key", style="bold", no_wrap=True, width=10)
    table.add_column("action", no_wrap=True, width=13)
    table.add_column("what it does", ratio=1)
    titles = {"app": "Everywhere", **{area.id: area.title for area in AREAS}}
    for area, title in titles.items():
        found = actions.for_area(area)
        if not found:
            continue
        table.add_row(f"[b u]{title}[/]", "", "")
        for action in found:
            key = actions.key_display(keymap.get(action.id, action.key))
            table.add_row(key, action.label, action.tooltip)
    table.add_row("^p", "Palette", "Run any action by name")
    return table


class HelpScreen(ModalScreen[None]):
    """Dismissed with escape, q or ? again."""

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="help.close"),
    ]

    def compose(self) -> ComposeResult:
        app: PeriphApp = self.app  # type: ignore[assignment]
        with VerticalScroll(id="help-body"):
            yield Static(f"periph keys — remap by id in {app.keymap_display}", id="help-title")
            yield Static(help_table(app.keymap), id="help-table")

    def on_click(self) -> None:
        self.dismiss()
