"""The Deploy area's Previews pane over a fake lister: previews listed with their time left,
an unreachable cluster said in the pane, nothing listed until the pane is opened."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from periph_env.deploy import events as ev
from periph_env.deploy.preview_plan import Preview, rfc3339
from periph_env.errors import EngineError
from periph_env.tui.widgets.deploy_previews import expires_in
from tests.unit.tui.conftest import settle, wait_text
from tests.unit.tui.part2_fakes import FakeDeploy
from tests.unit.tui.screen import screen_text
from tests.unit.tui.test_build_view import part2_app

pytestmark = [pytest.mark.anyio, pytest.mark.tui]
NOW = datetime(2026, 12, 2, 21, 0, tzinfo=UTC)


@dataclass
class PreviewDeploy(FakeDeploy):
    """The fake deploy engine with previews on its cluster (or a cluster that fails)."""

    previews: list[Preview] = field(default_factory=list)
    failure: str | None = None
    listings: int = 0

    def list_previews(self, root) -> list[Preview]:
        self.listings += 1
        if self.failure:
            raise EngineError(self.failure)
        return self.previews


def preview(slug: str, branch: str, hours: float) -> Preview:
    expires = rfc3339(datetime.now(UTC) + timedelta(hours=hours))
    return Preview(slug, f"peripheral-pr-{slug}", branch, expires, "2026-12-02T20:00:00Z")


def test_time_left_reads_in_days_hours_and_minutes_and_expired_in_red():
    assert expires_in("2026-12-04T23:30:00Z", NOW).plain == "in 2d 2h"
    assert expires_in("2026-12-02T23:30:00Z", NOW).plain == "in 2h 30m"
    assert expires_in("2026-12-02T20:00:00Z", NOW).plain == "expired (gc deletes it)"
    assert expires_in("", NOW).plain == "unknown (gc deletes it)"
    assert "red" in str(expires_in("garbled", NOW).style)


async def test_the_previews_pane_lists_each_preview_with_its_branch_and_time_left(project):
    deploy = PreviewDeploy(previews=[preview("feat-login", "feat/login", 5.5),
                                     preview("fix-7", "fix-7", -1)])  # fmt: skip
    app = part2_app(project, deploy=deploy)
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        assert deploy.listings == 0  # nothing listed until the pane is opened
        await pilot.press("v")
        await wait_text(app, pilot, "2 preview(s) on the demo cluster")
        text = screen_text(app)
        assert "feat-login" in text and "feat/login" in text and "peripheral-pr-feat-login" in text
        assert "in 5h" in text
        assert "expired (gc deletes it)" in text


async def test_no_previews_says_how_to_make_one(project):
    app = part2_app(project, deploy=PreviewDeploy())
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        await pilot.press("v")
        await wait_text(app, pilot, "`periph preview up BRANCH` makes one")


async def test_a_cluster_that_cannot_be_listed_is_said_in_the_pane(project):
    deploy = PreviewDeploy(failure="API server https://10.0.0.1:6443 did not answer")
    app = part2_app(project, deploy=deploy)
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        await pilot.press("v")
        await wait_text(app, pilot, "previews: API server https://10.0.0.1:6443 did not answer")


async def test_refresh_lists_the_previews_again(project):
    deploy = PreviewDeploy(previews=[preview("one", "one", 2)])
    app = part2_app(project, deploy=deploy)
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        await pilot.press("v")
        await wait_text(app, pilot, "1 preview(s)")
        deploy.previews = [preview("one", "one", 2), preview("two", "two", 2)]
        await pilot.press("r")
        await wait_text(app, pilot, "2 preview(s)")


@dataclass
class PreviewOps(PreviewDeploy):
    """Previews that ``up`` adds (its events those of a preview up) and ``down`` removes."""

    downs: list[str] = field(default_factory=list)
    ups: int = 0

    def preview_up(self, root):
        self.ups += 1
        yield ev.Step("render")
        yield ev.Note("preview feat-x: namespace peripheral-pr-feat-x, host feat-x.demo.test")
        yield ev.Step("guards")
        yield ev.GuardResult("context", True, "ok")
        yield ev.Step("rollout")
        yield ev.DeploymentProgress("backend", 2, 2, 1, 1, 1, "1 of 2 ready")
        self.gate.wait(120)  # the test opens it once it has seen the rollout running
        yield ev.DeploymentProgress("backend", 2, 2, 2, 2, 0, "rolled out")
        yield ev.RolloutVerdict("backend", True, "successfully rolled out")
        self.previews = [*self.previews, preview("feat-x", "feat/x", 24)]
        yield ev.Finished(
            "succeeded", 0, 3.0, message="preview feat-x up at https://feat-x.demo.test/"
        )

    def preview_down(self, root, branch):
        self.downs.append(branch)
        self.previews = [p for p in self.previews if p.branch != branch]
        return f"deleting preview {branch} (namespace peripheral-pr-{branch})"


async def test_u_brings_up_the_branch_preview_showing_its_steps_then_lists_it(project):
    deploy = PreviewOps()
    app = part2_app(project, deploy=deploy)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        await pilot.press("u")
        text = await wait_text(app, pilot, "backend: 1/2 ready, 2 updated — 1 of 2 ready")
        assert "preview up: running…" in text
        assert "steps: render · preview feat-x: namespace peripheral-pr-feat-x" in text
        deploy.gate.set()
        await wait_text(app, pilot, "preview up: succeeded — preview feat-x up at https://")
        await wait_text(app, pilot, "1 preview(s) on the demo cluster")
        assert "backend: 2/2 ready, 2 updated — rolled out" in screen_text(app)
    assert deploy.ups == 1


async def test_u_again_while_an_up_runs_says_so_and_starts_nothing(project):
    deploy = PreviewOps()
    app = part2_app(project, deploy=deploy)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        await pilot.press("u")
        await wait_text(app, pilot, "preview up: running…")
        await pilot.press("u")
        await pilot.pause()
        deploy.gate.set()
        await wait_text(app, pilot, "preview up: succeeded")
    assert deploy.ups == 1


async def test_x_deletes_the_selected_preview_only_once_its_slug_is_typed(project):
    deploy = PreviewOps(previews=[preview("feat-a", "feat/a", 3), preview("fix-b", "fix/b", 5)])
    app = part2_app(project, deploy=deploy)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        await pilot.press("v")
        await wait_text(app, pilot, "2 preview(s)")
        await pilot.press("down", "x")
        text = await wait_text(app, pilot, "Type fix-b and press enter")
        assert "Delete preview fix-b" in text and "peripheral-pr-fix-b (branch fix/b)" in text
        await pilot.press(*"feat-a", "enter")  # another preview's slug: nothing deleted
        await settle(app, pilot)
        assert deploy.downs == []
        await pilot.press("x")
        await wait_text(app, pilot, "Type fix-b and press enter")
        await pilot.press(*"fix-b", "enter")
        await wait_text(app, pilot, "preview down of fix/b: succeeded — deleting preview fix/b")
        await wait_text(app, pilot, "1 preview(s)")
    assert deploy.downs == ["fix/b"]


async def test_x_outside_the_previews_pane_opens_it_and_deletes_nothing(project):
    deploy = PreviewOps(previews=[preview("feat-a", "feat/a", 3)])
    app = part2_app(project, deploy=deploy)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        await pilot.press("x")
        await wait_text(app, pilot, "1 preview(s)")
        assert "Type feat-a" not in screen_text(app)
    assert deploy.downs == []
