# ruff: noqa: F811  (pytest fixtures imported from the engine tests are parameters here)
"""The Deploy area over the real deploy engine, the test registry and the kwok cluster.

Each scenario gets a throw-away project and namespace (tests/integration/
test_deploy_harness.py); the app is driven by keys, as a maintainer would.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from periph_env.tui.app import PeriphApp
from periph_env.tui.views.deploy_session import DeploySession
from tests.integration.test_deploy import assert_no_secret, images, namespace, periph_env_vars  # noqa: F401
from tests.integration.test_deploy_harness import (
    DEPLOYMENTS,
    commit,
    drop_namespace,
    images_of,
    json_patch,
    make_project,
    new_namespace,
    patch_overlay,
    pin,
)
from tests.unit.tui.conftest import settings
from tests.unit.tui.screen import screen_text

pytestmark = [pytest.mark.anyio, pytest.mark.k8s, pytest.mark.registry]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def until(pilot, condition, timeout: float = 180.0, what: str = "condition") -> None:
    """Let the app run until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.1)


async def shows(app: PeriphApp, pilot, text: str, timeout: float = 30.0) -> None:
    """Let the app run until ``text`` is on the screen (the assertion of a key's effect)."""
    await until(pilot, lambda: text in screen_text(app), timeout, what=repr(text))


def state(app: PeriphApp) -> Any:
    return app.deploy_session.state


async def open_deploy(app: PeriphApp, pilot) -> None:
    await pilot.press("5")
    await until(pilot, lambda: app.deploy_session is not None, what="the deploy session")
    await until(pilot, lambda: state(app).history_loaded, what="the history")


def began_and_ended(app: PeriphApp) -> Any:
    """A condition true once an operation started after this call has ended (each start
    gives the state a new ``steps`` list), so a wait cannot pass before it began."""
    before = state(app).steps
    return lambda: state(app).steps is not before and not state(app).running


async def check(app: PeriphApp, pilot) -> None:
    done = began_and_ended(app)
    await pilot.press("c")
    await until(pilot, done, what="the guards")


async def deploy_by_keys(app: PeriphApp, pilot, confirm: tuple[str, ...] = ("enter",)) -> None:
    await check(app, pilot)
    await pilot.press("D")
    await pilot.pause(0.3)
    done = began_and_ended(app)
    await pilot.press(*confirm)
    await until(pilot, done, timeout=240, what="the deploy")
    await pilot.pause(0.5)


def app_for(root: Path) -> PeriphApp:
    return PeriphApp(root, settings=settings(connect=False))


async def test_demo_deploy_rollout_rollback_from_history_and_auto_rollback_of_unready_pods(
    kube_cluster,
    periph_env_vars,
    images,
    namespace,
    tmp_path,
) -> None:
    root = make_project(tmp_path, "demo", namespace, kube_cluster.context, images, "<webhook>")
    app = app_for(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_deploy(app, pilot)
        await deploy_by_keys(app, pilot)
        assert state(app).finished.result == "succeeded", state(app).finished
        await until(pilot, lambda: len(state(app).pods) >= len(DEPLOYMENTS), what="pods listed")
        # The state changes before the screen repaints: wait for what the user reads.
        for shown in ("demo: deploy succeeded", "rolled out", "backend-"):  # last: a pod row
            await shows(app, pilot, shown)
        for pane in ("g", "o", "h", "l"):  # plan, rollout, history, logs: nothing secret
            await pilot.press(pane)
            await pilot.pause(0.3)
            assert_no_secret(screen_text(app))
        # v2, then back to deploy #1 from the history.
        pin(root, "demo", images, "v2")
        commit(root, "v2")
        await deploy_by_keys(app, pilot)
        assert images_of(kube_cluster, namespace) == {n: images.ref("v2", n) for n in DEPLOYMENTS}
        await pilot.press("h")
        await until(pilot, lambda: len(state(app).history) >= 2, what="two history records")
        await pilot.pause(0.3)
        await shows(app, pilot, "#2")
        await shows(app, pilot, "succeeded")
        first = [r.revision for r in state(app).history].index(1)
        table = app.query_one("#deploy-history-table")
        table.move_cursor(row=first)
        await pilot.press("Z")
        # The confirmation comes once the schema check (read-only) has answered.
        await shows(app, pilot, "schema: ", timeout=120)
        assert_no_secret(screen_text(app))
        await pilot.press("enter")
        await pilot.pause(0.3)
        await until(pilot, lambda: not state(app).running, timeout=240, what="the rollback")
        assert state(app).finished.result == "succeeded", state(app).finished
        await shows(app, pilot, "rollback succeeded")
        # Pods that never become Ready: the problem shows, auto-rollback ends on v1.
        short = {"op": "replace", "path": "/spec/progressDeadlineSeconds", "value": 8}
        never = {"op": "add", "path": "/spec/template/metadata/labels/periph.dev~1test-ready",
                 "value": "never"}  # fmt: skip
        patch_overlay(
            root, "demo", json_patch("Deployment", None, short),
            json_patch("Deployment", "backend", never),
        )  # fmt: skip
        pin(root, "demo", images, "v2")
        commit(root, "v2, never ready")
        await pilot.press("a")  # auto-rollback on
        problems_seen: list[str] = []

        await check(app, pilot)
        await pilot.press("D")
        await pilot.pause(0.3)
        await pilot.press("enter")
        deadline = time.monotonic() + 240
        await pilot.pause(0.5)
        while state(app).running and time.monotonic() < deadline:
            text = screen_text(app)
            # A pod's Ready reason when it has one ("Running (ContainersNotReady)"), else
            # "unready"; the deadline shows only between its passing and the rollback.
            markers = ("exceeded its progress deadline", "unready", "ContainersNotReady")
            if any(marker in text for marker in markers):
                problems_seen.append(text)
            await pilot.pause(0.2)
        assert state(app).finished.result == "rolled-back", state(app).finished
        assert problems_seen, "the rollout view never showed the problem"
        await shows(app, pilot, "deploy rolled-back")
    assert images_of(kube_cluster, namespace) == {n: images.ref("v1", n) for n in DEPLOYMENTS}


async def test_a_canary_of_a_first_deploy_is_refused_at_the_check_and_at_the_deploy(
    kube_cluster,
    periph_env_vars,
    images,
    namespace,
    tmp_path,
) -> None:
    root = make_project(tmp_path, "demo", namespace, kube_cluster.context, images, "<webhook>")
    app = app_for(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_deploy(app, pilot)
        await pilot.press("k")  # canary on for the next deploy
        await check(app, pilot)
        assert state(app).finished.result == "refused", state(app).finished
        await shows(app, pilot, "check refused — --canary judges new pods")
        await pilot.press("D")
        await shows(app, pilot, "canary on: one new backend pod judged first")
        done = began_and_ended(app)
        await pilot.press("enter")
        await until(pilot, done, timeout=120, what="the deploy")
        finished = state(app).finished
        assert finished.result == "refused", finished
        assert "Deployment/backend is not deployed yet" in finished.message
        await shows(app, pilot, "deploy refused — --canary judges new pods")
    deployments = kube_cluster.kubectl("get", "deployments", "-n", namespace, "-o", "name")
    assert deployments.stdout.strip() == ""


async def test_a_failing_guard_and_a_prod_deploy_without_its_typed_name_are_refused(
    kube_cluster,
    periph_env_vars,
    images,
    namespace,
    tmp_path,
) -> None:
    root = make_project(tmp_path / "demo", "demo", namespace, kube_cluster.context, images,
                        "<webhook>")  # fmt: skip
    (root / "uncommitted.txt").write_text("dirty\n")
    app = app_for(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_deploy(app, pilot)
        await check(app, pilot)
        await shows(app, pilot, "✗ clean-tree")
        await pilot.press("D")
        await shows(app, pilot, "deploy refused — guard failed: clean-tree")
    prod_ns = new_namespace(kube_cluster)
    try:
        prod = make_project(tmp_path / "prod", "prod", prod_ns, kube_cluster.context, images,
                            "<webhook>")  # fmt: skip
        app = app_for(prod)
        async with app.run_test(size=(120, 40)) as pilot:
            await open_deploy(app, pilot)
            await pilot.press("e")
            await until(pilot, lambda: state(app).env == "prod", what="prod selected")
            await shows(app, pilot, "PRODUCTION — prod")
            await check(app, pilot)
            await pilot.press("D")
            await shows(app, pilot, "Type the environment's name (prod)")
            await pilot.press(*"yes", "enter")
            await shows(app, pilot, "prod: deploy refused — prod not confirmed")
            assert state(app).history == []
        deployments = kube_cluster.kubectl("get", "deployments", "-n", prod_ns, "-o", "name")
        assert deployments.stdout.strip() == ""
    finally:
        drop_namespace(kube_cluster, prod_ns)


async def test_quit_during_a_deploy_asks_then_stops_it_records_its_step_and_leaves_no_thread(
    kube_cluster,
    periph_env_vars,
    images,
    namespace,
    tmp_path,
) -> None:
    import threading

    from periph_env.deploy import read_history

    root = make_project(tmp_path, "demo", namespace, kube_cluster.context, images, "<webhook>")
    never = {"op": "add", "path": "/spec/template/metadata/labels/periph.dev~1test-ready",
             "value": "never"}  # fmt: skip
    patch_overlay(root, "demo", json_patch("Deployment", "backend", never))
    commit(root, "backend never ready: the rollout waits")
    app = app_for(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_deploy(app, pilot)
        await check(app, pilot)
        await pilot.press("D")
        await pilot.pause(0.3)
        await pilot.press("enter")
        session = app.deploy_session
        await until(
            pilot,
            lambda: session.operation is not None and session.operation.step == "rollout",
            timeout=240,
            what="the rollout",
        )
        run = session.operation
        await pilot.press("ctrl+q")
        question = "a deploy of demo is running (step: rollout). Stop it and quit? y/n"
        await shows(app, pilot, question)
        await pilot.press("n")
        await pilot.pause(0.5)
        assert app.is_running and run.running
        await pilot.press("ctrl+q")
        await pilot.pause(0.3)
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running, timeout=90, what="the app to exit")
    assert run.done and run.result.result == "interrupted"
    assert app.return_code == 0
    newest = read_history(root, "demo")[0]
    assert (newest.status, newest.message) == (
        "interrupted",
        "interrupted by the user during rollout",
    )
    assert [t.name for t in threading.enumerate() if t.name.startswith("periph")] == []


@pytest.fixture
def counted_lists(kube_cluster, namespace, monkeypatch) -> Iterator[Any]:
    """The API server's count of the Deploy area's LIST requests in ``namespace``.

    ``apiserver_request_total`` has no namespace or client label, and other tests share
    the cluster: the area's requests are told apart by identity instead. Its client
    impersonates a user of its own (allowed to read the namespace), and a FlowSchema for
    that user's lists of pods, Deployments and events puts them under their own label of
    the API server's ``apiserver_flowcontrol_dispatched_requests_total``. The deploy's
    own requests (the engine's client) are not counted.
    """
    user, schema = f"periph-tui-{namespace}", f"periph-tui-lists-{namespace}"
    kubectl = kube_cluster.kubectl
    kubectl("create", "rolebinding", "tui-reader", "--clusterrole=view", f"--user={user}",
            "-n", namespace)  # fmt: skip
    flow_schema = {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "FlowSchema",
        "metadata": {"name": schema},
        "spec": {
            "matchingPrecedence": 2,  # before every schema but "exempt" (system:masters)
            "priorityLevelConfiguration": {"name": "exempt"},  # counted, never queued
            "rules": [{
                "subjects": [{"kind": "User", "user": {"name": user}}],
                "resourceRules": [{
                    "verbs": ["list"],
                    "apiGroups": ["", "apps", "events.k8s.io"],
                    "resources": ["pods", "deployments", "events"],
                    "namespaces": [namespace],
                }],
            }],
        },
    }  # fmt: skip
    kubectl("apply", "-f", "-", input=json.dumps(flow_schema))
    original = DeploySession._kube_for

    def impersonating(self: DeploySession, env: str) -> Any:
        kube = original(self, env)
        kube.client().set_default_header("Impersonate-User", user)
        return kube

    monkeypatch.setattr(DeploySession, "_kube_for", impersonating)
    pattern = re.compile(
        r'^apiserver_flowcontrol_dispatched_requests_total\{[^}]*flow_schema="'
        + re.escape(schema)
        + r'"[^}]*\} (\S+)$',
        re.M,
    )

    def count() -> int:
        metrics = kubectl("get", "--raw", "/metrics").stdout
        found = pattern.search(metrics)
        return int(float(found.group(1))) if found else 0

    # The API server takes the new schema in within a moment: count from its first list.
    deadline = time.monotonic() + 60
    while count() == 0:
        assert time.monotonic() < deadline, f"FlowSchema {schema} never counted a list"
        kubectl("get", "pods", "-n", namespace, f"--as={user}")
        time.sleep(0.5)
    baseline = count()
    try:
        yield lambda: count() - baseline
    finally:
        kubectl("delete", "flowschema", schema, "--ignore-not-found", check=False)


async def test_the_area_shows_a_rollout_with_no_list_call_while_its_watches_are_open(
    kube_cluster,
    periph_env_vars,
    images,
    namespace,
    counted_lists,
    tmp_path,
) -> None:
    root = make_project(tmp_path, "demo", namespace, kube_cluster.context, images, "<webhook>")
    app = app_for(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_deploy(app, pilot)
        session = app.deploy_session
        await until(pilot, lambda: session.streams and session.streams.synced, what="streams")
        opened = counted_lists()
        assert opened == 3, "one list per kind (pods, Deployments, events) when the area opens"
        started = time.monotonic()
        await deploy_by_keys(app, pilot)
        assert state(app).finished.result == "succeeded", state(app).finished
        await until(pilot, lambda: len(state(app).pods) >= len(DEPLOYMENTS), what="pods listed")
        for shown in ("demo: deploy succeeded", "rolled out", "backend-", "1/1"):
            await shows(app, pilot, shown)
        await pilot.pause(2.0)  # the area stays open: a poll would list on meanwhile
        seconds = time.monotonic() - started
        assert counted_lists() == opened, (
            f"the area listed during the {seconds:.0f} s rollout (polling ten times a second "
            f"would have made ~{int(seconds * 10)} pod lists)"
        )
        assert session.streams.error == ""
