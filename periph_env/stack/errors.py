"""The stack engine's typed errors (all ``PeriphError``: printed without a traceback)."""

from __future__ import annotations

from periph_env.errors import EngineError, UsageError


class EngineUnavailable(EngineError):
    """The Docker engine does not answer (refused, no socket, or silent past the timeout).

    Exit 1, like every failed operation: ``images``, ``ps`` and every stack command agree.
    (It used to be 2 for the stack commands only; 2 is kept for usage errors.)
    """


class ComposeFileError(UsageError):
    """The compose file cannot be read; the message names the file and the line."""


class PortInUse(EngineError):
    """A port the stack publishes is held by something else."""


class BuildFailed(EngineError):
    """An image build failed; the message carries the failing step and the log tail."""


class WatchLocked(UsageError):
    """Another ``periph watch`` already watches this stack."""
