"""Subprocess helpers: capture-and-raise runs, detached engine processes, termination.

A failure's argv and output tail go through the one masker (``common.redact``) before
they reach ``CommandFailed``: a password passed as a flag value (``--password x``,
``--token=x``), a ``KEY=value`` pair whose key names a credential, and every known secret
in any of its forms (base64, URL, JSON) are shown as ``****``; control characters the
tool wrote are escaped.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from periph_env.common.redact import MASK, mask_argv, redact
from periph_env.errors import CommandFailed

__all__ = [
    "MASK",
    "mask_argv",
    "pid_alive",
    "run",
    "run_streamed",
    "spawn",
    "terminate",
    "trim_tail",
]


def trim_tail(text: str, lines: int = 30) -> str:
    """The last ``lines`` non-empty-trimmed lines of ``text``."""
    return "\n".join(text.strip().splitlines()[-lines:])


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    env: dict[str, str] | None = None,
    input: str | bytes | None = None,
    timeout: float | None = None,
    cwd: str | Path | None = None,
    secrets: Iterable[str] = (),
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing output; on failure raise CommandFailed with its output tail.

    ``secrets`` are values to mask in the error (argv and output) besides the flag rules.
    """
    proc = subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        # A tool's bytes that are not UTF-8 must not raise here; they are escaped later.
        errors="surrogateescape",
        env=env,
        input=input.decode() if isinstance(input, bytes) else input,
        timeout=timeout,
        cwd=cwd,
    )
    if check and proc.returncode != 0:
        known = [s for s in secrets if s]
        tail = redact(trim_tail(proc.stdout + proc.stderr), known)
        raise CommandFailed(mask_argv(argv, known), proc.returncode, tail)
    return proc


def run_streamed(
    argv: Sequence[str],
    echo: Callable[[str], None],
    *,
    env: dict[str, str] | None = None,
    tail_lines: int = 30,
    secrets: Iterable[str] = (),
) -> None:
    """Run a long command (a build script), handing each output line to ``echo`` as it
    comes (masked, control characters escaped); on failure raise CommandFailed with the
    last ``tail_lines`` lines."""
    known = [s for s in secrets if s]
    proc = subprocess.Popen(
        list(argv),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="surrogateescape",
    )
    tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = redact(raw.rstrip(), known, keep_lines=False)
        tail.append(line)
        echo(line)
    if proc.wait() != 0:
        raise CommandFailed(mask_argv(argv, known), proc.returncode, "\n".join(tail))


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
