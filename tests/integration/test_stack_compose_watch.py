"""Plain `docker compose watch` syncs every sync rule of the real dev stack.

A developer without periph (or CI using compose) runs `docker compose watch`; on the
engine this project runs (Docker 20.10) a copy into a container whose image declares a
non-root ``USER`` fails (`getent unable to find entry`), and that service then silently
never updates. This brings the real stack up, runs the real `docker compose watch`, and
sees a new file under every sync rule's path land in its container (read back with
`docker exec`), then its deletion.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

import pytest

from periph_env.stack.compose_file import load
from tests.integration.stack_support import (
    COMPOSE_FILE,
    PORT_VARS,
    Compose,
    free_port,
    stack_env_values,
    wait_until,
    write_env_file,
)

pytestmark = [pytest.mark.docker, pytest.mark.stack, pytest.mark.timeout(1800)]

SYNC_RULES = [r for r in load(COMPOSE_FILE).rules() if r.action != "rebuild"]


@pytest.fixture(scope="module")
def watched(docker_engine, compose_v2, base_images, tmp_path_factory):
    """The dev stack up and healthy, with `docker compose watch` following it."""
    values = stack_env_values()
    tmp = tmp_path_factory.mktemp("composewatch")
    compose = Compose(
        project=f"periph-cwatch-{secrets.token_hex(4)}",
        env_file=write_env_file(tmp / "test.env", values),
        values=values,
        ports={var: free_port() for var in PORT_VARS},
    )
    watch = None
    log_path = tmp / "watch.log"
    try:
        up = compose("up", "--build", "--detach", "--wait", "--wait-timeout", "600", check=False)
        if up.returncode != 0:
            logs = compose("logs", "--no-color", "--tail", "60", check=False).stdout
            pytest.fail(f"stack did not come up:\n{up.stderr[-3000:]}\n{logs[-6000:]}")
        base = ["docker", "compose", "-p", compose.project, "-f", str(COMPOSE_FILE)]
        with log_path.open("w") as log:
            watch = subprocess.Popen(
                [*base, "--env-file", str(compose.env_file), "watch", "--no-up"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**compose.env, "COMPOSE_MENU": "false"},
            )
        wait_until(lambda: "Watch enabled" in log_path.read_text(), "watch enabled", 120)
        yield compose, log_path
    finally:
        if watch is not None:
            watch.terminate()
            try:
                watch.wait(timeout=20)
            except subprocess.TimeoutExpired:
                watch.kill()
        compose("down", "--volumes", "--remove-orphans", "--timeout", "5", check=False)


def read_in(compose: Compose, service: str, path: str) -> str | None:
    proc = compose("exec", "-T", service, "cat", path, check=False)
    return proc.stdout if proc.returncode == 0 else None


@pytest.mark.parametrize("rule", SYNC_RULES, ids=[f"{r.service}:{r.path.name}" for r in SYNC_RULES])
def test_an_edit_under_every_sync_rule_lands_in_its_container(watched, rule):
    compose, log_path = watched
    name = f"periph-watch-probe-{secrets.token_hex(4)}.txt"
    host: Path = rule.path / name
    target = f"{rule.target.rstrip('/')}/{name}"
    content = f"synced by compose watch {name}\n"
    try:
        host.write_text(content)
        wait_until(
            lambda: read_in(compose, rule.service, target) == content,
            f"{host} in {rule.service}:{target} ({log_path.read_text()[-2000:]})",
            timeout=60,
        )
    finally:
        if host.exists():
            os.unlink(host)
    wait_until(
        lambda: read_in(compose, rule.service, target) is None,
        f"the deletion of {target} in {rule.service}",
        timeout=60,
    )
    assert "getent" not in log_path.read_text()
