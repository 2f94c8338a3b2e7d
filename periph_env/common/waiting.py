"""Waits that speak: a call to an engine that takes longer than two seconds says what
it waits for.

The core never prints. A front end installs one reporter (the CLI prints to stderr);
engine clients wrap each blocking call in ``waiting_for("the Docker engine at …")``.
When the call is still running after ``ANNOUNCE_AFTER`` seconds, a small daemon thread
reports ``waiting for <what> (3 s)…`` and repeats every ``REPEAT_EVERY`` seconds until
the call returns or fails. Without a reporter (tests, the TUI until it installs one)
nothing is started, so the fast path costs nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Reporter = Callable[[str], None]

ANNOUNCE_AFTER = 2.0
REPEAT_EVERY = 3.0

_reporter: Reporter | None = None


def set_reporter(reporter: Reporter | None) -> Reporter | None:
    """Install the function that shows wait lines (None: stay silent); returns the old one."""
    global _reporter
    previous, _reporter = _reporter, reporter
    return previous


def wait_line(what: str, seconds: float) -> str:
    """The line shown for a wait: ``waiting for the registry at … (3 s)…``."""
    return f"waiting for {what} ({seconds:.0f} s)…"


@contextmanager
def waiting_for(what: str) -> Iterator[None]:
    """Report ``what`` while the body blocks for longer than ``ANNOUNCE_AFTER`` seconds."""
    reporter = _reporter
    if reporter is None:
        yield
        return
    done = threading.Event()
    started = time.monotonic()

    def speak() -> None:
        delay = ANNOUNCE_AFTER
        while not done.wait(delay):
            reporter(wait_line(what, time.monotonic() - started))
            delay = REPEAT_EVERY

    threading.Thread(target=speak, name="periph-waiting", daemon=True).start()
    try:
        yield
    finally:
        done.set()
