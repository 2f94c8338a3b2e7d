"""Messages engine threads post to the app (the only way threads reach the UI)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from periph_env.tui.formatting import safe


@dataclass
class EngineReady(Message):
    """The stack engine answered: ``stack`` is usable, ``statuses`` is a first snapshot."""

    stack: Any
    api: Any
    statuses: list[Any]


@dataclass
class EngineDown(Message):
    """No Docker engine: what is wrong, the remedy, and whether periph can start one."""

    message: str
    remedy: list[str]
    can_start: bool
    title: str = "No Docker engine"  # or "No stack" when the project itself is the problem

    def __post_init__(self) -> None:
        super().__post_init__()
        self.message = safe(self.message)  # an engine's error text: the one masker


@dataclass
class StatusChanged(Message):
    """A fresh list of ``ServiceStatus`` from the StatusModel thread."""

    statuses: list[Any]

    def can_replace(self, message: Message) -> bool:
        # Only the newest snapshot matters (Toolong's trick for repeated messages).
        return isinstance(message, StatusChanged)


@dataclass
class LogBatch(Message):
    """Log lines read since the last batch; ``dropped`` lines were skipped under load."""

    lines: list[Any]
    dropped: int = 0


@dataclass
class ReloadHappened(Message):
    """A hot-reload event (posted at each step of one reload, same object updated)."""

    event: Any


@dataclass
class ActionProgress(Message):
    """A step line from a running stack action (``up``, ``restart`` …), or its end."""

    text: str
    done: bool = False
    failed: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        self.text = safe(self.text)  # compose's output and errors: the one masker
