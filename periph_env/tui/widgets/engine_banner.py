"""The "no Docker engine" banner the Stack and Logs views show, with the remedy."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class EngineBanner(Static):
    """Hidden while the engine answers; otherwise the problem, the remedy and the key."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, classes="engine-banner")
        self.display = False

    def show_down(
        self,
        message: str,
        remedy: list[str],
        can_start: bool,
        key: str,
        title: str = "No Docker engine",
    ) -> None:
        """Show what is wrong and what to do (and the key that starts an engine)."""
        text = Text()
        text.append(f"{title}: ", style="bold")
        text.append(message.splitlines()[0] if message else "unreachable")
        for line in remedy:
            text.append("\n" + line)
        if can_start:
            text.append("\nPress ")
            text.append(key, style="bold reverse")
            text.append(" to start one (periph testenv up --tier docker).")
        text.append("\nperiph retries on its own and reconnects when this is fixed.", style="dim")
        self.update(text)
        self.display = True

    def show_starting(self, detail: str = "") -> None:
        """Starting an engine (takes a while the first time)."""
        self.update(Text(f"Starting a Docker engine… {detail}".rstrip()))
        self.display = True

    def hide(self) -> None:
        """The engine answers again."""
        self.display = False
