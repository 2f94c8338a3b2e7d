"""Pure state of the Build area: the images engine's events folded into one row per service.

No Textual, no engine I/O: ``BuildBoard.apply(event)`` takes the events of
``periph_env.images.models`` (duck-typed by class name, so fakes work too) and the view
renders the rows. Unit-tested without an app.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from periph_env.tui.formatting import safe

# Status words the table shows, and their style.
STYLES = {
    "queued": "dim",
    "planned": "dim",
    "building": "bold cyan",
    "built": "green",
    "unchanged": "green",
    "pushing": "bold cyan",
    "pushed": "bold green",
    "failed": "bold red",
    "-": "dim",
}


@dataclass
class ServiceRow:
    """What the Build area knows about one service."""

    service: str
    status: str = "-"
    step: int = 0
    total: int = 0
    instruction: str = ""
    changed: list[str] = field(default_factory=list)
    content_tag: str = ""
    where: str = ""  # unchanged: found locally or in the registry
    tags: list[str] = field(default_factory=list)
    size: int | None = None
    seconds: float | None = None
    digest: str = ""
    error: str = ""
    failed_step: str = ""
    log_tail: str = ""
    hint: str = ""
    notes: list[str] = field(default_factory=list)
    last_output: str = ""
    push_status: str = ""


def progress_bar(step: int, total: int, width: int = 10) -> str:
    """``███░░░░░░░ 3/10`` for a build at step 3 of 10; empty before the first step."""
    if total <= 0:
        return ""
    filled = max(0, min(width, round(width * step / total)))
    return "█" * filled + "░" * (width - filled) + f" {step}/{total}"


def human_size(size: int | None) -> str:
    """Bytes as ``12.3 MB`` (decimal units, as ``docker images`` prints them)."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"  # pragma: no cover


def short_digest(digest: str) -> str:
    """``sha256:0123456789ab…`` (the full digest is in the detail and copied by a key)."""
    return digest[:19] + "…" if len(digest) > 19 else digest or "-"


class BuildBoard:
    """Rows by service, in the order the services were first seen."""

    def __init__(self) -> None:
        self.rows: dict[str, ServiceRow] = {}
        self.running = False
        self.message = ""  # the last run's headline (error for the whole run, or summary)
        self.failed_run = False

    def row(self, service: str) -> ServiceRow:
        """The row of ``service`` (created on first use)."""
        if service not in self.rows:
            self.rows[service] = ServiceRow(service)
        return self.rows[service]

    def know(self, services: list[str]) -> None:
        """Services the project has (from the image listing), before any build."""
        for service in services:
            self.row(service)

    def start(self, services: list[str], verb: str) -> None:
        """A run of ``verb`` (build, push, pin) begins for ``services``."""
        self.running = True
        self.failed_run = False
        self.message = f"{verb}…"
        for service in services:
            row = self.row(service)
            row.status, row.error, row.failed_step = "queued", "", ""
            row.log_tail = row.hint = ""
            row.step = row.total = 0
            row.notes = []
            row.push_status = ""

    def finish(self, message: str, failed: bool = False) -> None:
        """The run ended (``failed``: the whole run, not one service)."""
        self.running = False
        self.message = message
        self.failed_run = failed
        for row in self.rows.values():
            if row.status in ("queued", "planned", "building", "pushing"):
                row.status = "failed" if failed else "-"

    def apply(self, event: Any) -> None:
        """Fold one engine event into its service's row."""
        kind = type(event).__name__
        handler = getattr(self, f"_on_{kind.lower()}", None)
        if handler is not None:
            handler(self.row(event.service), event)

    def _on_planned(self, row: ServiceRow, event: Any) -> None:
        row.status, row.content_tag, row.changed = "planned", event.content_tag, list(event.changed)

    def _on_unchanged(self, row: ServiceRow, event: Any) -> None:
        row.status, row.where, row.content_tag = "unchanged", event.where, event.content_tag
        row.changed = []

    def _on_buildstarted(self, row: ServiceRow, event: Any) -> None:
        row.status, row.changed = "building", list(event.changed)

    def _on_stepstarted(self, row: ServiceRow, event: Any) -> None:
        row.status, row.step, row.total = "building", event.step, event.total
        row.instruction = event.instruction

    def _on_outputline(self, row: ServiceRow, event: Any) -> None:
        row.last_output = event.text

    def _on_note(self, row: ServiceRow, event: Any) -> None:
        row.notes.append(event.text)

    def _on_built(self, row: ServiceRow, event: Any) -> None:
        row.status, row.seconds, row.step = "built", event.seconds, row.total

    def _on_pushprogress(self, row: ServiceRow, event: Any) -> None:
        row.status, row.push_status = "pushing", f"{event.tag}: {event.status}"

    def _on_retrying(self, row: ServiceRow, event: Any) -> None:
        row.push_status = f"retry {event.attempt} in {event.delay:.1f}s ({event.reason})"

    def _on_pushed(self, row: ServiceRow, event: Any) -> None:
        row.status, row.digest, row.tags = "pushed", event.digest, list(event.tags)

    def _on_failed(self, row: ServiceRow, event: Any) -> None:
        row.status, row.error, row.failed_step = "failed", event.message, event.step
        row.log_tail, row.hint = event.log_tail, event.hint or ""

    def _on_done(self, row: ServiceRow, event: Any) -> None:
        result = event.result
        row.status = result.status
        if result.tags:
            row.tags = list(result.tags)
        if result.digest:
            row.digest = result.digest
        if result.seconds or row.seconds is None:
            row.seconds = result.seconds
        if result.content_tag:
            row.content_tag = result.content_tag
        if result.status == "unchanged":
            row.where = result.where or row.where
        elif result.changed:
            row.changed = list(result.changed)
        if result.status == "failed":
            row.error = result.error or row.error
            row.failed_step = result.step or row.failed_step
            row.log_tail = result.log_tail or row.log_tail

    def current(self, row: ServiceRow) -> str:
        """The 'now' column: progress and step while building, why otherwise."""
        if row.status == "building":
            bar = progress_bar(row.step, row.total)
            return f"{bar} {row.instruction}".strip() or "starting…"
        if row.status == "pushing":
            return row.push_status
        if row.status == "unchanged":
            return f"{row.content_tag} found in {row.where}" if row.where else "content tag found"
        if row.status in ("built", "pushed") and row.changed:
            return "changed: " + ", ".join(row.changed)
        if row.status == "failed":
            return f"at {row.failed_step}" if row.failed_step else row.error
        return ""

    def detail(self, service: str) -> list[tuple[str, str]]:
        """Lines (text, style) describing one service fully: why, where, digest, log tail."""
        row = self.rows.get(service)
        if row is None:
            return [("no build yet", "dim")]
        out: list[tuple[str, str]] = [(f"{row.service}: {row.status}", "bold")]
        if row.status == "unchanged":
            out.append(
                (f"skipped: content tag {row.content_tag} already exists in {row.where}", "")
            )
        elif row.changed:
            out.append(("rebuilt because these inputs changed: " + ", ".join(row.changed), ""))
        if row.tags:
            out.append(("tags: " + ", ".join(row.tags), ""))
        if row.digest:
            out.append((f"digest: {row.digest}", "bold"))
        if row.status == "failed":
            where = f" at step {row.failed_step}" if row.failed_step else ""
            out.append((f"failed{where}: {row.error}", "bold red"))
            for line in row.log_tail.splitlines()[-12:]:
                out.append((f"  | {line}", "red"))
            if row.hint:
                out.append((f"hint: {row.hint}", "yellow"))
        for note in row.notes[-3:]:
            out.append((f"note: {note}", "dim"))
        return [(safe(text, one_line=True), style) for text, style in out]  # the one masker
