"""``periph`` stack commands as a user runs them, and the bad situations of issue 8.

Each test gets a fresh compose project (``compose_project``) over a small compose file
written into tmp_path; the CLI is pointed at it with ``PERIPH_COMPOSE_FILE``,
``PERIPH_ENV_FILE`` and ``COMPOSE_PROJECT_NAME``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.stack_engine_support import (
    mini_stack,
    remove_image,
    wait_for,
    write_project,
)

pytestmark = [pytest.mark.docker, pytest.mark.stack, pytest.mark.timeout(300)]

SECRET = "s3cr3t-" + os.urandom(8).hex()

PORT_COMPOSE = """\
services:
  web:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
    ports:
      - "127.0.0.1:${WEB_PORT}:8080"
"""


def periph(*args: str, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess:
    """Run the periph CLI with ``env`` added to the environment."""
    return subprocess.run(
        [sys.executable, "-m", "periph_env", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=timeout,
    )


def cli_env(compose: Path, project: str, env_file: Path | None = None) -> dict[str, str]:
    return {
        "PERIPH_COMPOSE_FILE": str(compose),
        "COMPOSE_PROJECT_NAME": project,
        "PERIPH_ENV_FILE": str(env_file or compose.parent / ".env"),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_engine_unreachable_is_a_clear_exit_1_without_hanging(tmp_path, docker_engine):
    dead = {"DOCKER_HOST": f"unix://{tmp_path}/dead.sock"}
    for command in (["ps"], ["up", "--wait"], ["logs"], ["watch"], ["stop"]):
        started = time.monotonic()
        proc = periph(*command, env=dead, timeout=60)
        assert proc.returncode == 1, (command, proc.stderr)
        assert "Docker engine" in proc.stderr and "not reachable" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert time.monotonic() - started < 30


def test_doctor_reports_an_unreachable_engine_with_its_remedy(tmp_path, docker_engine):
    proc = periph("doctor", env={"DOCKER_HOST": f"unix://{tmp_path}/dead.sock"}, timeout=60)
    assert proc.returncode == 1
    assert "FAIL  docker engine" in proc.stdout and "→" in proc.stdout


def test_a_broken_compose_file_names_the_file_and_line(tmp_path, compose_project):
    compose = tmp_path / "compose.yaml"
    compose.write_text("services:\n  web:\n    image: x\n   oops: [\n")
    proc = periph("ps", env=cli_env(compose, compose_project))
    assert proc.returncode == 2
    assert f"{compose}:4:" in proc.stderr


def test_a_taken_port_is_named_with_its_holder(tmp_path, compose_project):
    port = free_port()
    compose = tmp_path / "compose.yaml"
    compose.write_text(PORT_COMPOSE)
    (tmp_path / ".env").write_text(f"WEB_PORT={port}\n")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        proc = periph("up", "--wait", env=cli_env(compose, compose_project))
    assert proc.returncode == 1
    assert f"127.0.0.1:{port}" in proc.stderr and "service web" in proc.stderr
    assert f"pid {os.getpid()}" in proc.stderr


def test_up_ps_logs_stop_start_down_through_the_cli(tmp_path, compose_project):
    compose = write_project(tmp_path, compose_project)
    env = cli_env(compose, compose_project)
    try:
        up = periph("up", "--wait", "--build", env=env)
        assert up.returncode == 0, up.stderr
        ps = json.loads(periph("ps", "--format", "json", env=env).stdout)
        rows = {row["service"]: row for row in ps}
        assert rows["once"]["state"] == "exited" and rows["once"]["exit_code"] == 0
        assert rows["app"]["state"] == "running"
        assert all({"service", "state", "health", "ports"} <= set(row) for row in ps)

        logs = periph("logs", "app", "once", "--format", "json", env=env)
        objects = [json.loads(line) for line in logs.stdout.splitlines()]
        assert {o["service"] for o in objects} == {"app", "once"}
        stamps = [o["timestamp"] for o in objects]
        assert stamps == sorted(stamps)
        grep = periph("logs", "--grep", "^once-", env=env).stdout.splitlines()
        assert len(grep) == 1 and "once-ran" in grep[0]

        assert periph("stop", "conf", env=env).returncode == 0
        table = periph("ps", env=env).stdout
        assert any(line.split()[:2] == ["conf", "exited"] for line in table.splitlines())
        assert periph("start", "conf", env=env).returncode == 0
        assert periph("logs", "nope", env=env).returncode == 2
        down = periph("down", "--volumes", env=env)
        assert down.returncode == 0, down.stderr
        assert all(
            r["state"] == "missing"
            for r in json.loads(periph("ps", "--format", "json", env=env).stdout)
        )
    finally:
        remove_image(f"{compose_project}-app:dev")


def test_a_second_periph_watch_refuses_clearly(tmp_path, compose_project):
    compose = write_project(tmp_path, compose_project)
    stack = mini_stack(tmp_path, compose_project)
    env = cli_env(compose, compose_project)
    try:
        stack.up(build=True, wait=True)
        first = subprocess.Popen(
            [sys.executable, "-m", "periph_env", "watch"],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert "watching" in first.stderr.readline()
            second = periph("watch", env=env, timeout=60)
            assert second.returncode == 2
            assert "already being watched" in second.stderr and str(first.pid) in second.stderr
            # The first one still works, prints one line per reload, and stops on ctrl+c.
            (tmp_path / "app" / "src" / "version").write_text("v-cli\n")
            line = first.stdout.readline()
            while line.startswith("conf"):  # conf's initial sync of hooks/ comes first
                line = first.stdout.readline()
            assert line.startswith("app") and "sync" in line and "serving +" in line
        finally:
            first.send_signal(signal.SIGINT)
            assert first.wait(timeout=30) == 0
        assert stack.ps()[1].state == "running"  # ctrl+c stopped watching, not the stack
    finally:
        remove_image(f"{compose_project}-app:dev")


def test_ctrl_c_during_up_leaves_nothing_the_next_up_cannot_finish(tmp_path, compose_project):
    compose = write_project(tmp_path, compose_project)
    env = cli_env(compose, compose_project)
    try:
        first = subprocess.Popen(
            [sys.executable, "-m", "periph_env", "up", "--wait", "--build"],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        time.sleep(3)
        os.killpg(first.pid, signal.SIGINT)  # what ctrl+c in a terminal does
        first.wait(timeout=60)
        again = periph("up", "--wait", env=env)
        assert again.returncode == 0, again.stderr
        rows = {
            r["service"]: r for r in json.loads(periph("ps", "--format", "json", env=env).stdout)
        }
        assert rows["app"]["state"] == "running" and rows["once"]["exit_code"] == 0
    finally:
        remove_image(f"{compose_project}-app:dev")


def test_up_creates_a_missing_env_and_stops_on_env_errors_without_the_secret(
    tmp_path, compose_project
):
    compose = tmp_path / "compose.yaml"
    compose.write_text(PORT_COMPOSE.replace("${WEB_PORT}", "${WEB_PORT:-0}"))
    example = tmp_path / ".env.example"
    example.write_text(
        "# @secret required\nAPP_TOKEN=<your-token>\n# @port required\nAPP_PORT=8080\n"
    )
    stack = mini_stack(tmp_path, compose_project)
    stack.example_file = example
    from periph_env.stack import EnvCheckFailed

    env_file = tmp_path / ".env"
    with pytest.raises(EnvCheckFailed, match="placeholder"):
        stack.up(wait=True)
    assert env_file.exists()  # created through `env init`, then checked
    env_file.write_text(f"APP_TOKEN={SECRET}\nAPP_PORT=not-a-port\n")
    lines: list[str] = []
    with pytest.raises(EnvCheckFailed) as err:
        stack.up(wait=True, progress=lines.append)
    assert "APP_PORT" in str(err.value)
    assert SECRET not in str(err.value) and not any(SECRET in line for line in lines)
    assert wait_for(lambda: stack.ps()[0].state == "missing", "nothing started", timeout=2)
