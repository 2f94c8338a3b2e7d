"""Plain data the env checker passes around: parsed entries, findings and the report."""

from __future__ import annotations

from dataclasses import dataclass, field

ERROR = "error"
WARNING = "warning"


@dataclass(slots=True)
class Entry:
    """One ``KEY=value`` statement as python-dotenv reads it (before interpolation).

    ``compose`` is what docker compose reads for the same text before interpolation;
    ``quote`` is ``"'"``, ``'"'`` or ``""``; ``line``/``end_line`` are 1-based.
    """

    key: str
    value: str
    compose: str
    quote: str
    line: int
    end_line: int
    comments: list[str] = field(default_factory=list)


@dataclass(slots=True, frozen=True)
class Finding:
    """A problem at ``path:line``; ``message`` never holds a secret value."""

    path: str
    line: int
    code: str
    severity: str
    key: str | None
    message: str

    def sort_key(self) -> tuple[str, int, str, str]:
        """Order findings by file, line, code, key for stable output."""
        return (self.path, self.line, self.code, self.key or "")


@dataclass(slots=True)
class Report:
    """Everything ``periph env check`` found, ready for a formatter."""

    env_path: str | None
    example_path: str
    target: str
    findings: list[Finding] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def example_only(self) -> bool:
        """True when no env file was there and only the example was checked."""
        return self.env_path is None

    @property
    def errors(self) -> int:
        """Number of error findings."""
        return sum(1 for f in self.findings if f.severity == ERROR)

    @property
    def warnings(self) -> int:
        """Number of warning findings."""
        return sum(1 for f in self.findings if f.severity == WARNING)

    def exit_code(self, strict: bool = False) -> int:
        """0 when clean (warnings count only with ``strict``), else 1."""
        if self.errors or (strict and self.warnings):
            return 1
        return 0

    def sorted(self) -> list[Finding]:
        """Findings in stable output order."""
        return sorted(self.findings, key=Finding.sort_key)
