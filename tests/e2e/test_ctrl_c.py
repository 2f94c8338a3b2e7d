"""ctrl+c in the first tenth of a second of a real ``periph`` process: one line, exit 130,
never a KeyboardInterrupt traceback from periph.

The signal is sent to the installed ``periph`` command at 0, 20, 50 and 100 ms, several
times each, on ``periph env check``, ``periph ps`` and the bare ``periph`` (on a terminal:
the TUI). A process the signal reaches before Python has installed its handler dies of it
(``-SIGINT``, which a shell shows as 130) and prints nothing; one it reaches after it has
finished exits normally.

What periph cannot govern is the interpreter's own start-up before periph's first line
runs: ``site`` and the lines pip's generated ``bin/periph`` runs before it imports periph
(``import re``). A traceback that lies wholly there is counted apart and named in the
failure message if it is the only kind seen; see docs/architecture.md ("ctrl+c").
"""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PERIPH = Path(sys.executable).parent / "periph"
DELAYS = (0.0, 0.02, 0.05, 0.1)
TIMES = 3


@pytest.fixture
def project(tmp_path: Path) -> dict[str, str]:
    root = tmp_path / "proj"
    (root / "compose").mkdir(parents=True)
    (root / "compose" / "compose.yaml").write_text(
        "services:\n  web:\n    image: debian:bookworm-slim\n"
    )
    (root / ".env.example").write_text("# @port required\nDB_PORT=5432\n")
    (root / ".env").write_text("DB_PORT=5432\n")
    return {
        **os.environ,
        "TERM": "xterm-256color",
        "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PERIPH_PROJECT": str(root),
        "PWD": str(root),
    }


def interrupt(argv: list[str], env: dict[str, str], delay: float, tty: bool) -> tuple[int, str]:
    """Start ``argv``, send SIGINT after ``delay`` s; (exit code, stderr)."""
    master = slave = None
    if tty:
        master, slave = pty.openpty()
        streams = {"stdin": slave, "stdout": slave}
    else:
        streams = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL}
    proc = subprocess.Popen(
        argv, stderr=subprocess.PIPE, env=env, cwd=env["PERIPH_PROJECT"], **streams
    )
    try:
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for fd in (master, slave):
            if fd is not None:
                os.close(fd)
    return proc.returncode, err.decode(errors="replace")


def before_periph(stderr: str) -> bool:
    """The traceback lies wholly in the interpreter's start-up: no frame of periph_env and
    none of bin/periph past the line that imports it."""
    frames = re.findall(r'File "([^"]+)", line (\d+)', stderr)
    if "init_import_site" in stderr:
        return True
    return bool(frames) and not any(
        ("/periph_env/" in path and not _before_the_handler(path, int(line)))
        or (path.endswith("/bin/periph") and int(line) > 5)
        for path, line in frames
    )


def _before_the_handler(path: str, line: int) -> bool:
    """A frame of periph_env/__init__.py above the line that installs the quiet handler
    (its first imports): still the interpreter's start-up as far as ctrl+c goes."""
    if not path.endswith("/periph_env/__init__.py"):
        return False
    source = Path(path).read_text().splitlines()
    install = next(
        i for i, text in enumerate(source, 1) if "signal(_signal.SIGINT, quiet_interrupt)" in text
    )
    return line < install


@pytest.mark.parametrize(
    ("argv", "tty"),
    [([str(PERIPH), "env", "check"], False), ([str(PERIPH), "ps"], False), ([str(PERIPH)], True)],
    ids=["env-check", "ps", "bare-periph-tui"],
)
def test_ctrl_c_early_prints_one_line_and_no_traceback_from_periph(project, argv, tty):
    seen, startup = [], []
    for delay in DELAYS:
        for _ in range(TIMES):
            code, err = interrupt(argv, project, delay, tty)
            if "Traceback" in err and before_periph(err):
                startup.append((delay, err.strip().splitlines()[-2:]))
                continue
            seen.append((delay, code, err))
    for delay, code, err in seen:
        assert "Traceback" not in err, f"at {delay * 1000:.0f} ms:\n{err}"
        if code in (130, -signal.SIGINT):
            assert len(err.strip().splitlines()) <= 1, f"at {delay * 1000:.0f} ms:\n{err}"
        if code == 130:
            assert err.strip() == "periph: interrupted"
    assert seen, f"every run was interrupted inside the interpreter's start-up: {startup}"


def _read_until(fd: int, text: bytes, timeout: float) -> bytes:
    """What the terminal got until ``text`` showed (or the time ran out)."""
    import select

    seen = b""
    deadline = time.monotonic() + timeout
    while text not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
    return seen


@pytest.mark.parametrize("after", [0.0, 0.3, 1.0], ids=["at-first-frame", "mounting", "idle"])
def test_a_sigint_to_the_running_tui_ends_it_with_130_and_one_line(project, after):
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    # A terminal of 30 rows, 100 columns (a new pty has none: nothing would be drawn).
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    # Textual draws on stderr: all three streams are the terminal, as in a user's shell.
    proc = subprocess.Popen(
        [str(PERIPH)], stdin=slave, stdout=slave, stderr=slave,
        env=project, cwd=project["PERIPH_PROJECT"],
    )  # fmt: skip
    try:
        shown = _read_until(master, b"Deploy", timeout=60)
        assert b"Deploy" in shown, "the TUI never drew its tabs"
        time.sleep(after)
        proc.send_signal(signal.SIGINT)
        # The terminal is drained while the app writes its last frames and restores it.
        after_signal = b""
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            after_signal += _read_until(master, b"periph: interrupted", timeout=0.2)
        assert proc.poll() is not None, "the TUI did not exit after SIGINT"
        after_signal += _read_until(master, b"periph: interrupted", timeout=1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        os.close(slave)
    text = after_signal.decode(errors="replace")
    assert proc.returncode == 130, text[-2000:]
    assert "periph: interrupted" in text
    assert "Traceback" not in text
