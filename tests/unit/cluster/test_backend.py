"""The cluster stack as the Stack area's backend: rows, the status poll, the actions.

Without a cluster (fakes of ``ClusterStack``); on the real node:
tests/integration/test_cluster_backend.py.
"""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from periph_env.cluster.backend import ClusterBackend, ClusterStackDown, StatusPoller, status_of
from periph_env.cluster.engine import ServiceState
from periph_env.cluster.forward import ForwardState
from periph_env.errors import EngineError, UsageError
from periph_env.stack.backend import ComposeBackend, StackBackend
from periph_env.tui import formatting


def state(service="worker", kind="Deployment", ready=True, status="Ready", restarts=0):
    return ServiceState(service, kind, ready, status, f"{service}-7d9f-abc12", restarts,
                        image=f"reg:5000/dev/{service}:dev-ann-1", started_at=100.0)  # fmt: skip


def test_a_ready_deployment_is_a_running_healthy_row_with_its_restarts_and_image():
    row = status_of(state(restarts=3))
    assert (row.state, row.health, row.restart_count) == ("running", "healthy", 3)
    assert row.image == "reg:5000/dev/worker:dev-ann-1" and row.started_at == 100.0
    assert formatting.severity(row) == "ok"


def test_a_crash_loop_is_a_restarting_unhealthy_row_drawn_as_bad():
    row = status_of(state(ready=False, status="Waiting: CrashLoopBackOff"))
    assert (row.state, row.health) == ("restarting", "unhealthy")
    assert formatting.severity(row) == "bad"


def test_a_running_pod_not_ready_yet_is_starting():
    row = status_of(state(ready=False, status="Running, not ready"))
    assert (row.state, row.health) == ("running", "starting")


def test_a_pulling_or_pending_pod_is_created_and_no_pod_is_missing():
    assert status_of(state(ready=False, status="Waiting: ContainerCreating")).state == "created"
    assert status_of(state(ready=False, status="Pending")).state == "created"
    assert status_of(state(ready=False, status="no pod")).state == "missing"
    assert status_of(state(ready=False, status="Terminating")).state == "removing"


def test_a_completed_job_is_a_done_one_shot_and_a_failed_one_shows_its_tail():
    done = status_of(state("migrate", "Job", True, "Completed"))
    failed = status_of(state("migrate", "Job", False, "Failed"))
    assert formatting.state(done) == "done" and done.one_shot
    assert formatting.failed_one_shot(failed)


def test_a_forwarded_service_shows_its_local_port():
    forward = ForwardState("backend", 5058, 15058, "127.0.0.1", "forwarding to backend-1")
    row = status_of(state("backend"), forward)
    assert formatting.ports(row.ports) == "15058→5058"


class FakeCluster:
    """A ``ClusterStack`` of ann's: ``ps()`` answers ``states`` (or raises ``failing``)."""

    def __init__(self, states=(), failing=None) -> None:
        self.namespace = "peripheral-dev-ann"
        self.settings = SimpleNamespace(context="dev", name=None)
        self.kube = SimpleNamespace(
            mask=lambda s: s.replace("hunter2", "****"),
            argv=lambda *a: ["/opt/kubectl", "--context", "dev", "-n", "peripheral-dev-ann", *a],
        )
        self.stack = SimpleNamespace(config=lambda: {"services": {"worker": {}, "db": {}}})
        self.states, self.failing = list(states), failing
        self.calls: list[tuple] = []

    def ps(self):
        if self.failing is not None:
            raise self.failing
        return list(self.states)

    def up(self, progress):
        self.calls.append(("up",))

    def down(self, progress):
        self.calls.append(("down",))


def test_both_backends_are_stack_backends_and_say_which_stack_they_are():
    cluster = ClusterBackend(FakeCluster())
    compose = ComposeBackend(SimpleNamespace(project="peripheral"), SimpleNamespace())
    assert isinstance(cluster, StackBackend) and isinstance(compose, StackBackend)
    assert cluster.label == "cluster peripheral-dev-ann (dev)"
    assert compose.label == "compose peripheral"


def test_an_empty_namespace_says_which_and_how_to_start_the_stack():
    backend = ClusterBackend(FakeCluster())
    assert "peripheral-dev-ann" in backend.empty_text
    assert "`periph up --cluster`" in backend.empty_text
    with pytest.raises(ClusterStackDown, match="no dev stack in namespace peripheral-dev-ann"):
        backend.ensure_up()


def test_a_verb_the_cluster_has_no_form_for_is_refused_naming_what_it_can_do():
    backend = ClusterBackend(FakeCluster([state()]))
    with pytest.raises(UsageError, match="exec is not available on the cluster") as raised:
        backend.act("exec", ["worker"], print)
    assert raised.value.hint == "it can: down, rebuild, restart, start, stop, up"


def test_up_and_down_act_on_the_whole_cluster_stack():
    cluster = FakeCluster([state()])
    backend = ClusterBackend(cluster)
    backend.act("up", ["worker"], print)
    backend.act("down", None, print)
    assert cluster.calls == [("up",), ("down",)]


def test_the_detail_names_the_pod_and_its_state_and_the_shell_is_kubectl_exec():
    backend = ClusterBackend(FakeCluster([state()]))
    backend.statuses()
    assert backend.details("worker")[0] == "deployment worker: Ready, pod worker-7d9f-abc12"
    assert backend.shell("worker") == (
        "kubectl --context dev -n peripheral-dev-ann exec -it worker-7d9f-abc12 -c worker -- "
        "sh -c 'exec \"$@\"' sh sh"
    )


def test_the_shell_in_a_db_pod_is_psql_with_its_user_read_inside_the_pod():
    backend = ClusterBackend(FakeCluster([state(service="db", kind="StatefulSet")]))
    backend.statuses()

    argv = backend.shell_argv("db")

    assert argv[:10] == [
        "/opt/kubectl", "--context", "dev", "-n", "peripheral-dev-ann",
        "exec", "-it", "db-7d9f-abc12", "-c", "db",
    ]  # fmt: skip
    assert argv[-1] == "psql" and 'PGUSER="$POSTGRES_USER"' in argv[-3]
    assert not any("hunter2" in word for word in argv)  # no value on a command line


def test_the_poller_hands_rows_only_when_they_change():
    seen: list[list] = []
    rows = [[status_of(state())], [status_of(state())], [status_of(state(restarts=1))]]
    poller = StatusPoller(lambda: rows.pop(0), seen.append)
    for _ in range(3):
        poller.poll()
    assert [r[0].restart_count for r in seen] == [0, 1]


def test_an_unreachable_cluster_is_said_once_masked_and_its_return_is_noticed():
    seen: list[list] = []
    answers: list = [[status_of(state())], EngineError("dial tcp: password hunter2 refused"),
                     EngineError("again"), [status_of(state())]]  # fmt: skip

    def read():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    poller = StatusPoller(read, seen.append, mask=lambda s: s.replace("hunter2", "****"))
    poller.poll()
    poller.poll()
    assert not poller.connected and poller.error == "dial tcp: password **** refused"
    poller.poll()
    assert len(seen) == 2  # the drop once, with the last rows
    poller.poll()
    assert poller.connected and len(seen) == 3


def test_what_an_action_says_and_its_failure_are_masked():
    cluster = FakeCluster([state()])

    def up(progress):
        progress("db: Waiting: password hunter2 refused")
        raise EngineError("db did not become Ready: hunter2")

    cluster.up = up
    said: list[str] = []
    with pytest.raises(EngineError) as raised:
        ClusterBackend(cluster).act("up", None, said.append)
    assert said == ["db: Waiting: password **** refused"]
    assert raised.value.message == "db did not become Ready: ****"


def test_a_second_watcher_into_the_same_namespace_is_refused_naming_the_first(
    tmp_path, monkeypatch
):
    from periph_env.cluster.watch import ClusterWatcher
    from periph_env.stack.errors import WatchLocked

    monkeypatch.setenv("PERIPH_CACHE", str(tmp_path))
    pod_sync = SimpleNamespace(rules=[], roots=lambda: ([], []), synced={}, kube=None)
    key = ("peripheral-dev-ann", tmp_path / "compose.yaml")
    first = ClusterWatcher(pod_sync, print, lock=key).start()
    try:
        with pytest.raises(WatchLocked, match=f"pid {os.getpid()}"):
            ClusterWatcher(pod_sync, print, lock=key).start()
    finally:
        first.stop()
    ClusterWatcher(pod_sync, print, lock=key).start().stop()  # free again once stopped


def test_the_tui_forwards_the_published_ports_unless_an_up_forwards_them(monkeypatch):
    from periph_env.cluster import forward

    cluster = FakeCluster()
    config = {"services": {"backend": {"ports": [{"target": 5058, "published": "5058"}]}}}
    cluster.stack = SimpleNamespace(config=lambda: config)
    monkeypatch.setenv("PERIPH_CLUSTER_PORT_OFFSET", "10000")
    monkeypatch.setattr(forward, "read_states", lambda namespace: [])
    made = ClusterBackend(cluster).forward_feed()
    assert [(s.service, s.local, s.remote) for s in made.states] == [("backend", 15058, 5058)]
    up_forwards = [ForwardState("backend", 5058, 5058, "127.0.0.1", "listening")]
    monkeypatch.setattr(forward, "read_states", lambda namespace: up_forwards)
    assert ClusterBackend(cluster).forward_feed() is None


def test_an_edit_made_as_soon_as_the_watcher_started_is_synced(tmp_path):
    import threading

    from periph_env.cluster.watch import ClusterWatcher

    applied: list[set] = []
    done = threading.Event()

    def apply(paths, seen_at):
        applied.append(set(paths))
        done.set()
        return []

    pod_sync = SimpleNamespace(rules=[], roots=lambda: ([tmp_path], []), synced={}, apply=apply)
    watcher = ClusterWatcher(pod_sync, print).start()
    try:
        (tmp_path / "app.py").write_text("print('edited')\n")
        assert done.wait(60), "the edit was never synced"
    finally:
        watcher.stop()
    assert tmp_path / "app.py" in applied[0]
