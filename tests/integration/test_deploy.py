"""`periph deploy` against the kwok cluster and the local registry, end to end.

Each scenario deploys a throw-away project (test_deploy_harness.make_project) into a
namespace of its own. kwok plays the kubelets: pods become Ready through its stages, or
never (label periph.dev/test-ready=never), or fail (periph.dev/test-phase=failed).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from periph_env.deploy import Options, deploy
from periph_env.deploy import events as ev
from tests.integration.test_deploy_harness import (
    DEPLOYMENTS,
    SECRET_VALUES,
    FlakyProxy,
    ImageSet,
    commit,
    deploy_env,
    drop_namespace,
    images_of,
    json_patch,
    make_project,
    new_namespace,
    patch_overlay,
    periph_cli,
    pin,
    push_images,
    receiver,
)

pytestmark = [pytest.mark.k8s, pytest.mark.registry]


def assert_no_secret(*texts: str) -> None:
    """No secret value of the test env file appears in any of ``texts``."""
    for text in texts:
        for value in SECRET_VALUES:
            assert value not in text, f"secret value leaked: {value[:6]}..."


@pytest.fixture(scope="module")
def images(registry: Any, base_images: Any) -> ImageSet:
    """v1 and v2 of the five images, pushed once per session."""
    return push_images(registry)


@pytest.fixture
def periph_env_vars(
    kube_cluster: Any, registry: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """periph's environment for in-process calls (the test cluster, registry credentials)."""
    env = deploy_env(kube_cluster, registry, tmp_path / "xdg")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def namespace(kube_cluster: Any) -> Iterator[str]:
    """A fresh namespace for one scenario."""
    name = new_namespace(kube_cluster)
    yield name
    drop_namespace(kube_cluster, name)


def run_deploy(root: Path, options: Options | None = None, on_event=None) -> list[ev.Event]:
    """Drive the engine to its end, collecting every event."""
    out = []
    for event in deploy(root, "demo", options or Options()):
        out.append(event)
        if on_event:
            on_event(event)
    return out


def finished(events: list[ev.Event]) -> ev.Finished:
    """The closing event."""
    assert isinstance(events[-1], ev.Finished), events[-1]
    return events[-1]


# --- one environment deployed twice, then rolled back -------------------------------------


class Released:
    """State of the module's environment as its tests see it."""

    def __init__(self, root: Path, namespace: str, env: dict[str, str], images: ImageSet):
        self.root, self.namespace, self.env, self.images = root, namespace, env, images
        self.outputs: list[str] = []
        self.received: list[tuple[str, bytes]] = []

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        proc = periph_cli(self.root, self.env, *args)
        self.outputs += [proc.stdout, proc.stderr]
        return proc


@pytest.fixture(scope="module")
def released(
    kube_cluster: Any, registry: Any, images: ImageSet, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Released, list[subprocess.CompletedProcess[str]]]]:
    """demo deployed with v1 (text output), then with v2 (--format json), through the CLI."""
    base = tmp_path_factory.mktemp("released")
    ns = new_namespace(kube_cluster)
    with receiver() as (url, received):
        env = {
            **deploy_env(kube_cluster, registry, base / "xdg"),
            "PERIPH_TELEGRAM_API_URL": f"{url}/telegram",
        }
        root = make_project(
            base, "demo", ns, kube_cluster.context, images, f"{url}/slack/SECRET-hook-path"
        )
        state = Released(root, ns, env, images)
        state.received = received
        first = state.cli("deploy", "demo")
        pin(root, "demo", images, "v2")
        commit(root, "v2")
        second = state.cli("deploy", "demo", "--format", "json")
        try:
            yield state, [first, second]
        finally:
            drop_namespace(kube_cluster, ns)


def test_demo_deploy_rolls_out_the_pinned_images(released, kube_cluster) -> None:
    _, (first, _) = released
    assert first.returncode == 0, first.stdout + first.stderr
    assert "SUCCEEDED" in first.stdout
    for name in DEPLOYMENTS:
        assert f'deployment "{name}" successfully rolled out' in first.stdout
    assert "== migrations" in first.stdout and "job/backend-migrate complete" in first.stdout


def test_second_deploy_reports_image_moves_as_json(released, kube_cluster) -> None:
    state, (_, second) = released
    assert second.returncode == 0, second.stderr
    document = json.loads(second.stdout)
    assert document["result"] == "succeeded" and document["exit_code"] == 0
    [summary] = [e for e in document["events"] if e["event"] == "summary"]
    moves = {(i["workload"], i["old"], i["new"]) for i in summary["images"]}
    ref = state.images.ref
    assert ("Deployment/backend", ref("v1", "backend"), ref("v2", "backend")) in moves
    assert images_of(kube_cluster, state.namespace)["backend"] == ref("v2", "backend")


def test_secret_values_arrive_as_the_services_read_them(released, kube_cluster) -> None:
    state, _ = released
    secret = json.loads(
        kube_cluster.kubectl(
            "get", "secret", "peripheral-env", "-n", state.namespace, "-o", "json"
        ).stdout
    )
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    # kubectl create secret --from-env-file would keep the quotes and the literal ${...}.
    assert data["DB_USER"] == "peripheral"
    assert data["POSTGRES_DB"] == "peripheral_app"
    # Only the keys the manifests read: nothing else of the env file reaches the cluster.
    assert "POLYGON_API_KEY" not in data and "EMAIL_FROM_ADDRESS" not in data


def test_a_redeploy_with_the_same_secret_values_stamps_the_same_hash(
    released, kube_cluster
) -> None:
    # Both deploys keyed the hash with the namespace's one key: v1's ReplicaSet and v2's
    # carry the same stamp, so only the image moved; the key itself is never printed.
    state, procs = released
    sets = json.loads(
        kube_cluster.kubectl(
            "get", "replicasets", "-n", state.namespace,
            "-l", "app.kubernetes.io/name=backend", "-o", "json",
        ).stdout
    )["items"]  # fmt: skip
    stamps = {
        rs["spec"]["template"]["metadata"]["annotations"]["periph.dev/secret-hash-peripheral-env"]
        for rs in sets
    }
    assert len(sets) >= 2 and len(stamps) == 1
    kept = json.loads(
        kube_cluster.kubectl(
            "get", "secret", "periph-secret-hash-key", "-n", state.namespace, "-o", "json"
        ).stdout
    )
    key = base64.b64decode(kept["data"]["key"]).decode()
    for text in [*state.outputs, *(p.stdout + p.stderr for p in procs)]:
        assert key not in text


def test_history_records_who_when_commit_digests_and_result(released) -> None:
    state, _ = released
    proc = state.cli("history", "demo", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    records = json.loads(proc.stdout)
    assert [(r["revision"], r["status"]) for r in records[:2]] == [
        (2, "succeeded"),
        (1, "succeeded"),
    ]
    newest = records[0]
    head = subprocess.run(
        ["git", "-C", str(state.root), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    assert newest["git_sha"] == head.stdout.strip()
    assert newest["images"]["backend"] == state.images.ref("v2", "backend")
    assert newest["user"] and newest["started"] and newest["duration"] > 0
    assert newest["deployments"]["backend"] > newest["previous"]["backend"]


def test_rollout_status_agrees_with_the_deploy(released) -> None:
    state, _ = released
    proc = state.cli("rollout", "status", "demo")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'deployment "backend" successfully rolled out' in proc.stdout


def test_logs_cover_every_replica(released, kube_cluster, monkeypatch, capsys) -> None:
    import argparse

    from periph_env.cli.deploy_cmd import env_logs

    state, _ = released
    # The backend leaves replicas to its HPA (min 2 on demo), which scales it up from 1
    # a few seconds after the first apply.
    kube_cluster.kubectl(
        "wait",
        "--for=jsonpath={.status.readyReplicas}=2",
        "deployment/backend",
        "-n",
        state.namespace,
        "--timeout=90s",
    )
    for key, value in state.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PERIPH_PROJECT", str(state.root))
    assert env_logs(argparse.Namespace(env="demo", services=["backend"], follow=False)) == 0
    pods = {line.split("]", 1)[0] for line in capsys.readouterr().out.splitlines()}
    assert len(pods) == 2, pods  # demo runs two backend replicas


def test_logs_without_follow_are_read_through_the_api_with_no_process(
    released, monkeypatch, capsys
) -> None:
    import argparse

    from periph_env.cli.deploy_cmd import env_logs

    state, _ = released

    def no_process(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a process was started: {args[0] if args else kwargs}")

    for key, value in state.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PERIPH_PROJECT", str(state.root))
    monkeypatch.setattr(subprocess, "Popen", no_process)
    assert env_logs(argparse.Namespace(env="demo", services=["worker"], follow=False)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line.startswith("[pod/worker-") for line in lines), lines[:3]
    assert {line.split("]", 1)[0].rsplit("/", 1)[1] for line in lines} == {"worker"}


def test_each_result_is_notified_without_secrets(released) -> None:
    state, _ = released
    paths = [path for path, _ in state.received]
    assert paths.count("/slack/SECRET-hook-path") >= 2
    assert sum(p.endswith("/sendMessage") for p in paths) >= 2
    bodies = [json.loads(body) for _, body in state.received]
    assert any("succeeded" in b["text"] for b in bodies)
    assert_no_secret(*(body.decode() for _, body in state.received))


def test_rollback_restores_the_previous_images(released, kube_cluster) -> None:
    state, _ = released
    proc = state.cli("rollback", "demo")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    current = images_of(kube_cluster, state.namespace)
    assert current == {name: state.images.ref("v1", name) for name in DEPLOYMENTS}
    records = json.loads(state.cli("history", "demo", "--format", "json").stdout)
    assert (records[0]["action"], records[0]["status"]) == ("rollback", "succeeded")


def test_no_secret_in_output_json_or_history(released, kube_cluster) -> None:
    state, procs = released
    stored = kube_cluster.kubectl(
        "get", "configmaps", "-n", state.namespace, "-l", "owner=periph", "-o", "yaml"
    ).stdout
    assert_no_secret(*state.outputs, *(p.stdout + p.stderr for p in procs), stored)


# --- failures -----------------------------------------------------------------------------


def test_never_ready_pods_fail_by_the_deadline_and_auto_rollback_restores_all(
    kube_cluster, periph_env_vars, images, namespace, tmp_path
) -> None:
    root = make_project(tmp_path, "demo", namespace, kube_cluster.context, images, "<webhook>")
    assert finished(run_deploy(root)).result == "succeeded"
    deadline = 8
    short_deadline = {"op": "replace", "path": "/spec/progressDeadlineSeconds", "value": deadline}
    never_ready = {
        "op": "add",
        "path": "/spec/template/metadata/labels/periph.dev~1test-ready",
        "value": "never",
    }
    patch_overlay(
        root,
        "demo",
        json_patch("Deployment", None, short_deadline),
        json_patch("Deployment", "backend", never_ready),
    )
    pin(root, "demo", images, "v2")
    commit(root, "v2, never ready")

    marks: dict[str, float] = {}
    events = run_deploy(
        root,
        Options(auto_rollback=True),
        lambda e: isinstance(e, ev.Step) and marks.setdefault(e.name, time.monotonic()),
    )
    end = finished(events)
    assert (end.result, end.exit_code) == ("rolled-back", 1)
    failed = [e for e in events if isinstance(e, ev.RolloutVerdict) and not e.ok]
    assert failed and failed[0].message == 'deployment "backend" exceeded its progress deadline'
    # The verdict came from the progress deadline, not from periph's own timeout.
    assert marks["rollback"] - marks["rollout"] < deadline + 30
    [rolled] = [e for e in events if isinstance(e, ev.RolledBack)]
    assert rolled.ok and set(rolled.revisions) == set(DEPLOYMENTS)
    current = images_of(kube_cluster, namespace)
    assert current == {n: images.ref("v1", n) for n in DEPLOYMENTS}


def test_failing_migration_stops_before_any_deployment(
    kube_cluster, periph_env_vars, images, namespace, tmp_path
) -> None:
    root = make_project(tmp_path, "demo", namespace, kube_cluster.context, images, "<webhook>")
    patch_overlay(
        root, "demo",
        json_patch("Job", "backend-migrate",
                   {"op": "replace", "path": "/spec/backoffLimit", "value": 0},
                   {"op": "add", "path": "/spec/template/metadata/labels/periph.dev~1test-phase",
                    "value": "failed"}),
        migrate=True,
    )  # fmt: skip
    commit(root, "failing migration")
    events = run_deploy(root)
    end = finished(events)
    assert (end.result, end.exit_code) == ("failed", 1)
    assert "no Deployment was changed" in end.message
    [migration] = [e for e in events if isinstance(e, ev.MigrationResult)]
    assert not migration.ok and "backend-migrate failed" in migration.message
    assert not any(isinstance(e, ev.DeploymentProgress) for e in events)
    listed = kube_cluster.kubectl("get", "deployments", "-n", namespace, "-o", "name").stdout
    assert listed.strip() == ""
    assert_no_secret(*(json.dumps(e.as_dict()) for e in events))


def test_watch_resumes_after_the_api_connection_drops(
    kube_cluster, registry, images, namespace, tmp_path, monkeypatch
) -> None:
    # Restarting the shared API server would break every other test running against it, so
    # a proxy in front of it cuts every connection and refuses new ones for a few seconds:
    # what the client sees during an API server restart.
    proxy = FlakyProxy(kube_cluster.server)
    kubeconfig = proxy.kubeconfig(kube_cluster.kubeconfig, tmp_path / "kubeconfig")
    for key, value in deploy_env(kube_cluster, registry, tmp_path / "xdg", kubeconfig).items():
        monkeypatch.setenv(key, value)
    root = make_project(tmp_path, "demo", namespace, kube_cluster.context, images, "<webhook>")
    # The backend's pods stay un-ready until the test marks them Ready, during the outage
    # and straight through the real API server: periph only learns of it by resuming.
    never_ready = {
        "op": "add",
        "path": "/spec/template/metadata/labels/periph.dev~1test-ready",
        "value": "never",
    }
    patch_overlay(root, "demo", json_patch("Deployment", "backend", never_ready))
    commit(root, "backend waits for the test")
    marker = threading.Thread(target=mark_backend_ready, args=(kube_cluster, namespace))

    def cut(event: ev.Event) -> None:
        if isinstance(event, ev.DeploymentProgress) and event.name == "backend" and not proxy.drops:
            proxy.outage(4.0)
            marker.start()

    try:
        events = run_deploy(root, on_event=cut)
    finally:
        proxy.close()
    marker.join(timeout=60)
    assert proxy.drops == 1
    assert finished(events).result == "succeeded"
    assert any(isinstance(e, ev.Note) and "watch resumed" in e.text for e in events), events
    verdicts = {e.name: e.ok for e in events if isinstance(e, ev.RolloutVerdict)}
    # The verdict covers the StatefulSets too (issue 22), through the same outage.
    stateful = ("statefulset/db", "statefulset/cache")
    assert verdicts == dict.fromkeys([*DEPLOYMENTS, *stateful], True)


def mark_backend_ready(
    cluster: Any, namespace: str, seconds: float = 60.0, until: threading.Event | None = None
) -> None:
    """Mark every backend pod Ready through the API (kwok keeps them un-ready), until the
    Deployment reports them all available (or ``seconds`` pass). With ``until``: until that
    is set instead, so a pod created later (the HPA raising the backend to its minReplicas
    up to 15 s after the Deployment appears) is marked too."""
    ready = {"type": "Ready", "status": "True"}
    patch = json.dumps({"status": {"conditions": [ready, {**ready, "type": "ContainersReady"}]}})
    deadline = time.monotonic() + seconds
    time.sleep(1.0)  # well inside the outage
    while time.monotonic() < deadline:
        pods = json.loads(
            cluster.kubectl("get", "pods", "-n", namespace, "-l", "app.kubernetes.io/name=backend",
                            "-o", "json").stdout
        )["items"]  # fmt: skip
        for pod in pods:
            conditions = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
            if conditions.get("Ready") != "True":
                cluster.kubectl(
                    "patch", f"pod/{pod['metadata']['name']}", "-n", namespace,
                    "--subresource=status", "--type=strategic", "-p", patch, check=False,
                )  # fmt: skip
        dep = json.loads(
            cluster.kubectl("get", "deployment/backend", "-n", namespace, "-o", "json").stdout
        )
        status = dep.get("status", {})
        # The HPA raises the Deployment to its floor some seconds after it appears: pods it
        # adds later need marking too, or the deploy waits for them until it times out.
        floor = max(dep["spec"].get("replicas", 1), hpa_floor(cluster, namespace))
        available = status.get("availableReplicas", 0) >= floor
        if until is None and pods and available:
            return
        if until is not None and until.is_set():
            return
        time.sleep(0.5)


def hpa_floor(cluster: Any, namespace: str) -> int:
    """The backend HPA's minReplicas, or 0 when the namespace has no such HPA."""
    found = cluster.kubectl("get", "hpa/backend", "-n", namespace, "-o", "json", check=False)
    if found.returncode != 0:
        return 0
    return int(json.loads(found.stdout).get("spec", {}).get("minReplicas", 1))


def test_deploy_killed_half_way_converges_when_run_again(
    kube_cluster, periph_env_vars, images, namespace, tmp_path
) -> None:
    root = make_project(tmp_path, "demo", namespace, kube_cluster.context, images, "<webhook>")
    env = {**os.environ, **periph_env_vars}
    proc = subprocess.Popen(
        [sys.executable, "-m", "periph_env", "deploy", "demo"],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("== deployments"):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    # --wait: the killed deploy's lock lapses by itself (it is no longer renewed).
    again = periph_cli(root, periph_env_vars, "deploy", "demo", "--wait")
    assert again.returncode == 0, again.stdout + again.stderr
    records = json.loads(
        periph_cli(root, periph_env_vars, "history", "demo", "--format", "json").stdout
    )
    assert [(r["revision"], r["status"]) for r in records] == [(2, "succeeded"), (1, "interrupted")]
    assert all(images_of(kube_cluster, namespace)[n] == images.ref("v1", n) for n in DEPLOYMENTS)
