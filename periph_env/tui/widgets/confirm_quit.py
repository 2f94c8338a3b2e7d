"""The question before quitting while a deploy (or rollback) still runs.

"a deploy of demo is running (step: rollout). Stop it and quit? y/n": ``y`` (or enter)
dismisses with True (the app stops the run, joins it and quits; the deploy's history
says ``interrupted`` with its step); ``n`` or escape with False, and the run goes on.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmQuit(ModalScreen[bool]):
    """Ask ``question`` (from the app's run registry); y / n."""

    BINDINGS: ClassVar = [
        Binding("escape", "cancel", "Cancel", id="quit.cancel", tooltip="Keep running")
    ]

    def __init__(self, question: str) -> None:
        super().__init__(classes="confirm-deploy")
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box", classes="prod"):
            yield Static(Text("Quit?", style="bold"), id="confirm-title")
            yield Static(f"{self.question} y/n", id="confirm-detail")
            yield Static("y stops it and quits; n or escape keeps it running.", id="confirm-ask")

    def on_key(self, event) -> None:
        if event.key in ("y", "enter"):
            event.stop()
            self.dismiss(True)
        elif event.key == "n":
            event.stop()
            self.dismiss(False)

    def action_cancel(self) -> None:
        self.dismiss(False)
