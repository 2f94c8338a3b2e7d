"""The stack engine's typed errors (all ``PeriphError``: printed without a traceback)."""

from __future__ import annotations

from periph_env.errors import EXIT_USAGE, EngineError, UsageError


class EngineUnavailable(EngineError):
    """The Docker engine does not answer: nothing periph does can work (exit 2)."""

    exit_code = EXIT_USAGE


class ComposeFileError(UsageError):
    """The compose file cannot be read; the message names the file and the line."""


class PortInUse(EngineError):
    """A port the stack publishes is held by something else."""


class BuildFailed(EngineError):
    """An image build failed; the message carries the failing step and the log tail."""


class WatchLocked(UsageError):
    """Another ``periph watch`` already watches this stack."""
