"""The typed confirmation before a deploy or rollback: for prod, the environment's name.

Dismisses with True only when the maintainer confirmed (typed the name where one is
required); escape, a wrong name or ``n`` dismisses with False and nothing runs.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Input, Static

from periph_env.tui.widgets.confirm import Confirm


class ConfirmDeploy(Confirm):
    """Ask before ``what`` (``deploy``, ``rollback``) touches ``env``."""

    def __init__(self, env: str, what: str, detail: str, *, typed: bool) -> None:
        super().__init__(
            f"{what} to {env.upper()}",
            detail,
            "Press enter or y to go on; escape or n cancels.",
            loud=typed,
        )
        self.env, self.what, self.typed = env, what, typed
        self.keys_answer = not typed  # typed: every key goes to the Input

    def question(self) -> ComposeResult:
        if not self.typed:
            yield from super().question()
            return
        yield Static(
            f"Type the environment's name ({self.env}) and press enter; escape cancels.",
            id="confirm-ask",
        )
        yield Input(placeholder=self.env, id="confirm-input")

    def on_mount(self) -> None:
        if self.typed:
            self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() == self.env)
