"""The stack engine on the real engine, against a small purpose-built compose project.

One project (``stack_engine_support``: a one-shot, a built service with an in-process
"reloader", a sync+restart service) is brought up once for the module; each test starts
its own ``Watcher`` and checks what the user sees: reload events, files in containers,
containers kept or replaced.
"""

from __future__ import annotations

import secrets
import time

import pytest

from periph_env.stack import StatusModel, Watcher, WatchLocked
from periph_env.stack.logs import LogFollower
from tests.fixtures.engines import remove_project
from tests.integration.stack_engine_support import (
    Events,
    cat,
    exec_in,
    mini_stack,
    remove_image,
    wait_for,
    write_project,
)

pytestmark = [pytest.mark.docker, pytest.mark.stack, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def mini(docker_engine, compose_v2, base_images, tmp_path_factory):
    """The mini project, built and up (healthy), removed with its image afterwards."""
    project = f"periphtest-{secrets.token_hex(4)}"
    root = tmp_path_factory.mktemp("mini")
    write_project(root, project)
    stack = mini_stack(root, project)
    try:
        stack.up(build=True, wait=True)
        yield stack
    finally:
        remove_project(project)
        remove_image(f"{project}-app:dev")


@pytest.fixture
def watch(mini):
    """A started Watcher on the mini project and its collected events."""
    events = Events()
    watcher = Watcher(mini, events).start()
    try:
        # hooks/ has initial_sync: its reload comes first; tests count from after it.
        (events.initial,) = events.wait(1)
        events.done.clear()
        time.sleep(0.2)
        yield watcher, events
    finally:
        watcher.stop()


def test_up_ran_the_one_shot_to_completion_first(mini):
    states = {s.service: s for s in mini.ps()}
    assert states["once"].one_shot and states["once"].state == "exited"
    assert states["once"].exit_code == 0
    assert states["app"].state == "running" and states["conf"].state == "running"


def test_a_source_edit_is_synced_and_ends_on_the_reload_marker(mini, watch):
    _watcher, events = watch
    (mini.root / "app" / "src" / "version").write_text("v-edit\n")
    (event,) = events.wait(1)
    assert event.ok, event.error
    assert (event.service, event.kind, event.files) == ("app", "sync", ["app/src/version"])
    assert event.seen_at <= event.synced_at <= event.serving_at
    assert cat(mini, "app", "/app/src/version") == "v-edit\n"
    assert "serving +" in event.breakdown()


def test_each_sync_is_followed_by_the_services_sync_signal(mini, watch):
    _watcher, events = watch

    def told() -> int:
        return mini.sdk().api.logs(mini.container_id("app")).decode().count("periph:sync-signal")

    before = told()
    (mini.root / "app" / "src" / "version").write_text("v-signal\n")
    (event,) = events.wait(1)
    assert event.ok, event.error
    wait_for(lambda: told() == before + 1, "the app to log the sync signal once")
    # sync+restart and sync+exec rules of another service send nothing to app.
    (mini.root / "conf" / "value").write_text("c-signal\n")
    events.wait(2)
    time.sleep(0.3)
    assert told() == before + 1


def test_deletes_propagate_and_editor_temp_files_are_ignored(mini, watch):
    _watcher, events = watch
    (mini.root / "app" / "src" / "gone.txt").write_text("x")
    events.wait(1)
    assert cat(mini, "app", "/app/src/gone.txt") == "x"
    (mini.root / "app" / "src" / "gone.txt").unlink()
    (mini.root / "app" / "src" / ".version.swp").write_text("swap")
    (mini.root / "app" / "src" / "version~").write_text("backup")
    (event,) = events.wait(2)[1:]
    assert event.files == ["app/src/gone.txt"]
    listing = exec_in(mini, "app", "ls", "-a", "/app/src")[1].split()
    assert "gone.txt" not in listing
    assert ".version.swp" not in listing and "version~" not in listing


def test_a_thousand_changes_in_a_second_are_one_reload(mini, watch):
    _watcher, events = watch
    branch = mini.root / "app" / "src" / "branch"
    branch.mkdir()
    for i in range(1000):
        (branch / f"f{i}.txt").write_text(str(i))
    (mini.root / "app" / "src" / "version").write_text("v-branch\n")
    (event,) = events.wait(1)
    time.sleep(1.0)  # nothing else trickles in afterwards
    assert len(events.done) == 1
    assert event.ok, event.error
    assert exec_in(mini, "app", "sh", "-c", "ls /app/src/branch | wc -l")[1].strip() == "1000"


def test_sync_restart_restarts_only_its_service(mini, watch):
    _watcher, events = watch
    app_before = mini.container_id("app")
    (mini.root / "conf" / "value").write_text("c-restart\n")
    (event,) = events.wait(1)
    assert event.ok, event.error
    assert event.kind == "sync+restart" and event.restarted_at and event.serving_at
    assert cat(mini, "conf", "/conf/value") == "c-restart\n"
    assert mini.container_id("app") == app_before


def test_initial_sync_then_sync_exec_runs_the_rule_command(mini, watch):
    _watcher, events = watch
    first = events.initial  # the initial sync of hooks/ when watching started
    assert first.ok and first.kind == "sync+exec", first
    assert cat(mini, "conf", "/hooks/h.txt") == "h0\n"
    (mini.root / "hooks" / "h.txt").write_text("h1\n")
    (event,) = events.wait(1)
    assert event.ok, event.error
    assert event.kind == "sync+exec" and event.restarted_at
    assert cat(mini, "conf", "/tmp/exec-ran") == "h1\n"


def test_a_change_while_the_container_is_down_is_applied_when_it_is_back(mini, watch):
    _watcher, events = watch
    mini.stop(["app"])
    (mini.root / "app" / "src" / "version").write_text("v-while-down\n")
    time.sleep(1.0)
    assert events.done == []
    mini.start(["app"])
    (event,) = events.wait(1)
    assert event.ok, event.error
    assert cat(mini, "app", "/app/src/version") == "v-while-down\n"


def test_a_failing_rebuild_keeps_the_old_container_serving(mini, watch):
    _watcher, events = watch
    before = mini.container_id("app")
    once_before = mini.container_id("once")
    (mini.root / "app" / "deps.txt").write_text("fail\n")
    (event,) = events.wait(1, timeout=120)
    assert not event.ok and event.kind == "rebuild"
    assert event.trigger == "app/deps.txt"
    assert "grep -q fail" in event.error
    states = {s.service: s for s in mini.ps()}
    assert states["app"].container_id == before and states["app"].state == "running"
    # A good change rebuilds and replaces app alone; the one-shot is not re-run.
    (mini.root / "app" / "deps.txt").write_text("deps-2\n")
    (event,) = events.wait(2, timeout=180)[1:]
    assert event.ok, event.error
    assert mini.container_id("app") != before
    assert mini.container_id("once") == once_before
    assert cat(mini, "app", "/app/deps.txt") == "deps-2\n"


def test_a_second_watch_on_the_same_stack_refuses(mini, watch):
    with pytest.raises(WatchLocked, match="already being watched"):
        Watcher(mini, lambda _e: None).start()


def test_status_model_follows_stop_and_start_through_events(mini):
    seen: list[dict[str, str]] = []
    model = StatusModel(mini, lambda statuses: seen.append({s.service: s.state for s in statuses}))
    model.start()
    try:
        wait_for(lambda: model.connected and seen, "first snapshot")
        mini.stop(["conf"])
        wait_for(lambda: any(s.get("conf") == "exited" for s in seen), "conf exited")
        mini.start(["conf"])
        wait_for(lambda: seen[-1].get("conf") == "running", "conf running again")
    finally:
        model.stop()


def test_logs_follow_a_service_across_a_restart_without_losing_lines(mini):
    lines = []
    follower = LogFollower(mini, lines.extend, services=["conf"], since=time.time())
    follower.start()
    try:
        time.sleep(0.5)
        mini.restart(["conf"])
        mini.restart(["conf"])
        wait_for(
            lambda: sum(1 for line in lines if line.text.startswith("conf=")) >= 2,
            "both restarts' first lines",
        )
    finally:
        follower.stop()
    texts = [line.text for line in lines]
    assert len(texts) == len(set((line.timestamp, line.text) for line in lines)), "duplicates"
