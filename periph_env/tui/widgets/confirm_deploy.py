"""The typed confirmation before a deploy or rollback: for prod, the environment's name.

Dismisses with True only when the maintainer confirmed (typed the name where one is
required); escape, a wrong name or ``n`` dismisses with False and nothing runs.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class ConfirmDeploy(ModalScreen[bool]):
    """Ask before ``what`` (``deploy``, ``rollback``) touches ``env``."""

    BINDINGS: ClassVar = [
        Binding("escape", "cancel", "Cancel", id="confirm.cancel", tooltip="Do not run")
    ]

    def __init__(self, env: str, what: str, detail: str, *, typed: bool) -> None:
        super().__init__(classes="confirm-deploy")
        self.env, self.what, self.detail, self.typed = env, what, detail, typed

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box", classes="prod" if self.typed else ""):
            title = Text(f"{self.what} to {self.env.upper()}", style="bold")
            yield Static(title, id="confirm-title")
            yield Static(self.detail, id="confirm-detail")
            if self.typed:
                yield Static(
                    f"Type the environment's name ({self.env}) and press enter; escape cancels.",
                    id="confirm-ask",
                )
                yield Input(placeholder=self.env, id="confirm-input")
            else:
                yield Static("Press enter or y to go on; escape or n cancels.", id="confirm-ask")

    def on_mount(self) -> None:
        if self.typed:
            self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() == self.env)

    def on_key(self, event) -> None:
        if self.typed:
            return
        if event.key in ("enter", "y"):
            event.stop()
            self.dismiss(True)
        elif event.key == "n":
            event.stop()
            self.dismiss(False)

    def action_cancel(self) -> None:
        self.dismiss(False)
