# ruff: noqa: F811  (pytest fixtures imported from the engine tests are parameters here)
"""The Build area over the real images engine, Docker engine and test registry."""

from __future__ import annotations

import time

import pytest

from periph_env.tui.app import PeriphApp
from tests.integration.test_images_build import (  # noqa: F401 (fixtures)
    ALPHA,
    BETA,
    isolated_env,
    project_factory,
)
from tests.unit.tui.conftest import settings
from tests.unit.tui.screen import screen_text

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def wait_idle(app: PeriphApp, pilot, timeout: float = 240.0) -> None:
    """Until the Build area's run has ended."""
    view = app.query_one("#build-view")
    deadline = time.monotonic() + timeout
    await pilot.pause(0.2)
    while view.board.running and time.monotonic() < deadline:
        await pilot.pause(0.2)
    await app.workers.wait_for_complete()
    await pilot.pause(0.3)
    assert not view.board.running, "the build did not finish"


async def test_a_build_shows_progress_and_a_second_build_shows_every_service_unchanged(
    project_factory,
) -> None:
    project = project_factory({"alpha": ALPHA, "beta": BETA})
    app = PeriphApp(project.root, settings=settings(connect=False))
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("4")
        await pilot.pause(0.5)
        view = app.query_one("#build-view")
        seen_steps = []
        await pilot.press("B")
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            await pilot.pause(0.05)
            seen_steps += [r.step for r in view.board.rows.values() if r.status == "building"]
            if not view.board.running:
                break
        await wait_idle(app, pilot)
        assert seen_steps, "no step progress was shown while building"
        statuses = {s: r.status for s, r in view.board.rows.items()}
        assert statuses == {"alpha": "built", "beta": "built"}
        text = screen_text(app)
        assert "build: done" in text
        await pilot.press("B")
        await wait_idle(app, pilot)
        statuses = {s: r.status for s, r in view.board.rows.items()}
        assert statuses == {"alpha": "unchanged", "beta": "unchanged"}
        assert "found in local" in screen_text(app)
        await pilot.press("p")
        await wait_idle(app, pilot)
        row = view.board.rows[view.selected]
        assert row.digest.startswith("sha256:")
        assert f"digest: {row.digest}" in screen_text(app)
