"""The stack engine on the real Peripheral stack: brought up ONCE for the module.

``Stack.up`` (env check, port check, compose up in dependency order, health waits, the
migrate one-shot first) over ``compose/compose.yaml`` with a generated env file and free
ports; then status, logs, the worker's in-process hot reload and a rebuild that must not
touch db, cache or migrate.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time

import pytest

from periph_env.stack import Stack, Watcher, doctor, read_logs
from tests.fixtures.engines import remove_project
from tests.integration.stack_engine_support import Events
from tests.integration.stack_support import (
    COMPOSE_FILE,
    PORT_VARS,
    REPO,
    free_port,
    stack_env_values,
    write_env_file,
)

pytestmark = [pytest.mark.docker, pytest.mark.stack, pytest.mark.timeout(900)]
LONG_RUNNING = ("db", "cache", "backend", "worker", "frontend")
SECRET_KEYS = ("DB_PASSWORD", "REDIS_PASSWORD", "JWT_SECRET")


@pytest.fixture(scope="module")
def stack(docker_engine, compose_v2, base_images, tmp_path_factory):
    """The whole dev stack through ``Stack.up(build=True, wait=True)``, removed afterwards."""
    values = {**stack_env_values(), **{var: str(free_port()) for var in PORT_VARS}}
    env_file = write_env_file(tmp_path_factory.mktemp("stack") / "test.env", values)
    project = f"periphtest-{secrets.token_hex(4)}"
    stack = Stack(REPO, env_file=env_file, project=project)
    stack.values = values  # type: ignore[attr-defined]
    try:
        stack.up(build=True, wait=True)
        yield stack
    finally:
        stack.down(volumes=True)
        remove_project(project)


def test_up_left_every_service_healthy_and_migrate_exited_zero(stack):
    states = {s.service: s for s in stack.ps()}
    for service in LONG_RUNNING:
        assert (states[service].state, states[service].health) == ("running", "healthy")
    migrate = states["migrate"]
    assert migrate.one_shot and (migrate.state, migrate.exit_code) == ("exited", 0)
    assert states["backend"].ports == [f"127.0.0.1:{stack.values['PERIPH_BACKEND_PORT']}->5058/tcp"]


def test_ps_json_through_the_cli(stack):
    env = {
        **os.environ,
        "PERIPH_ENV_FILE": str(stack.env_file),
        "COMPOSE_PROJECT_NAME": stack.project,
    }
    proc = subprocess.run(
        [sys.executable, "-m", "periph_env", "ps", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    rows = {row["service"]: row for row in json.loads(proc.stdout)}
    assert list(rows) == ["db", "cache", "migrate", "backend", "worker", "frontend"]
    assert rows["worker"]["health"] == "healthy" and rows["worker"]["ports"]


def test_logs_are_merged_tagged_and_never_show_a_secret(stack):
    lines = read_logs(stack, ["backend", "worker", "migrate"])
    assert {line.service for line in lines} == {"backend", "worker", "migrate"}
    assert [line.timestamp for line in lines] == sorted(line.timestamp for line in lines)
    text = "\n".join(line.text for line in lines)
    for key in SECRET_KEYS:
        assert stack.values[key] not in text


def test_doctor_passes_with_the_stack_holding_its_own_ports(stack):
    checks = {c.name: c for c in doctor(stack)}
    assert checks["docker engine"].status == "ok"
    assert checks["compose v2"].status == "ok"
    assert checks["ports"].status == "ok", checks["ports"].detail


def test_a_worker_source_edit_reloads_in_process_and_ends_on_its_marker(stack):
    events = Events()
    before = stack.container_id("worker")
    probe = COMPOSE_FILE.parent.parent / "services/worker/peripheral_worker"
    probe = probe / f"_periph_probe_{secrets.token_hex(3)}.py"
    watcher = Watcher(stack, events, services=["worker"]).start()
    try:
        probe.write_text("PROBE = 1\n")
        event = events.wait(1, timeout=90)[0]
        assert event.ok, event.error
        assert event.kind == "sync" and event.serving_at and event.note is None
        assert event.files == [probe.relative_to(REPO).as_posix()]
        probe.unlink()
        event = events.wait(2, timeout=90)[1]
        assert event.ok, event.error
    finally:
        probe.unlink(missing_ok=True)
        watcher.stop()
    assert stack.container_id("worker") == before  # reloaded in-process, not restarted
    cid = stack.container_id("worker")
    out = stack.sdk().api.exec_create(cid, ["ls", "/app/peripheral_worker"])
    listing = stack.sdk().api.exec_start(out["Id"]).decode()
    assert probe.name not in listing


def test_a_go_edit_is_rebuilt_at_the_sync_signal_and_the_new_server_runs(stack):
    events = Events()
    before = stack.container_id("backend")
    token = f"periph-go-probe-{secrets.token_hex(4)}"
    probe = REPO / "services/backend/cmd/backend" / f"zz_periph_probe_{secrets.token_hex(3)}.go"
    watcher = Watcher(stack, events, services=["backend"]).start()
    try:
        source = f'package main\n\nimport "fmt"\n\nfunc init() {{ fmt.Println("{token}") }}\n'
        probe.write_text(source)
        event = events.wait(1, timeout=120)[0]
        assert event.ok, event.error
        assert event.kind == "sync" and event.serving_at
    finally:
        probe.unlink(missing_ok=True)
        watcher.stop()
    logs = stack.sdk().api.logs(stack.container_id("backend")).decode()
    assert token in logs  # the rebuilt server started, in the same container
    assert stack.container_id("backend") == before
    reloaded = [json.loads(line) for line in logs.splitlines() if '"msg":"reloaded"' in line]
    # periph's sync_signal started the build, not devreload's next poll.
    assert reloaded and reloaded[-1]["after"] == "sync signal"


def test_a_rebuild_recreates_only_its_service(stack):
    def snapshot():
        return {s.service: (s.container_id, s.started_at, s.restart_count) for s in stack.ps()}

    before = snapshot()
    started = time.monotonic()
    stack.rebuild(["worker"])
    assert time.monotonic() - started < 600
    after = snapshot()
    assert after["worker"][0] != before["worker"][0]
    for service in ("db", "cache", "migrate", "backend", "frontend"):
        assert after[service] == before[service], service
