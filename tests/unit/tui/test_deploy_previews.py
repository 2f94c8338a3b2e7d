"""The Deploy area's Previews pane over a fake lister: previews listed with their time left,
an unreachable cluster said in the pane, nothing listed until the pane is opened."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from periph_env.deploy.preview_plan import Preview, rfc3339
from periph_env.errors import EngineError
from periph_env.tui.widgets.deploy_previews import expires_in
from tests.unit.tui.conftest import settle, wait_text
from tests.unit.tui.part2_fakes import FakeDeploy
from tests.unit.tui.screen import screen_text
from tests.unit.tui.test_build_view import part2_app

pytestmark = pytest.mark.anyio
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
