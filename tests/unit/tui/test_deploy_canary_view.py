"""The Deploy area during a ``deploy --canary``: the canary's row shows its live 5xx ratio
beside the old pods' (a typed fake engine yielding the real event classes)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from periph_env.deploy import events as ev
from periph_env.tui.views.deploy_state import DeployState
from periph_env.tui.widgets.deploy_panels import deployment_rows
from tests.unit.tui.conftest import settle, wait_text
from tests.unit.tui.part2_fakes import FakeDeploy
from tests.unit.tui.screen import screen_text
from tests.unit.tui.test_build_view import part2_app

pytestmark = [pytest.mark.anyio, pytest.mark.tui]


def sample(elapsed: float, canary: tuple[int, int], baseline: tuple[int, int], failed=False):
    (cr, ce), (br, be) = canary, baseline
    return ev.CanarySample(
        elapsed, 60.0, cr, ce, ce / cr if cr else None, br, be, be / br if br else None,
        0.05, 0, failed, "",
    )  # fmt: skip


@dataclass
class CanaryDeploy(FakeDeploy):
    """A canary that looks fine, then (once ``gate`` opens) goes bad and is aborted."""

    gate: threading.Event = field(default_factory=threading.Event)

    def deploy(self, root, env, options) -> Iterator[ev.Event]:
        yield from self._guards(env)
        if options.dry_run:
            yield ev.Finished("dry-run", 0, 0.2)
            return
        yield ev.Step("canary")
        yield ev.DeploymentProgress("backend-canary", 1, 1, 1, 1, 0, "ready")
        yield ev.RolloutVerdict("backend-canary", True, "successfully rolled out")
        yield sample(2.0, (4, 0), (10, 0))
        self.gate.wait(10)
        yield sample(4.0, (20, 10), (60, 0), failed=True)
        yield ev.Finished("failed", 1, 5.0, revision=5, message="canary aborted: 5xx")


def test_without_a_canary_the_rollout_rows_are_the_deployments_only():
    state = DeployState()
    state.apply(ev.DeploymentProgress("backend", 2, 2, 2, 2, 0, "rolled out"))
    assert list(deployment_rows(state)) == ["backend"]


def test_a_canary_sample_before_its_pod_is_listed_gets_a_row_of_its_own():
    state = DeployState()
    state.apply(ev.DeploymentProgress("backend", 2, 2, 2, 2, 0, "rolled out"))
    state.apply(sample(2.0, (4, 0), (10, 1)))
    rows = deployment_rows(state)
    assert rows["canary"][-1].plain == "canary 0.0% of 4 · baseline 10.0% of 10 · 2/60s"


def test_a_new_operation_forgets_the_last_canary():
    state = DeployState()
    state.apply(sample(2.0, (4, 0), (10, 0)))
    state.reset_for("deploy")
    assert "canary" not in deployment_rows(state)


async def test_the_canary_row_shows_its_live_ratio_beside_the_baselines(project):
    deploy = CanaryDeploy()
    app = part2_app(project, deploy=deploy)
    async with app.run_test(size=(130, 34)) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        await pilot.press("c")
        await settle(app, pilot)
        await pilot.press("D", "enter")
        await pilot.press("o")  # the rollout pane
        text = await wait_text(app, pilot, "canary 0.0% of 4 · baseline 0.0% of 10 · 2/60s")
        assert "backend-canary" in text
        deploy.gate.set()
        text = await wait_text(app, pilot, "canary 50.0% of 20 · baseline 0.0% of 60 · 4/60s")
        assert "aborted" in screen_text(app)


async def test_k_turns_the_canary_on_for_the_next_deploy_and_the_confirmation_says_so(project):
    deploy = FakeDeploy()
    app = part2_app(project, deploy=deploy)
    async with app.run_test(size=(130, 34)) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        await pilot.press("k")
        await settle(app, pilot)
        await pilot.press("c")
        await settle(app, pilot)
        await pilot.press("D")
        text = await wait_text(app, pilot, "canary on: one new backend pod judged first")
        assert "auto-rollback off" in text
        await pilot.press("enter")
        deploy.gate.set()
        await settle(app, pilot)  # waits for the session's deploy run to end
    assert [(o.canary, o.auto_rollback) for o in deploy.deploys] == [(True, False)]


async def test_the_canary_is_off_unless_turned_on_and_k_turns_it_off_again(project):
    deploy = FakeDeploy()
    app = part2_app(project, deploy=deploy)
    async with app.run_test(size=(130, 34)) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        await pilot.press("k", "k", "c")
        await settle(app, pilot)
        await pilot.press("D")
        text = await wait_text(app, pilot, "canary off")
        assert "canary on" not in text
        await pilot.press("enter")
        deploy.gate.set()
        await settle(app, pilot)
    assert [o.canary for o in deploy.deploys] == [False]


async def test_the_check_runs_with_the_canary_so_its_scope_refusal_shows_before_deploy(project):
    checks: list[bool] = []

    @dataclass
    class ScopeRefusing(FakeDeploy):
        def deploy(self, root, env, options) -> Iterator[ev.Event]:
            checks.append(options.canary)
            yield from self._guards(env)
            yield ev.Finished(
                "refused", 2, 0.1, message="--canary judges new pods against the live "
                "objects, but ConfigMap/extra changes",
            )  # fmt: skip

    app = part2_app(project, deploy=ScopeRefusing())
    async with app.run_test(size=(130, 34)) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        await pilot.press("k", "c")
        await settle(app, pilot)
        await wait_text(app, pilot, "check refused — --canary judges new pods")
    assert checks == [True]
