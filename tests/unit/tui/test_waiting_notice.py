"""A slow engine call says what it waits for in the TUI, as it does on the command line."""

from __future__ import annotations

import threading

import pytest

from periph_env.common import waiting
from periph_env.tui.app import PeriphApp
from tests.unit.tui.conftest import settings, wait_until
from tests.unit.tui.fakes import FakeStack, fake_api

pytestmark = [pytest.mark.anyio, pytest.mark.tui]


async def test_a_slow_engine_call_shows_what_it_waits_for_as_plain_text(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setattr(waiting, "ANNOUNCE_AFTER", 0.05)
    app = PeriphApp(tmp_path, stack=FakeStack(), stack_api=fake_api(), settings=settings())
    release = threading.Event()

    def slow_call() -> None:
        # [b] would be bold markup if the text were read as markup; it must show as is.
        with waiting.waiting_for("the Docker engine at unix:///run/[b]docker.sock"):
            release.wait(10)

    async with app.run_test(size=(120, 30)) as pilot:
        worker = threading.Thread(target=slow_call)
        worker.start()
        try:
            wanted = "waiting for the Docker engine at unix:///run/[b]docker.sock ("
            await wait_until(
                pilot,
                lambda: any(
                    n.message.startswith(wanted) and not n.markup for n in app._notifications
                ),
                what="the waiting toast",
            )
        finally:
            release.set()
            worker.join()


async def test_the_command_lines_reporter_is_back_after_the_app(tmp_path) -> None:
    before = waiting.set_reporter(None)
    try:
        app = PeriphApp(tmp_path, stack=FakeStack(), stack_api=fake_api(), settings=settings())
        async with app.run_test(size=(120, 30)):
            assert waiting._reporter == app.waiting_notice
        assert waiting._reporter is None
    finally:
        waiting.set_reporter(before)


async def test_news_for_an_area_removed_as_the_app_closes_is_dropped(tmp_path) -> None:
    # An engine message queued before the app closed is handled after the screen's
    # widgets went: it has nothing to show, and must not fail the app's exit.
    app = PeriphApp(tmp_path, stack=FakeStack(), stack_api=fake_api(), settings=settings())
    told: list[str] = []
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        assert "stack" in app._mounted_areas
        await app.view("stack").remove()
        app.tell("stack", lambda view: told.append("told"))
    assert told == []
