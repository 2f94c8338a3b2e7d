"""Start-and-poll: wait until a condition holds, with a deadline and a clear failure."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from periph_env.errors import EngineError

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T],
    what: str,
    timeout: float,
    every: float = 0.2,
    hint: str | None = None,
) -> T:
    """Call ``predicate`` until it returns a truthy value and return that value.

    Raises ``EngineError`` naming ``what`` when ``timeout`` seconds pass first. Exceptions
    from the predicate propagate: a probe that cannot run is not the same as "not yet".
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise EngineError(f"timed out after {timeout:.0f}s waiting for {what}", hint=hint)
        time.sleep(every)
