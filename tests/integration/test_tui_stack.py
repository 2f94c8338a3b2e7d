"""The TUI against the real engine: a small purpose-built compose project
(``stack_engine_support``: a one-shot, a built service with an in-process reloader, a
sync+restart service), brought up once for the module. Each test opens the app over it
with the real stack engine and drives it with keys, asserting on what the screen shows.
"""

from __future__ import annotations

import secrets

import pytest
from textual.widgets import Log

from periph_env.tui.widgets.service_table import ServiceTable
from tests.fixtures.engines import remove_project
from tests.integration.stack_engine_support import mini_stack, remove_image, write_project
from tests.unit.tui.conftest import make_app, settle
from tests.unit.tui.screen import screen_text

pytestmark = [pytest.mark.docker, pytest.mark.anyio, pytest.mark.timeout(300)]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def mini(docker_engine, compose_v2, base_images, tmp_path_factory):
    """The mini project, built and up, removed with its image afterwards."""
    project = f"periphtest-{secrets.token_hex(4)}"
    root = tmp_path_factory.mktemp("tui-mini")
    write_project(root, project)
    stack = mini_stack(root, project)
    try:
        stack.up(build=True, wait=True)
        yield stack
    finally:
        remove_project(project)
        remove_image(f"{project}-app:dev")


def _real_app(stack):
    """The app over the real stack engine (``stack_api=None``: it imports periph_env.stack)."""
    app = make_app(stack.root, stack=stack, api=None, clock=__import__("time").time)
    app.session.api = None
    return app


async def _until(app, pilot, predicate, what: str, timeout: float = 60.0):
    """Poll the running app until ``predicate()`` is truthy (engines take real time)."""
    for _ in range(int(timeout / 0.2)):
        value = predicate()
        if value:
            return value
        await pilot.pause(0.2)
    raise AssertionError(f"timed out waiting for {what}:\n{screen_text(app)}")


def _row(app, service: str) -> str:
    return next(
        (ln for ln in screen_text(app).splitlines() if ln.strip().startswith(service + " ")), ""
    )


async def _select(app, pilot, service: str) -> None:
    table = app.query_one(ServiceTable)
    await _until(app, pilot, lambda: service in [k.value for k in table.rows], service)
    table.move_cursor(row=[k.value for k in table.rows].index(service))
    await pilot.pause()


async def test_stop_and_start_a_service_and_see_its_state_change(mini):
    app = _real_app(mini)
    async with app.run_test(size=(100, 30)) as pilot:
        await _until(app, pilot, lambda: "running" in _row(app, "conf"), "conf running")
        assert "done" in _row(app, "once")  # the one-shot finished with 0
        await _select(app, pilot, "conf")
        await pilot.press("x")
        await _until(app, pilot, lambda: "exited" in _row(app, "conf"), "conf exited")
        await pilot.press("s")
        await _until(app, pilot, lambda: "running" in _row(app, "conf"), "conf running again")
        await settle(app, pilot)


async def test_a_log_line_appears_and_the_filter_narrows_it(mini):
    app = _real_app(mini)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2")
        log = app.query_one("#logs-lines", Log)
        await _until(app, pilot, lambda: any("app started" in ln for ln in log.lines), "a line")
        assert any(ln.startswith("conf") for ln in log.lines)
        await pilot.press("slash", *"app started", "enter")
        await pilot.pause()
        assert log.lines and all("app started" in ln for ln in log.lines)
        assert not any(ln.startswith("conf") for ln in log.lines)


async def test_a_synced_file_edit_shows_a_reload_with_its_latency(mini):
    app = _real_app(mini)
    async with app.run_test(size=(100, 30)) as pilot:
        await _select(app, pilot, "app")
        await pilot.press("w")
        await _until(app, pilot, lambda: "hot reload: on" in screen_text(app), "watching")
        await app.workers.wait_for_complete()  # the watcher has started (initial sync done)
        (mini.root / "app" / "src" / "version").write_text(f"v-{secrets.token_hex(2)}\n")
        text = await _until(
            app, pilot, lambda: "serving +" in (t := screen_text(app)) and t, "a reload event"
        )
        assert "last reload: sync of" in text and "seen → synced +" in text
        reload = str(app.query_one(ServiceTable).get_cell("app", "reload")).split()
        assert reload[0] == "on" and reload[-1].endswith("s")  # `on 1.23s`
        await pilot.press("w")  # off again: the watch lock is released for other tests
        await settle(app, pilot)
        assert "hot reload: off" in screen_text(app)
