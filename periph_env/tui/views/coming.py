"""A placeholder area for what part 2 brings (Build, Deploy)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static


class ComingView(Vertical):
    """Says what the area will hold; the rest of the app is usable meanwhile."""

    can_focus = True

    def __init__(self, title: str, what: str, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="area-view coming")
        self._title = title
        self._what = what

    def compose(self) -> ComposeResult:
        yield Static(f"{self._title} — coming", classes="coming-title")
        yield Static(
            f"This area will show {self._what}.\n"
            f"Until then use the command line: `periph {self._title.lower()} --help`.",
            classes="coming-body",
        )
