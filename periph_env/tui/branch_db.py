"""The Stack area's per-branch database (issue 24): say when the checkout moved to a
branch with other migrations, and switch on a key (``m``), never by itself. The same on
a cluster stack (issue 26), through its db pod (``periph_env.cluster.db``).

``BranchDb`` wraps ``periph_env.data.branches`` for one stack; the view calls ``moved()``
on its one-second tick (a ``stat`` of git's HEAD: no engine call while nothing changes),
``check()`` and ``switch()`` in worker threads. Tests give the view a fake with the same
three methods.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any


class BranchDb:
    """``check`` / ``switch`` of the dev database against the checkout's branch: the
    local stack's db container, or with ``cluster`` (a ``ClusterStack``) its db pod."""

    def __init__(self, stack: Any, cluster: Any = None) -> None:
        from periph_env.data.migrations import project_root

        self.stack = stack
        self.cluster = cluster
        self.root: Path = project_root(stack)
        self._head = _git_head(self.root)
        self._stamp: float | None = -1.0  # never seen: the first tick checks

    def _database(self) -> tuple[Any, Any]:
        """The (stack, Postgres) pair ``periph_env.data`` works on."""
        if self.cluster is not None:
            from periph_env.cluster.db import cluster_database

            return cluster_database(self.cluster)
        from periph_env.data.pg import Postgres

        return self.stack, Postgres(self.stack)

    def moved(self) -> bool:
        """True once after git's HEAD changed (a checkout), and at the first call."""
        try:
            stamp = self._head.stat().st_mtime if self._head else None
        except OSError:
            stamp = None
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        return True

    def check(self) -> list[str]:
        """What to tell (nothing when the database is this branch's). Best effort: a db
        that is not up gives no lines."""
        from periph_env.data.migrations import up_notes

        stack, pg = self._database()
        return up_notes(stack, pg)

    def switch(self) -> list[str]:
        """Save the dev database under its branch, give this branch its own; the lines
        saying what was done. A ``PeriphError`` says why it could not."""
        from periph_env.data import branches

        stack, pg = self._database()
        with pg.session():
            result = branches.switch(pg, stack, self.root)
        if result is None:
            return ["the dev database already is this branch's: nothing to switch"]
        return result.lines()


def _git_head(root: Path) -> Path | None:
    """The file git rewrites on every checkout (worktrees have their own)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--git-path", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0 or not out.stdout.strip():
        return None
    path = Path(out.stdout.strip())
    return path if path.is_absolute() else root / path
