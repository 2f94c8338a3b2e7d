"""Where the test engines keep their state, and how they report progress.

The cache (``$PERIPH_CACHE``, default ``~/.cache/periph``) lives outside the repository so
heavy builds (Kubernetes binaries, base images' rootfs) survive fresh clones; the state
dir under it records which processes periph started so ``down`` stops only those.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from periph_env.errors import CommandFailed

CACHE_DIR = Path(os.environ.get("PERIPH_CACHE", Path.home() / ".cache" / "periph"))
STATE_DIR = CACHE_DIR / "testenv"


class Log:
    """Prints timestamped progress lines like ``[testenv] docker: started dockerd (9.8s)``."""

    def __init__(self, stream=None, prefix: str = "testenv") -> None:
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


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists (zombies count as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    env: dict[str, str] | None = None,
    input: str | bytes | None = None,
    timeout: float | None = None,
    cwd: str | Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing output; on failure raise CommandFailed with its output tail."""
    proc = subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        env=env,
        input=input.decode() if isinstance(input, bytes) else input,
        timeout=timeout,
        cwd=cwd,
    )
    if check and proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
        raise CommandFailed(list(argv), proc.returncode, tail)
    return proc


def spawn(argv: Sequence[str], logfile: Path) -> subprocess.Popen[bytes]:
    """Start a long-running engine process in its own session, appending output to logfile.

    Its own session: it outlives the caller (a pytest run, a terminal) until ``terminate``.
    """
    with logfile.open("ab") as out:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def terminate(pid: int, timeout: float) -> None:
    """SIGTERM ``pid``, wait up to ``timeout`` seconds for it to exit, then SIGKILL it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


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
