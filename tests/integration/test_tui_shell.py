"""The Stack area's shell key on a real engine, in a real terminal (tmux): ``e`` suspends
the app, opens a shell in the selected service's container, and the app comes back when
the shell ends."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.test_tui_tmux import PERIPH, Tmux

pytestmark = [pytest.mark.docker, pytest.mark.stack, pytest.mark.timeout(300)]


@pytest.fixture
def running_service(tmp_path: Path, base_images, compose_project, docker_engine):
    root = tmp_path / "proj"
    (root / "compose").mkdir(parents=True)
    (root / "compose" / "compose.yaml").write_text(
        "services:\n"
        "  web:\n"
        "    image: debian:bookworm-slim\n"
        "    command: [sleep, infinity]\n"
        "    init: true\n"
    )
    (root / ".env.example").write_text("LOG_LEVEL=info\n")
    (root / ".env").write_text("LOG_LEVEL=info\n")
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PERIPH_PROJECT": str(root),
        "COMPOSE_PROJECT_NAME": compose_project,
    }
    import subprocess

    up = subprocess.run(
        [str(PERIPH), "up", "--wait"], env=env, cwd=root, capture_output=True, text=True
    )
    assert up.returncode == 0, up.stderr
    return root, env


def test_the_shell_key_opens_a_shell_in_the_service_and_the_app_comes_back(
    running_service, tmp_path: Path
) -> None:
    root, env = running_service
    tmux = Tmux(f"periph-shell-{os.getpid()}", f"{PERIPH}; sleep 30", env, root)
    try:
        tmux.wait_for("running")
        tmux.keys("e")
        tmux.wait_for("#")  # sh's prompt in the container (root)
        tmux.keys("echo in-the-container-$((6*7)); cat /etc/hostname", "Enter")
        tmux.wait_for("in-the-container-42")
        tmux.keys("exit 3", "Enter")
        screen = tmux.wait_for("left the web shell (exit 3)")
        assert "Stack" in screen and "web" in screen
        tmux.keys("C-q")
    finally:
        tmux.close()
