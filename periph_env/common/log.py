"""Timestamped progress lines with per-step durations, shared by every engine's CLI."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import TextIO


class Log:
    """Prints progress lines like ``[testenv] docker: started dockerd (9.8s)``."""

    def __init__(self, stream: TextIO | None = None, prefix: str = "periph") -> None:
        self.stream = stream or sys.stderr
        self.prefix = prefix

    def __call__(self, message: str) -> None:
        print(f"[{self.prefix}] {message}", file=self.stream, flush=True)

    @contextlib.contextmanager
    def step(self, what: str) -> Iterator[None]:
        """Log ``what`` with its duration once it finishes (or fails)."""
        start = time.monotonic()
        try:
            yield
        except BaseException:
            self(f"{what}: FAILED after {time.monotonic() - start:.1f}s")
            raise
        self(f"{what} ({time.monotonic() - start:.1f}s)")
