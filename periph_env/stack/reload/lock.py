"""One ``periph watch`` per stack: an advisory file lock, released when the process dies.

Two watchers syncing the same tree would double every sync and race each other's
restarts, so the second one refuses and names the first one's pid. ``flock`` is tied to
the open file, so a crashed watcher never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from pathlib import Path
from typing import IO

from periph_env.common import cache_dir
from periph_env.stack.errors import WatchLocked


def lock_path(project: str, compose_path: Path) -> Path:
    """The lock file of one project (name plus compose file, so two checkouts differ)."""
    digest = hashlib.sha256(str(compose_path.resolve()).encode()).hexdigest()[:10]
    return cache_dir() / "stack" / f"watch-{project}-{digest}.lock"


def acquire(project: str, compose_path: Path) -> IO[str]:
    """Take the watch lock or raise ``WatchLocked`` naming the holder."""
    path = lock_path(project, compose_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise WatchLocked(
            f"stack {project!r} is already being watched (periph watch, pid {holder})",
            hint="stop that watcher (ctrl+c in its terminal) or use it; two watchers "
            "would sync every change twice",
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def held(project: str, compose_path: Path) -> bool:
    """Whether some process holds the watch lock right now."""
    path = lock_path(project, compose_path)
    if not path.exists():
        return False
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def release(handle: IO[str]) -> None:
    """Release a lock taken with ``acquire``."""
    with contextlib.suppress(OSError):
        fcntl.flock(handle, fcntl.LOCK_UN)
    handle.close()
