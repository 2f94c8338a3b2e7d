"""The Stack area over a fake-but-typed engine: what the user sees and what keys do.

The same flows against the real engine are in tests/integration/test_tui_stack.py.
"""

from __future__ import annotations

import pytest

from periph_env.stack.models import ReloadEvent
from periph_env.tui.widgets.service_table import ServiceTable
from tests.unit.tui.conftest import make_app, settle, wait_text
from tests.unit.tui.fakes import NOW, FakeStack, FakeWatcher
from tests.unit.tui.screen import screen_text

pytestmark = [pytest.mark.anyio, pytest.mark.tui]


async def _select(app, pilot, service: str) -> None:
    table = app.query_one(ServiceTable)
    table.move_cursor(row=[k.value for k in table.rows].index(service))
    await pilot.pause()


async def test_every_service_shows_state_health_ports_uptime_and_restarts(project):
    app = make_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        rows = {line.split()[0]: line.split() for line in screen_text(app).splitlines()[4:10]}
        assert rows["db"][1:6] == ["running", "healthy", "5432", "1h02m", "0"]
        assert rows["backend"][1:6] == ["running", "starting", "5058", "42s", "2"]
        assert rows["frontend"][1:3] == ["exited", "137"]


async def test_a_failed_migration_shows_its_exit_code_and_log_tail(project):
    app = make_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await _select(app, pilot, "migrate")
        await settle(app, pilot)
        text = screen_text(app)
        assert "migrate failed with exit code 3" in text
        assert 'ERROR: relation "orders" already exists' in text


async def test_stop_acts_on_the_selected_service_and_the_state_follows(project):
    stack = FakeStack()
    app = make_app(project, stack=stack)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await _select(app, pilot, "cache")
        await pilot.press("x")
        await settle(app, pilot)
        assert stack.calls == [("stop", ["cache"])]
        cache_row = next(
            ln for ln in screen_text(app).splitlines() if ln.strip().startswith("cache")
        )
        assert "exited" in cache_row
        assert "stop cache: done" in screen_text(app)


async def test_action_keys_run_on_the_selected_service_or_all(project):
    stack = FakeStack()
    app = make_app(project, stack=stack)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press(*"uUDsSXrRbB")
        await settle(app, pilot)
    assert sorted(stack.calls, key=repr) == sorted(
        [
            ("up", ["db"]),
            ("up", None),
            ("down", None),
            ("start", ["db"]),
            ("start", None),
            ("stop", None),
            ("restart", ["db"]),
            ("restart", None),
            ("rebuild", ["db"]),
            ("rebuild", None),
        ],
        key=repr,
    )


async def test_w_turns_hot_reload_on_and_a_reload_shows_its_breakdown(project):
    FakeWatcher.started.clear()
    app = make_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await _select(app, pilot, "backend")
        await pilot.press("w")
        await settle(app, pilot)
        assert FakeWatcher.started == [["backend"]]
        assert "hot reload: on" in screen_text(app)
        watcher = app.session._watcher
        event = ReloadEvent(
            "backend", "sync+restart", ["main.go"], NOW - 5, NOW - 4.9, NOW - 4.5, NOW - 3.8
        )
        watcher.on_event(event)
        await settle(app, pilot)
        text = screen_text(app)
        assert "last reload: sync+restart of main.go" in text
        assert "seen → synced +0.10s → restarted +0.50s → serving +1.20s" in text
        backend_row = next(ln for ln in text.splitlines() if ln.strip().startswith("backend"))
        assert backend_row.rstrip().endswith("on 1.20s")
        await pilot.press("w")
        await settle(app, pilot)
        assert "hot reload: off" in screen_text(app)


async def test_l_opens_the_selected_services_logs(project):
    app = make_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await _select(app, pilot, "worker")
        await pilot.press("l")
        await settle(app, pilot)
        assert app.area == "logs"
        text = screen_text(app)
        assert "processed order 41" in text and "listening on :5058" not in text


async def test_without_an_engine_the_stack_says_so_and_reconnects_when_it_returns(project):
    stack = FakeStack(down=True)
    app = make_app(project, stack=stack)
    async with app.run_test(size=(100, 30)) as pilot:
        text = await wait_text(app, pilot, "No Docker engine")
        assert "No Docker engine: cannot reach the Docker engine" in text
        assert "periph testenv up --tier docker" in text
        assert "reconnects when this is fixed" in text
        await pilot.press("3")  # the rest of the app keeps working
        await pilot.pause(0.5)
        assert "target local" in screen_text(app)
        await pilot.press("1")
        stack.down_engine = False
        await wait_text(app, pilot, "healthy")
        await settle(app, pilot)
        text = screen_text(app)
        assert "No Docker engine" not in text and "healthy" in text


async def test_an_unreachable_engine_shows_what_periph_doctor_says(tmp_path, monkeypatch):
    # The real stack engine against a socket nobody listens on: no engine needed.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    from periph_env.stack import Stack

    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: debian:bookworm-slim\n")
    stack = Stack(root=tmp_path, compose_path=tmp_path / "compose.yaml", project="periphtest-x")
    app = make_app(tmp_path, stack=stack)
    app.session.api = None  # the real periph_env.stack module
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(50):
            await pilot.pause(0.2)
            if "No Docker engine" in screen_text(app):
                break
        text = " ".join(screen_text(app).split())
        assert "No Docker engine" in text and "no-docker.sock" in text
        assert "reconnects when this is fixed" in text
        await pilot.press("2")
        await pilot.pause()
        assert "No Docker engine" in screen_text(app)


async def test_shift_w_turns_hot_reload_on_for_every_service_with_watch_rules(project):
    FakeWatcher.started.clear()
    app = make_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("W")
        await settle(app, pilot)
        # One watcher over every service with rules (the fake engine's: backend, worker).
        assert FakeWatcher.started == [["backend", "worker"]]
        rows = {ln.split()[0]: ln.split() for ln in screen_text(app).splitlines()[4:10]}
        assert rows["backend"][-1] == "on" and rows["db"][-1] == "off"
        await pilot.press("W")
        await settle(app, pilot)
        assert not app.session.watched


async def test_outside_a_project_the_stack_says_so_instead_of_blaming_docker(tmp_path, monkeypatch):
    monkeypatch.delenv("PERIPH_PROJECT", raising=False)
    app = make_app(tmp_path)
    app.session.stack = None  # the real engine builds its Stack from the (empty) directory
    app.session.api = None
    async with app.run_test(size=(100, 30)) as pilot:
        text = " ".join((await wait_text(app, pilot, "No stack")).split())
        assert "No stack:" in text and "or set PERIPH_PROJECT" in text
        assert "No Docker engine" not in text
