"""Where the test engines keep their state, and how they report progress.

The cache (``$PERIPH_CACHE``, default ``~/.cache/periph``) lives outside the repository so
heavy builds (Kubernetes binaries, base images' rootfs) survive fresh clones; the state
dir under it records which processes periph started so ``down`` stops only those.
"""

from __future__ import annotations

from pathlib import Path

from periph_env.common.log import Log as _Log
from periph_env.common.paths import cache_dir
from periph_env.common.process import pid_alive, run, spawn, terminate

__all__ = ["CACHE_DIR", "STATE_DIR", "Log", "pid_alive", "run", "spawn", "terminate"]

CACHE_DIR = cache_dir()
STATE_DIR = CACHE_DIR / "testenv"


class Log(_Log):
    """Progress lines prefixed ``[testenv]`` (the shared ``Log`` with this tier's prefix)."""

    def __init__(self, stream=None, prefix: str = "testenv") -> None:
        super().__init__(stream, prefix)


def state_path(name: str) -> Path:
    """Path of a state file (pid file, marker, log) for component ``name``."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    return STATE_DIR / name


def mark_started(component: str, pid: int | None = None) -> None:
    """Record that periph started ``component`` (so ``down`` may stop it)."""
    state_path(f"{component}.started").write_text(f"{pid or ''}\n")


def started_pid(component: str) -> int | None:
    """Return the recorded pid if periph started ``component`` and it still runs."""
    marker = state_path(f"{component}.started")
    if not marker.exists():
        return None
    text = marker.read_text().strip()
    if not text:
        return None
    pid = int(text)
    return pid if pid_alive(pid) else None


def was_started(component: str) -> bool:
    """Whether periph recorded starting ``component``."""
    return state_path(f"{component}.started").exists()


def clear_started(component: str) -> None:
    """Forget that periph started ``component``."""
    state_path(f"{component}.started").unlink(missing_ok=True)


def stop_started(component: str, what: str, log: Log, timeout: float) -> bool:
    """Stop the process periph recorded starting as ``component``; False if there was none."""
    pid = started_pid(component)
    if pid is None:
        clear_started(component)
        log(f"{what}: nothing to stop (not started by periph)")
        return False
    with log.step(f"{what}: stopped (pid {pid})"):
        terminate(pid, timeout)
        clear_started(component)
    return True
