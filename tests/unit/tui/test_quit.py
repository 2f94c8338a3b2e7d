"""Quitting owns its ending: it asks before stopping a running deploy, stops and joins
what the app runs, and leaves no thread of periph behind (so the process exits normally).

The deploy here is an owned run whose rollout never ends by itself; the same behaviour
over the real engine and cluster is tests/integration/test_tui_deploy.py's quit test.
"""

from __future__ import annotations

import threading
import time

import pytest

from periph_env.deploy import events as ev
from periph_env.deploy.runs import Ending, OperationRun
from periph_env.tui.app import PeriphApp
from tests.unit.tui.conftest import settings, settle
from tests.unit.tui.fakes import FakeStack, fake_api
from tests.unit.tui.part2_fakes import FakeDeploy, FakeImages
from tests.unit.tui.screen import screen_text

pytestmark = [pytest.mark.anyio, pytest.mark.tui]


class EndlessRolloutRun(OperationRun):
    """Guards and a summary like ``FakeDeploy``; a real deploy then rolls out until stopped."""

    action = "deploy"

    def __init__(self, root, environment, options) -> None:
        super().__init__(root, environment)
        self.options = options
        self.changes_cluster = not options.dry_run

    def work(self):
        yield ev.Step("guards")
        yield from FakeDeploy()._guards(self.environment)
        yield ev.Summary((), (ev.ObjectChange("Deployment", "backend", "changed"),))
        if self.options.dry_run:
            return Ending("dry-run", "dry run: nothing applied")
        yield ev.Step("rollout")
        yield ev.DeploymentProgress("backend", 2, 1, 0, 0, 1, "1 of 2 updated")
        self.sleep(3600)  # a stop request ends it
        return Ending("succeeded", "rolled out")


class EndlessDeploy(FakeDeploy):
    DeployRun = EndlessRolloutRun


def periph_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("periph")]


def app_for(project) -> PeriphApp:
    return PeriphApp(
        project,
        stack=FakeStack(),
        stack_api=fake_api(),
        images_api=FakeImages(),
        deploy_api=EndlessDeploy(),
        settings=settings(),
    )


async def start_deploy(app: PeriphApp, pilot) -> None:
    await pilot.press("5")
    await settle(app, pilot)
    await pilot.press("c")
    await settle(app, pilot)
    await pilot.press("D", "enter")
    deadline = time.monotonic() + 30
    while app.deploy_session.operation is None or app.deploy_session.operation.step != "rollout":
        assert time.monotonic() < deadline, "the deploy never reached its rollout"
        await pilot.pause(0.05)


async def test_quit_during_a_deploy_asks_before_stopping_it(project):
    app = app_for(project)
    async with app.run_test(size=(110, 34)) as pilot:
        await start_deploy(app, pilot)
        await pilot.press("ctrl+q")
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "a deploy of demo is running (step: rollout). Stop it and quit? y/n" in text
        await pilot.press("n")
        await pilot.pause(0.2)
        assert app.is_running and app.deploy_session.operation.running
        assert "Stop it and quit?" not in screen_text(app)
        app.deploy_session.operation.stop()  # end the test's deploy
        assert app.deploy_session.operation.join(30)


async def test_yes_stops_the_deploy_records_its_step_and_leaves_no_thread(project):
    app = app_for(project)
    async with app.run_test(size=(110, 34)) as pilot:
        await start_deploy(app, pilot)
        run = app.deploy_session.operation
        await pilot.press("ctrl+q")
        await pilot.pause(0.2)
        await pilot.press("y")
        deadline = time.monotonic() + 60
        while app.is_running and time.monotonic() < deadline:
            await pilot.pause(0.1)
    assert not app.is_running and app.return_code == 0
    assert run.done and run.result is not None
    assert run.result.result == "interrupted"
    assert run.result.message == "interrupted by the user during rollout"
    assert periph_threads() == []


async def test_quit_with_nothing_running_leaves_at_once_and_leaves_no_thread(project):
    app = app_for(project)
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        await pilot.press("c")
        await settle(app, pilot)
        await pilot.press("ctrl+q")
        deadline = time.monotonic() + 30
        while app.is_running and time.monotonic() < deadline:
            await pilot.pause(0.1)
        assert "Stop it and quit?" not in screen_text(app)
    assert not app.is_running
    assert periph_threads() == []


class EndlessBuild(FakeImages):
    """A build that keeps building until its stream is closed (a quit closes it)."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = threading.Event()

    def build(self, root, options):
        from periph_env.images import models as im

        try:
            yield im.BuildStarted("backend", ["services/backend/main.go"])
            step = 0
            while True:
                step += 1
                yield im.StepStarted("backend", step, 1000, f"RUN step {step}")
                time.sleep(0.05)
        finally:
            self.closed.set()


async def test_quit_during_a_build_stops_it_closes_its_stream_and_leaves_no_thread(project):
    images = EndlessBuild()
    app = PeriphApp(
        project, stack=FakeStack(), stack_api=fake_api(), images_api=images,
        deploy_api=EndlessDeploy(), settings=settings(),
    )  # fmt: skip
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.press("4")
        await settle(app, pilot)
        await pilot.press("B")
        deadline = time.monotonic() + 30
        while not any(r.running for r in app.runs.running()):
            assert time.monotonic() < deadline, "the build never started"
            await pilot.pause(0.05)
        await pilot.press("ctrl+q")
        deadline = time.monotonic() + 30
        while app.is_running and time.monotonic() < deadline:
            await pilot.pause(0.1)
        assert "Stop it and quit?" not in screen_text(app)  # a build changes no cluster
    assert not app.is_running and app.return_code == 0
    assert images.closed.wait(10), "the build's stream was never closed"
    assert periph_threads() == []
