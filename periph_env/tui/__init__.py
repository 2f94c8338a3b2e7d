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


def run(root: Path | None = None) -> int:
    """Run the app in this terminal until the user quits; returns the exit code."""
    from periph_env import interruptible
    from periph_env.tui.app import PeriphApp

    app = PeriphApp(root or project_root())
    try:
        with interruptible():  # a SIGINT from outside: the app ends through its own exit
            result = app.run()
    finally:
        app.close_session()
    if result is None:
        return int(app.return_code or 0)  # 1 when the app crashed
    return int(result)
