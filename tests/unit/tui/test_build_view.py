"""The Build area over a typed fake images engine: progress, why, failures, push, pins."""

from __future__ import annotations

import pytest

from periph_env.tui.app import PeriphApp
from periph_env.tui.views.build_state import BuildBoard, human_size, progress_bar
from tests.unit.tui.conftest import settings, settle
from tests.unit.tui.fakes import FakeStack, fake_api
from tests.unit.tui.part2_fakes import DIGEST, FakeDeploy, FakeImages
from tests.unit.tui.screen import screen_text

pytestmark = [pytest.mark.anyio, pytest.mark.tui]


def part2_app(root, images=None, deploy=None) -> PeriphApp:
    """An app over fake stack, images and deploy engines."""
    return PeriphApp(
        root,
        stack=FakeStack(),
        stack_api=fake_api(),
        images_api=images or FakeImages(),
        deploy_api=deploy or FakeDeploy(),
        settings=settings(),
    )


def test_progress_bar_fills_with_the_steps():
    assert progress_bar(0, 0) == ""
    assert progress_bar(3, 10) == "███░░░░░░░ 3/10"
    assert human_size(12_300_000) == "12.3 MB"


def test_board_says_why_a_service_was_skipped_or_rebuilt():
    board = BuildBoard()
    for event in FakeImages().build(".", FakeImages.BuildOptions()):
        board.apply(event)
    assert board.current(board.rows["worker"]) == "c-2222 found in registry"
    assert board.current(board.rows["backend"]) == "changed: services/backend/main.go"


async def test_build_all_shows_each_service_done_with_why(project):
    app = part2_app(project)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("4")
        await settle(app, pilot)
        await pilot.press("B")
        await settle(app, pilot)
        text = screen_text(app)
        assert "built" in text and "unchanged" in text
        assert "c-2222 found in registry" in text
        assert "changed: services/backend/main.go" in text
        assert "build: done" in text


async def test_a_failed_build_shows_its_step_and_log_tail(project):
    app = part2_app(project, images=FakeImages(fail=True))
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("4")
        await settle(app, pilot)
        await pilot.press("B")
        await settle(app, pilot)
        text = screen_text(app)
        assert "failed at step RUN step 3: build failed" in text
        assert "main.go:3: undefined: x" in text


async def test_push_shows_the_digest_and_copy_takes_it(project):
    app = part2_app(project)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("4")
        await settle(app, pilot)
        await pilot.press("p")
        await settle(app, pilot)
        assert f"digest: {DIGEST}" in screen_text(app)
        await pilot.press("c")
        assert app.clipboard == DIGEST


async def test_pin_to_demo_builds_with_the_pin(project):
    images = FakeImages()
    app = part2_app(project, images=images)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("4")
        await settle(app, pilot)
        await pilot.press("d")
        await settle(app, pilot)
    assert images.calls[-1][1].pin == "demo"


async def test_build_actions_are_in_the_palette(project):
    from periph_env.tui.commands import ActionsProvider

    app = part2_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        provider = ActionsProvider(app.screen)
        titles = [title for title, _, _ in provider._entries()]
    for title in ("Build: Build all", "Build: Push", "Build: Pin prod", "Deploy: Deploy",
                  "Deploy: Rollback", "Deploy: Pod logs", "Deploy: History"):  # fmt: skip
        assert title in titles


class NoDocker(FakeImages):
    """The engine raises what the images engine raises without a Docker daemon."""

    def list_images(self, root):
        from periph_env.errors import EngineError

        raise EngineError("Docker engine not reachable at unix:///var/run/docker.sock")


async def test_without_docker_the_build_area_says_how_to_get_one_and_the_app_works(project):
    app = part2_app(project, images=NoDocker())
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("4")
        await settle(app, pilot)
        text = screen_text(app)
        assert "Docker engine not reachable" in text
        assert "periph testenv up --tier docker" in text
        await pilot.press("3")
        await settle(app, pilot)
        assert app.area == "env"
