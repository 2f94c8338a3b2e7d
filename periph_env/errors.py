"""Typed errors shared by the core and its front ends.

Every error a user can cause maps to an exit code scripts can trust:
0 ok, 1 findings or a failed operation, 2 usage (bad flags, unreadable input files).
Messages must never contain secret values; callers mask before raising.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class PeriphError(Exception):
    """Base class for errors periph reports to the user without a traceback."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nhint: {self.hint}"


class UsageError(PeriphError):
    """The command line or an input file the user named cannot be used."""

    exit_code = EXIT_USAGE


class EngineError(PeriphError):
    """An engine (Docker, Compose, registry, Kubernetes) failed or cannot be started."""


class CommandFailed(EngineError):
    """An external command exited non-zero; carries its argv and the tail of its output."""

    def __init__(self, argv: list[str], returncode: int, output_tail: str) -> None:
        shown = " ".join(argv)
        super().__init__(f"`{shown}` exited with {returncode}\n{output_tail}".rstrip())
        self.argv = argv
        self.returncode = returncode
        self.output_tail = output_tail
