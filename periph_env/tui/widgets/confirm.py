"""A yes/no question as a modal screen: ``y`` or enter dismisses with True, ``n`` or
escape with False. The quit and deploy confirmations are this question with their words."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class Confirm(ModalScreen[bool]):
    """Ask ``detail`` under ``title``; ``ask`` says which keys answer."""

    BINDINGS: ClassVar = [
        Binding("escape", "cancel", "Cancel", id="confirm.cancel", tooltip="Do not go on")
    ]

    def __init__(self, title: str, detail: str, ask: str, *, loud: bool = False) -> None:
        super().__init__(classes="confirm-deploy")
        self.title_text, self.detail, self.ask, self.loud = title, detail, ask, loud

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box", classes="prod" if self.loud else ""):
            yield Static(Text(self.title_text, style="bold"), id="confirm-title")
            yield Static(self.detail, id="confirm-detail")
            yield from self.question()

    def question(self) -> ComposeResult:
        """The widgets that ask (a subclass may ask for typing instead)."""
        yield Static(self.ask, id="confirm-ask")

    # False where the question is answered by typing (the keys go to an Input). Textual
    # calls ``on_key`` of every class in the MRO, so a subclass cannot override it away.
    keys_answer = True

    def on_key(self, event) -> None:
        if not self.keys_answer:
            return
        if event.key in ("y", "enter"):
            event.stop()
            self.dismiss(True)
        elif event.key == "n":
            event.stop()
            self.dismiss(False)

    def action_cancel(self) -> None:
        self.dismiss(False)
