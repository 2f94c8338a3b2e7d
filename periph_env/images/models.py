"""Typed progress events, per-service results and errors of builds and pushes.

Engines *yield* events; a failure is an event with the error in its fields (the other
services go on). The CLI prints them, the TUI posts them as messages.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

from periph_env.errors import EngineError, PeriphError

Status = Literal["built", "unchanged", "failed", "pushed"]


class BuildFailed(EngineError):
    """An image build failed; carries the failing step and the tail of its log."""

    def __init__(self, message: str, *, step: str = "", log_tail: str = "", hint=None) -> None:
        super().__init__(message, hint=hint)
        self.step = step
        self.log_tail = log_tail


class PushFailed(EngineError):
    """A push did not complete (after retries, or refused outright)."""


class PushRefused(PushFailed):
    """The registry refused the credentials: retrying cannot help."""


class DirtyTree(PeriphError):
    """Release tags (demo/prod) would be built from uncommitted changes."""


@dataclass(frozen=True)
class Event:
    """Base of every progress event; ``service`` names whose it is."""

    service: str

    def line(self) -> str:
        """One human-readable progress line."""
        return f"{self.service}: {type(self).__name__}"


@dataclass(frozen=True)
class Planned(Event):
    content_tag: str
    changed: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"{self.service}: content tag {self.content_tag}"


@dataclass(frozen=True)
class Unchanged(Event):
    where: Literal["local", "registry"]
    content_tag: str

    def line(self) -> str:
        return f"{self.service}: unchanged ({self.content_tag} found in {self.where})"


@dataclass(frozen=True)
class BuildStarted(Event):
    changed: list[str]

    def line(self) -> str:
        return f"{self.service}: building; changed: {', '.join(self.changed)}"


@dataclass(frozen=True)
class StepStarted(Event):
    step: int
    total: int
    instruction: str

    def line(self) -> str:
        return f"{self.service}: step {self.step}/{self.total} {self.instruction}"


@dataclass(frozen=True)
class OutputLine(Event):
    text: str

    def line(self) -> str:
        return f"{self.service}:   {self.text}"


@dataclass(frozen=True)
class Note(Event):
    """Something the user should know that is not a failure (a skipped registry lookup)."""

    text: str

    def line(self) -> str:
        return f"{self.service}: {self.text}"


@dataclass(frozen=True)
class Built(Event):
    image_id: str
    seconds: float

    def line(self) -> str:
        return f"{self.service}: built {self.image_id[7:19]} in {self.seconds:.1f}s"


@dataclass(frozen=True)
class Failed(Event):
    """A build or push of ``service`` failed; ``step`` and ``log_tail`` say where and why."""

    message: str
    step: str = ""
    log_tail: str = ""
    hint: str | None = None

    def line(self) -> str:
        where = f" at {self.step}" if self.step else ""
        text = f"{self.service}: FAILED{where}: {self.message}"
        if self.log_tail:
            text += "\n" + "\n".join(f"{self.service}: | {ln}" for ln in self.log_tail.splitlines())
        if self.hint:
            text += f"\n{self.service}: hint: {self.hint}"
        return text


@dataclass(frozen=True)
class PushProgress(Event):
    tag: str
    status: str

    def line(self) -> str:
        return f"{self.service}: push {self.tag}: {self.status}"


@dataclass(frozen=True)
class Retrying(Event):
    attempt: int
    delay: float
    reason: str

    def line(self) -> str:
        return (
            f"{self.service}: transient error ({self.reason}); "
            f"retry {self.attempt} in {self.delay:.1f}s"
        )


@dataclass(frozen=True)
class Pushed(Event):
    tags: list[str]
    digest: str
    seconds: float

    def line(self) -> str:
        tags = ", ".join(self.tags)
        return f"{self.service}: pushed {tags} @ {self.digest} ({self.seconds:.1f}s)"


@dataclass
class ServiceResult:
    """The outcome for one service: what ``periph build --format json`` prints per service."""

    service: str
    status: Status
    tags: list[str] = field(default_factory=list)
    digest: str | None = None
    seconds: float = 0.0
    changed: list[str] = field(default_factory=list)
    image_id: str | None = None
    content_tag: str | None = None
    where: str | None = None  # for "unchanged": local or registry
    error: str | None = None
    step: str | None = None
    log_tail: str | None = None

    def to_json(self) -> dict:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        return data


@dataclass(frozen=True)
class Done(Event):
    """The last event of a service: its result."""

    result: ServiceResult

    def line(self) -> str:
        r = self.result
        return f"{self.service}: {r.status} ({r.seconds:.1f}s)"
