"""``periph up|ps|down --cluster`` on the real node: the dev stack in a namespace of its own.

One module project (a copy of services/ and compose/ whose periph.toml has a
[dev.cluster] table for the test cluster, placing pods on the real node, and a .env with
recognisable secrets) is brought up once by the CLI, as a developer runs it; the tests
read what the developer sees: ``ps --cluster``, HTTP through the forwards, and nothing
left after ``down --cluster``. They run in file order (``down`` last).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import urllib.request

import pytest

from periph_env.cluster import translate as t
from periph_env.cluster.forward import Forwarder
from periph_env.common.poll import wait_for
from tests.integration.cluster_dev_support import DevProject, assert_no_secret

pytestmark = pytest.mark.node


@pytest.fixture(scope="module")
def dev(tmp_path_factory, real_node, registry):
    """The dev stack brought up by ``periph up --cluster --no-forward``; taken down after."""
    project = DevProject(tmp_path_factory.mktemp("cluster-dev"), real_node.cluster, registry)
    up = project.periph("up", "--cluster", "--no-forward")
    project.up_output = up.stdout + up.stderr
    try:
        assert up.returncode == 0, project.up_output[-4000:]
        yield project
    finally:
        project.periph("down", "--cluster", timeout=300)


@pytest.fixture(scope="module")
def forwarder(dev):
    """The stack's forwards on free local ports, in this process."""
    from periph_env.cluster import translate as tr

    forwards = [tr.Forward(s, port, 0) for s, port in (("backend", 5058), ("frontend", 5173))]
    fwd = Forwarder(dev.kube(), dev.namespace, forwards, publish=False).start()
    yield fwd
    fwd.stop()


def local(forwarder: Forwarder, service: str) -> int:
    return next(s.local for s in forwarder.states if s.service == service)


def http_status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=60) as answer:
        return answer.status


def test_up_cluster_brings_every_service_ready(dev):
    states = dev.ps()
    assert {n: s["status"] for n, s in states.items()} == {
        "db": "Ready", "cache": "Ready", "backend": "Ready", "worker": "Ready",
        "frontend": "Ready", "migrate": "Completed",
    }  # fmt: skip


def test_no_secret_value_is_printed_by_up_or_ps(dev):
    assert "stack ready in namespace " + dev.namespace in dev.up_output
    assert_no_secret(dev.up_output)
    out = dev.periph("ps", "--cluster", timeout=120)
    assert_no_secret(out.stdout + out.stderr)


def test_api_health_answers_200_through_the_forward(forwarder):
    assert http_status(f"http://127.0.0.1:{local(forwarder, 'backend')}/api/health") == 200


def test_the_frontend_is_served_through_its_forward(forwarder):
    assert http_status(f"http://127.0.0.1:{local(forwarder, 'frontend')}/") == 200


def test_deleting_the_backend_pod_keeps_the_forward_working(dev, forwarder):
    url = f"http://127.0.0.1:{local(forwarder, 'backend')}/api/health"
    assert http_status(url) == 200
    old = dev.ps()["backend"]["pod"]
    dev.cluster.kubectl("delete", "pod", "-n", dev.namespace, old, "--wait=false")
    new = wait_for(
        lambda: (s := dev.ps()["backend"])["ready"] and s["pod"] != old and s["pod"],
        "a new backend pod to be Ready",
        timeout=300,
        every=1,
    )
    assert http_status(url) == 200
    backend = next(s for s in forwarder.states if s.service == "backend")
    assert backend.pod == new and backend.state == f"forwarding to {new}"


@pytest.fixture
def cluster_stack(dev, monkeypatch):
    """The dev stack's engine in this process (what ``up --cluster --watch`` runs)."""
    from periph_env.cluster.config import load
    from periph_env.cluster.engine import ClusterStack
    from periph_env.stack import Stack

    for key, value in dev.env.items():
        monkeypatch.setenv(key, value)
    stack = Stack(root=dev.root)
    return ClusterStack(stack, load(dev.root, None))


def test_a_worker_edit_reloads_in_the_pod_with_its_marker_seen(dev, cluster_stack):
    source = dev.root / "services/worker/peripheral_worker/__init__.py"
    line = f"# edited by the cluster test {secrets.token_hex(4)}\n"
    source.write_text(source.read_text() + line)
    [event] = cluster_stack.pod_sync().apply([source])
    assert (event.service, event.kind, event.ok, event.note) == ("worker", "sync", True, None)
    assert event.synced_at <= event.serving_at, event.breakdown()
    pod = cluster_stack.ready_pod("worker")
    inside = dev.cluster.kubectl(
        "exec", "-n", dev.namespace, pod, "--", "cat", "/app/peripheral_worker/__init__.py"
    ).stdout
    assert inside.endswith(line)


def http_text(url: str) -> str | None:
    """The body of a 200 answer; None for another status or no answer (the dev server
    is swapping in the new build)."""
    try:
        with urllib.request.urlopen(url, timeout=60) as answer:
            return answer.read().decode()
    except OSError:
        return None


def test_a_go_edit_rebuilds_in_the_pod_and_the_edited_code_serves(dev, cluster_stack, forwarder):
    # compose.yaml syncs Go sources (devreload rebuilds in the pod), so the edit goes
    # through the sync path; what counts is the new handler answering through the forward.
    token = f"cluster-edit-{secrets.token_hex(4)}"
    url = f"http://127.0.0.1:{local(forwarder, 'backend')}/api/cluster-edit"
    assert http_text(url) is None  # no such route before the edit
    source = dev.root / "services/backend/internal/server/api.go"
    route = 'mux.HandleFunc("GET /api/health", a.health)\n'
    edited = route + (
        '\tmux.HandleFunc("GET /api/cluster-edit", func(w http.ResponseWriter, _ *http.Request) '
        f'{{ _, _ = w.Write([]byte("{token}")) }})\n'
    )
    source.write_text(source.read_text().replace(route, edited))
    [event] = cluster_stack.pod_sync().apply([source])
    assert (event.service, event.kind, event.ok) == ("backend", "sync", True), event.error
    wait_for(lambda: http_text(url) == token, "the edited handler to answer", timeout=300, every=1)


def test_a_replaced_worker_pod_gets_the_files_synced_this_session(dev, cluster_stack):
    from periph_env.cluster.watch import ClusterWatcher

    source = dev.root / "services/worker/peripheral_worker/__init__.py"
    line = f"# synced before the pod was replaced {secrets.token_hex(4)}\n"
    source.write_text(source.read_text() + line)
    pod_sync = cluster_stack.pod_sync()
    events: list = []
    watcher = ClusterWatcher(pod_sync, events.append).start()
    try:
        [synced] = pod_sync.apply([source])
        assert synced.ok, synced.error
        old = cluster_stack.ready_pod("worker")
        dev.cluster.kubectl("delete", "pod", "-n", dev.namespace, old, "--wait=false")
        caught_up = wait_for(
            lambda: next((e for e in events if e.done and e.trigger), None),
            "the new worker pod to get this session's files",
            timeout=300,
            every=1,
        )
    finally:
        watcher.stop()
    new = cluster_stack.ready_pod("worker")
    assert new != old and caught_up.trigger == f"new pod {new}"
    assert caught_up.ok and caught_up.serving_at is not None, caught_up.error
    inside = dev.cluster.kubectl(
        "exec", "-n", dev.namespace, new, "--", "cat", "/app/peripheral_worker/__init__.py"
    ).stdout
    assert inside.endswith(line)


def test_a_rebuild_rule_builds_pushes_and_rolls_the_worker(dev, cluster_stack):
    kube = dev.kube()
    before = kube.get("Deployment", "worker")["spec"]["template"]["spec"]["containers"][0]
    dockerfile = dev.root / "services/worker/Dockerfile.dev"
    token = secrets.token_hex(4)
    dockerfile.write_text(dockerfile.read_text() + f'LABEL periph.test.rebuild="{token}"\n')
    pod_sync = cluster_stack.pod_sync()
    notes: list[str] = []
    pod_sync.on_progress = lambda event: notes.append(event.note)
    [event] = pod_sync.apply([dockerfile])
    assert (event.service, event.kind, event.ok, event.note) == (
        "worker", "rebuild", True, None,
    ), event.error  # fmt: skip
    assert event.breakdown().startswith("seen → rebuilt +"), event.breakdown()
    assert notes[0].startswith("built peripheral-worker:dev in ") and notes[1].startswith("pushed ")
    after = kube.get("Deployment", "worker")["spec"]["template"]["spec"]["containers"][0]
    assert after["image"] != before["image"]
    assert dev.ps()["worker"]["status"] == "Ready"
    pod = kube.get("Pod", cluster_stack.ready_pod("worker"))
    assert pod["spec"]["containers"][0]["image"] == after["image"]


def test_logs_cluster_shows_the_named_services_lines_as_the_local_logs_do(dev):
    out = dev.periph("logs", "--cluster", "worker", "--format", "json", timeout=120)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert lines and {line["service"] for line in lines} == {"worker"}
    assert any('"msg": "worker started"' in line["text"] for line in lines)
    assert_no_secret(out.stdout + out.stderr)


def test_logs_cluster_of_an_unknown_service_is_a_usage_error(dev):
    out = dev.periph("logs", "wrker", "--cluster", timeout=120)
    assert out.returncode == 2 and "no service 'wrker' in the dev stack" in out.stderr


def test_restart_cluster_replaces_the_pod_and_logs_follow_the_new_one(dev):
    import threading

    old = dev.ps()["worker"]["pod"]
    follow = subprocess.Popen(
        [sys.executable, "-m", "periph_env", "logs", "--cluster", "worker", "-f"],
        cwd=dev.root, env={**os.environ, **dev.env},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    seen: list[str] = []

    def read() -> None:
        for line in follow.stdout:
            seen.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_for(lambda: any("worker started" in ln for ln in seen), "the log tail", 120, 1)
        started_before = sum("worker started" in ln for ln in seen)
        out = dev.periph("restart", "--cluster", "worker", timeout=600)
        assert out.returncode == 0, out.stderr
        assert "restarted worker in " in out.stderr
        state = dev.ps()["worker"]
        assert state["ready"] and state["pod"] != old
        wait_for(
            lambda: sum("worker started" in ln for ln in seen) > started_before,
            "the new pod's start in the followed log",
            timeout=120,
            every=1,
        )
    finally:
        follow.send_signal(signal.SIGINT)
        follow.wait(timeout=60)
        reader.join(timeout=10)
    assert follow.returncode == 0
    assert_no_secret("".join(seen) + out.stderr)


def test_stop_and_start_cluster_take_the_worker_away_and_bring_it_back(dev):
    stop = dev.periph("stop", "--cluster", "worker", timeout=300)
    assert stop.returncode == 0, stop.stderr
    assert "stopped worker in " in stop.stderr
    wait_for(lambda: dev.ps()["worker"]["status"] == "Stopped", "the worker to stop", 180, 2)
    start = dev.periph("start", "--cluster", "worker", timeout=600)
    assert start.returncode == 0, start.stderr
    assert "started worker in " in start.stderr
    assert dev.ps()["worker"]["ready"]


def test_stop_cluster_of_a_one_shot_is_a_usage_error_naming_the_services(dev):
    out = dev.periph("stop", "--cluster", "migrate", timeout=120)
    assert out.returncode == 2
    assert "no long-running service 'migrate'" in out.stderr and "worker" in out.stderr


def test_db_switch_on_the_cluster_keeps_each_branchs_data(dev, cluster_stack):
    """`m` (BranchDb over the db pod) one way, `periph db switch --cluster` back."""
    from periph_env.cluster.db import PodPostgres
    from periph_env.tui.branch_db import BranchDb

    def git(*args: str) -> None:
        ident = ["-c", "user.name=c26", "-c", "user.email=c26@example.invalid"]
        subprocess.run(["git", "-C", str(dev.root), *ident, *args], check=True, capture_output=True)

    def tables() -> list[str]:
        rows = PodPostgres(cluster_stack).query("SELECT tablename FROM pg_tables ORDER BY 1")
        return [r[0] for r in rows]

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "c26")
    status = dev.periph("db", "status", "--cluster", timeout=300)  # records main's data
    assert status.returncode == 0, status.stderr
    assert "in step with this checkout" in status.stdout
    mark = "CREATE TABLE c26_mark (v text); INSERT INTO c26_mark VALUES ('m')"
    PodPostgres(cluster_stack).run(mark)
    git("checkout", "-q", "-b", "feature")

    assert BranchDb(cluster_stack.stack, cluster_stack).switch() == [
        "main's database kept as snapshot main",
        "feature: a fresh database (migrated, seeded)",
    ]
    assert "c26_mark" not in tables() and "strategies" in tables()

    git("checkout", "-q", "main")
    back = dev.periph("db", "switch", "--cluster", timeout=600)
    assert back.returncode == 0, back.stderr
    assert "feature's database kept as snapshot feature" in back.stderr
    assert "main: restored from snapshot main" in back.stderr
    assert PodPostgres(cluster_stack).query("SELECT v FROM c26_mark") == [["m"]]
    listed = dev.periph("db", "list", "--cluster", "--format", "json", timeout=300)
    assert sorted(s["name"] for s in json.loads(listed.stdout)) == ["feature", "main"]
    assert_no_secret(status.stdout + status.stderr + back.stdout + back.stderr)


def test_up_again_forwards_in_the_foreground_and_ps_shows_each_forward(dev):
    up = subprocess.Popen(
        [sys.executable, "-m", "periph_env", "up", "--cluster", "--watch"],
        cwd=dev.root, env={**os.environ, **dev.env, "PERIPH_CLUSTER_PORT_OFFSET": "any"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        forward = wait_for(
            lambda: up.poll() is None and dev.ps()["backend"]["forward"],
            "ps --cluster to show the backend's forward",
            timeout=600,
            every=2,
        )
        assert forward["remote"] == 5058 and forward["state"] == "listening"
        assert http_status(f"http://127.0.0.1:{forward['local']}/api/health") == 200
        assert dev.ps()["backend"]["forward"]["state"].startswith("forwarding to backend-")
    finally:
        up.send_signal(signal.SIGINT)
        output = up.communicate(timeout=120)[0]
    assert up.returncode == 0, output[-3000:]
    assert "stopped forwarding and watching" in output
    assert_no_secret(output)
    assert dev.ps()["backend"]["forward"] is None  # the forwarding process is gone


def test_down_cluster_leaves_no_object(dev):
    out = dev.periph("down", "--cluster", timeout=300)
    assert out.returncode == 0, out.stderr
    assert_no_secret(out.stdout + out.stderr)
    listing = dev.cluster.kubectl(
        "get", "all,secrets,configmaps,pvc,resourcequotas,limitranges", "-A",
        "-l", t.selector(dev.user), "-o", "name",
    ).stdout  # fmt: skip
    assert listing.strip() == ""
    gone = dev.cluster.kubectl("get", "namespace", dev.namespace, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
