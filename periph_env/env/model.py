"""Plain data the env checker passes around: parsed entries, findings and the report."""

from __future__ import annotations

from collections import namedtuple

ERROR = "error"
WARNING = "warning"


# Plain tuples and __slots__ classes rather than dataclasses: `dataclasses` pulls in
# `inspect`, a large share of the start-up time of `periph env check`.
_EntryBase = namedtuple("_EntryBase", "key value compose quote line end_line comments")


class Entry(_EntryBase):
    """One ``KEY=value`` statement as python-dotenv reads it (before interpolation).

    ``compose`` is what docker compose reads for the same key on the same line before
    interpolation (None when compose does not read that key there);
    ``quote`` is ``"'"``, ``'"'`` or ``""``; ``line``/``end_line`` are 1-based;
    ``comments`` is the comment block right above the statement.
    """

    __slots__ = ()


_FindingBase = namedtuple("_FindingBase", "path line code severity key message")


class Finding(_FindingBase):
    """A problem at ``path:line``; ``message`` never holds a secret value."""

    __slots__ = ()

    def sort_key(self) -> tuple[str, int, str, str]:
        """Order findings by file, line, code, key for stable output."""
        return (self.path, self.line, self.code, self.key or "")


class Report:
    """Everything ``periph env check`` found, ready for a formatter."""

    __slots__ = ("env_path", "example_path", "findings", "notices", "target")

    def __init__(
        self,
        env_path: str | None,
        example_path: str,
        target: str,
        findings: list[Finding] | None = None,
        notices: list[str] | None = None,
    ) -> None:
        self.env_path = env_path
        self.example_path = example_path
        self.target = target
        self.findings = findings if findings is not None else []
        self.notices = notices if notices is not None else []

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
