"""End to end: the real ``periph`` command in a real terminal (tmux), driven by keys.

The project is a temporary one and ``DOCKER_HOST`` points at a socket nobody serves, so
the run is the same on every machine: the Stack screen explains the missing engine, the
Env screen checks the files, the key help opens and closes, ctrl+q quits with status 0.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

PERIPH = Path(sys.executable).parent / "periph"


class Tmux:
    """One detached tmux session of a fixed size, running one command."""

    def __init__(self, name: str, command: str, env: dict[str, str], cwd: Path) -> None:
        self.name = name
        argv = ["tmux", "new-session", "-d", "-s", name, "-x", "100", "-y", "30", command]
        subprocess.run(argv, check=True, env=env, cwd=cwd)

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def screen(self) -> str:
        done = subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True
        )
        return done.stdout

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; the screen was:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


@pytest.fixture
def terminal(tmp_path: Path):
    if shutil.which("tmux") is None:
        pytest.fail("tmux is needed for the end-to-end test: apt-get install tmux")
    root = tmp_path / "proj"
    (root / "compose").mkdir(parents=True)
    (root / "compose" / "compose.yaml").write_text(
        "services:\n  web:\n    image: debian:bookworm-slim\n"
    )
    (root / ".env.example").write_text("# @port required\nDB_PORT=5432\n")
    (root / ".env").write_text("DB_PORT=99999\n")
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PERIPH_PROJECT": str(root),
    }
    status = tmp_path / "status"
    command = f"{PERIPH}; echo $? > {status}; sleep 30"
    session = Tmux(f"periph-e2e-{os.getpid()}", command, env, root)
    try:
        yield session, status
    finally:
        session.close()


def test_periph_opens_the_app_and_is_driven_by_keys(terminal):
    tmux, status = terminal
    first = tmux.wait_for("Deploy")
    assert all(tab in first for tab in ("Stack", "Logs", "Env", "Build"))
    tmux.wait_for("No Docker engine")
    tmux.keys("3")
    screen = tmux.wait_for("PE111")
    assert "Errors (1)" in screen and ".env:1" in screen
    tmux.keys("?")
    tmux.wait_for("periph keys")
    tmux.keys("Escape")
    deadline = time.monotonic() + 10
    while "periph keys" in tmux.screen() and time.monotonic() < deadline:
        time.sleep(0.1)
    tmux.keys("C-q")
    deadline = time.monotonic() + 20
    while not status.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status.read_text().strip() == "0"
