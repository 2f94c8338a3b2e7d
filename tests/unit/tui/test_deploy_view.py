"""The Deploy area over a typed fake deploy engine: guards, confirmation, rollout, rollback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from periph_env.deploy.events import RolloutVerdict
from periph_env.tui.views.deploy_state import DeployState, pod_row
from periph_env.tui.widgets.deploy_panels import problems_text
from tests.unit.tui.conftest import settle, wait_text
from tests.unit.tui.part2_fakes import FakeDeploy
from tests.unit.tui.screen import screen_text
from tests.unit.tui.test_build_view import part2_app

pytestmark = [pytest.mark.anyio, pytest.mark.tui]
SNAPSHOTS = Path(__file__).parent / "snapshots"


def test_a_crash_looping_pod_is_a_problem_with_its_restarts():
    pod = {
        "metadata": {"name": "backend-abc-x1", "ownerReferences": [
            {"kind": "ReplicaSet", "name": "backend-abc"}]},
        "spec": {"containers": [{"name": "backend"}]},
        "status": {"phase": "Running", "containerStatuses": [{"ready": False, "restartCount": 4,
                   "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]},
    }  # fmt: skip
    row = pod_row(pod, 0.0)
    assert (row.deployment, row.status, row.restarts, row.ready, row.problem) == (
        "backend", "CrashLoopBackOff", 4, "0/1", True)  # fmt: skip


def test_a_crash_loop_verdict_shows_the_crashed_runs_log_under_the_problems():
    state = DeployState()
    state.reset_for("deploy")
    state.apply(RolloutVerdict("worker", False, "will not roll out", "boot\nfatal: no config"))
    text = problems_text(state).plain
    assert "worker: last run's log" in text
    assert "  | fatal: no config" in text
    state.reset_for("deploy")
    assert "fatal" not in problems_text(state).plain


async def test_guards_and_change_summary_show_after_a_check(project):
    app = part2_app(project)
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        await pilot.press("c")
        await settle(app, pilot)
        text = screen_text(app)
        assert "✓ context" in text and "✓ images" in text
        assert "backend/backend:" in text and "→" in text
        assert "+ ConfigMap/extra" in text and "~ Deployment/backend (spec)" in text


async def test_a_failing_guard_refuses_the_deploy_with_its_remedy(project):
    deploy = FakeDeploy(failing_guard="clean-tree")
    app = part2_app(project, deploy=deploy)
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        await pilot.press("c")
        await settle(app, pilot)
        assert "✗ clean-tree" in screen_text(app) and "→ commit them" in screen_text(app)
        await pilot.press("D")
        await settle(app, pilot)
        assert "demo: deploy refused — guard failed: clean-tree" in screen_text(app)
    assert deploy.deploys == []


async def test_prod_shows_a_banner_and_refuses_without_the_typed_name(project):
    deploy = FakeDeploy()
    app = part2_app(project, deploy=deploy)
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        await pilot.press("e")
        await settle(app, pilot)
        assert "PRODUCTION — prod" in screen_text(app)
        await pilot.press("c")
        await settle(app, pilot)
        await pilot.press("D")
        await settle(app, pilot)
        assert "Type the environment's name (prod)" in screen_text(app)
        await pilot.press(*"demo", "enter")
        await settle(app, pilot)
        assert "prod: deploy refused — prod not confirmed" in screen_text(app)
        assert deploy.deploys == []
        await pilot.press("D")
        await settle(app, pilot)
        await pilot.press(*"prod", "enter")
        deploy.gate.set()
        await settle(app, pilot)  # waits for the session's deploy run to end
    assert len(deploy.deploys) == 1 and deploy.deploys[0].yes


async def test_a_deploy_runs_on_while_another_area_is_shown(project):
    deploy = FakeDeploy()
    app = part2_app(project, deploy=deploy)
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        await pilot.press("c")
        await settle(app, pilot)
        await pilot.press("D", "enter")
        await wait_text(app, pilot, "deploy running")
        await pilot.press("1")
        deploy.gate.set()
        await settle(app, pilot)  # waits for the session's deploy run to end
        await pilot.press("5")
        await settle(app, pilot)
        text = screen_text(app)
        assert "deploy succeeded (#3)" in text
        assert "rolled out" in text


async def test_rollback_to_a_deploy_picked_in_the_history(project):
    deploy = FakeDeploy()
    app = part2_app(project, deploy=deploy)
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        await pilot.press("h")
        await settle(app, pilot)
        text = screen_text(app)
        assert "#2" in text and "succeeded" in text and "backend@abababababab" in text
        await pilot.press("down", "Z")
        await wait_text(app, pilot, "schema: checked when the rollback runs")
        await pilot.press("enter")
        await settle(app, pilot)
        assert "rollback succeeded (#4)" in screen_text(app)
    assert deploy.rollbacks == [1]


async def test_without_a_cluster_the_area_says_how_to_get_one(project):
    app = part2_app(project)
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.press("5")
        text = await wait_text(app, pilot, "No cluster for demo")
        assert "No cluster for demo: no cluster in unit tests" in text
        assert "periph testenv up --tier k8s" in text


@pytest.mark.parametrize("size", [(100, 30), (80, 24)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", ["build-done", "deploy-plan"])
async def test_part2_screen_matches_its_snapshot(screen, size, tmp_path):
    root = tmp_path / "peripheral"
    root.mkdir()
    app = part2_app(root)
    async with app.run_test(size=size) as pilot:
        if screen == "build-done":
            await pilot.press("4")
            await settle(app, pilot)
            await pilot.press("B")
            await settle(app, pilot)
            # The run's duration varies: pin the headline.
            view = app.query_one("#build-view")
            view.board.message = "build: done in 0.3s"
            view.redraw()
        else:
            await pilot.press("5")
            await wait_text(app, pilot, "No cluster for demo")
            await pilot.press("c")
            await settle(app, pilot)
        await settle(app, pilot)
        svg = app.export_screenshot(title="periph")
    expected = SNAPSHOTS / f"{screen}_{size[0]}x{size[1]}.svg"
    actual = expected.with_suffix(".actual.svg")
    if os.environ.get("PERIPH_UPDATE_SNAPSHOTS") == "1" or not expected.exists():
        expected.write_text(svg)
        actual.unlink(missing_ok=True)
        if os.environ.get("PERIPH_UPDATE_SNAPSHOTS") != "1":
            pytest.fail(f"new snapshot {expected.name} written; check it and commit it")
        return
    if svg != expected.read_text():
        actual.write_text(svg)
        pytest.fail(f"{screen} at {size[0]}x{size[1]} differs from {expected.name}; see {actual}")
    actual.unlink(missing_ok=True)


async def test_number_keys_leave_the_deploy_area_from_every_pane(project):
    # One app for every pane: an area stays mounted once shown, so each visit after the
    # first costs a switch, not a mount (and the keys must work on the second visit too).
    app = part2_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        for key, pane in (("4", None), ("5", "g"), ("5", "o"), ("5", "l"), ("5", "h")):
            await pilot.press(key)
            await settle(app, pilot)
            if pane is not None:
                await pilot.press(pane)
                await settle(app, pilot)
            await pilot.press("3")
            await settle(app, pilot)
            assert app.area == "env", (key, pane)


async def test_pod_log_lines_appear_in_the_logs_pane_and_survive_a_switch(project):
    app = part2_app(project)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        await pilot.press("l")
        app.deploy_session._post_lines(["[pod/backend-7f9-a1/backend] listening on :5058"], 0)
        await settle(app, pilot)
        assert "[pod/backend-7f9-a1/backend] listening on :5058" in screen_text(app)
        await pilot.press("1", "5", "l")
        await settle(app, pilot)
        assert "listening on :5058" in screen_text(app)
