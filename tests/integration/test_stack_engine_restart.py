"""The Docker engine restarts while periph watches: the status model reconnects on its
own, and an edit made while the engine was down is applied once the stack is back."""

from __future__ import annotations

import secrets

import pytest

from periph_env.stack import StatusModel, Watcher
from periph_env.testenv import docker_engine as engine
from periph_env.testenv.state import Log, started_pid
from tests.fixtures.engines import remove_project
from tests.integration.stack_engine_support import (
    Events,
    cat,
    mini_stack,
    remove_image,
    wait_for,
    write_project,
)

pytestmark = [pytest.mark.docker, pytest.mark.stack, pytest.mark.timeout(300)]


@pytest.fixture
def mini(docker_engine, compose_v2, base_images, tmp_path):
    """The mini project up and healthy; the engine is running again afterwards."""
    if started_pid(engine.COMPONENT) is None:
        pytest.fail("this test restarts dockerd, so periph must have started it (testenv up)")
    project = f"periphtest-{secrets.token_hex(4)}"
    write_project(tmp_path, project)
    stack = mini_stack(tmp_path, project)
    try:
        stack.up(build=True, wait=True)
        yield stack
    finally:
        engine.ensure(Log(prefix="testenv"))
        remove_project(project)
        remove_image(f"{project}-app:dev")


def test_watch_and_status_survive_an_engine_restart(mini):
    snapshots: list[dict[str, str]] = []
    model = StatusModel(mini, lambda s: snapshots.append({x.service: x.state for x in s}))
    events = Events()
    model.start()
    watcher = Watcher(mini, events).start()
    try:
        events.wait(1)  # the initial sync of hooks/
        events.done.clear()
        wait_for(lambda: model.connected, "the status model's first connection")

        engine.stop(Log(prefix="testenv"))
        wait_for(lambda: not model.connected, "the status model noticing the engine is gone")
        (mini.root / "app" / "src" / "version").write_text("v-after-restart\n")
        engine.ensure(Log(prefix="testenv"))

        wait_for(lambda: model.connected, "the status model reconnecting", timeout=60)
        mini.up(wait=True)
        (event,) = events.wait(1, timeout=120)
        assert event.ok, event.error
        assert cat(mini, "app", "/app/src/version") == "v-after-restart\n"
        wait_for(lambda: snapshots[-1].get("app") == "running", "app running in the model")
    finally:
        watcher.stop()
        model.stop()
