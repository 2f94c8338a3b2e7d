"""Give the terminal to a program (a shell in a container or a pod) and take it back."""

from __future__ import annotations

import subprocess
from typing import Any


def run_on_terminal(app: Any, service: str, argv: list[str], env: Any, instead: str) -> None:
    """Run ``argv`` with ``app`` suspended, then say how it ended; where the app cannot
    give the terminal away (no terminal), a toast names ``instead``, the command to run."""
    from textual.app import SuspendNotSupported

    try:
        with app.suspend():
            code = subprocess.call(argv, env=env)
    except SuspendNotSupported:
        app.notify(f"a shell needs a terminal: run `{instead}`", severity="warning")
        return
    except OSError as exc:
        app.notify(f"cannot run {argv[0]}: {exc.strerror or exc}", severity="error")
        return
    app.notify(f"left the {service} shell (exit {code})")
