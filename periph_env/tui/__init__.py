"""The ``periph`` terminal UI (Textual): Stack, Logs and Env over the core engines.

``run()`` is what the bare ``periph`` command calls on a terminal. Nothing in the core
imports this package (``tests/unit/test_architecture.py``); this package imports the
engines only lazily, after the first frame, so start-up stays within budget.
"""

from __future__ import annotations

from pathlib import Path


def project_root() -> Path:
    """The periph project around the working directory (or the cwd outside one)."""
    from periph_env.common import find_project_root
    from periph_env.errors import UsageError

    try:
        return find_project_root()
    except UsageError:
        return Path.cwd()


def run(root: Path | None = None, cluster: str | None = None) -> int:
    """Run the app in this terminal until the user quits; returns the exit code (130 when a
    SIGINT from outside ended it, after the line ``periph: interrupted``). ``cluster``: the
    Stack area shows that cluster's dev stack (``periph --cluster``)."""
    import signal
    import sys

    from periph_env.tui.app import PeriphApp

    app = PeriphApp(root or project_root(), cluster=cluster)
    stop = _ExitOnInterrupt(app)
    previous = signal.signal(signal.SIGINT, stop.handle)
    try:
        result = app.run()
    finally:
        signal.signal(signal.SIGINT, previous)
        app.close_session()
    if stop.count:
        print("periph: interrupted", file=sys.stderr)
        return 130
    if result is None:
        return int(app.return_code or 0)  # 1 when the app crashed
    return int(result)


class _ExitOnInterrupt:
    """A SIGINT from outside (``kill -INT``; a terminal's ctrl+c is a key to the app) asks
    the app to exit the way its own quit does, so its runs are stopped and the terminal is
    given back.

    Not asyncio's own handler (``asyncio.run`` cancels the app's main task on SIGINT):
    Textual can absorb that cancellation while it is starting, and the app then ran on
    after the signal. A second SIGINT raises KeyboardInterrupt: the way out of an app that
    does not answer.
    """

    def __init__(self, app: object) -> None:
        self.app = app
        self.count = 0

    def handle(self, _signum: int, _frame: object) -> None:
        import asyncio

        self.count += 1
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # before the app's loop runs, or after it ended
            raise KeyboardInterrupt from None
        if self.count > 1:
            raise KeyboardInterrupt
        loop.call_soon_threadsafe(self.app.interrupt)  # type: ignore[attr-defined]
