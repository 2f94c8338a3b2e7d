"""What a deploy says while the API server is away, and while a Job or a rollout waits.

Fake clocks and API objects only; the real control plane (paused, killed, its controllers
stopped) is in tests/integration/test_deploy_chaos.py.
"""

from __future__ import annotations

import pytest
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import MaxRetryError, NewConnectionError, ReadTimeoutError

from periph_env.deploy import watch as w
from periph_env.deploy.events import Note
from periph_env.deploy.migrate import JobWait
from periph_env.deploy.outage import Outage, describe, is_transient
from periph_env.errors import EngineError

SERVER = "https://127.0.0.1:6443"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def refused() -> MaxRetryError:
    reason = NewConnectionError(None, "Failed to establish a new connection: Connection refused")
    return MaxRetryError(None, "/apis/batch/v1", reason)


def test_an_outage_is_said_once_when_it_starts_and_once_when_it_ends():
    clock = Clock()
    outage = Outage(SERVER, give_up=60, clock=clock)
    first = outage.failure("read timed out")
    clock.now += 5
    second = outage.failure("read timed out")
    clock.now += 16
    back = outage.success()
    assert first == f"API server {SERVER} not answering (read timed out); retrying"
    assert second is None
    assert back == f"API server {SERVER} answering again after 21s; resuming"
    assert outage.success() is None


def test_an_api_server_away_past_the_limit_ends_with_one_line_naming_it():
    clock = Clock()
    outage = Outage(SERVER, give_up=60, clock=clock)
    outage.failure("connection refused")
    clock.now += 60
    with pytest.raises(EngineError) as caught:
        outage.failure("connection refused")
    assert str(caught.value) == f"API server {SERVER} unreachable for 60s (connection refused)"


def test_client_errors_are_described_in_a_few_words():
    assert describe(refused()) == "connection refused"
    assert describe(ReadTimeoutError(None, "/version", "Read timed out.")) == "read timed out"
    assert describe(ApiException(status=503, reason="Service Unavailable")) == (
        "HTTP 503 Service Unavailable"
    )


def test_an_away_server_is_retried_and_a_refusal_is_not():
    assert is_transient(refused())
    assert is_transient(ConnectionResetError())
    assert is_transient(ApiException(status=503))
    assert not is_transient(ApiException(status=403))
    assert not is_transient(ValueError("bad json"))


def pod(name="backend-migrate-x", phase="Pending", node="", conditions=()):
    return {
        "metadata": {"name": name},
        "spec": {"nodeName": node} if node else {},
        "status": {"phase": phase, "conditions": list(conditions)},
    }


UNSCHEDULABLE = {
    "type": "PodScheduled",
    "status": "False",
    "reason": "Unschedulable",
    "message": "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.",
}


def test_a_job_without_a_pod_names_the_controller_that_should_make_one():
    wait = JobWait("backend-migrate", started=0.0)
    assert wait.notes([], 9.0) == []
    assert wait.notes([], 10.0) == [
        "no pod created for job backend-migrate after 10s (is kube-controller-manager running?)"
    ]
    assert wait.notes([], 11.0) == []  # said once


def test_a_pending_job_pod_is_told_with_the_schedulers_reason():
    wait = JobWait("backend-migrate", started=0.0)
    notes = wait.notes([pod(conditions=[UNSCHEDULABLE])], 1.0)
    assert notes == [
        "pod backend-migrate-x Pending: 0/2 nodes are available: 2 node(s) didn't match "
        "Pod's node affinity/selector. (Unschedulable)"
    ]
    assert wait.notes([pod(conditions=[UNSCHEDULABLE])], 5.0) == []


def test_a_job_pod_nobody_schedules_names_the_scheduler():
    wait = JobWait("backend-migrate", started=0.0)
    assert wait.notes([pod()], 1.0) == []
    assert wait.notes([pod()], 11.0) == [
        "pod backend-migrate-x not scheduled after 10s (is kube-scheduler running?)"
    ]
    assert wait.notes([pod(phase="Running", node="periph-node-0")], 30.0) == []


def rollout_watch():
    watch = w.RolloutWatch(ApiClient(), "ns", ["worker"], 5.0)
    watch.watches = []
    return watch


def test_the_watch_says_when_the_api_server_stops_answering_and_when_it_resumes():
    watch = rollout_watch()
    down = list(watch._on_api("DOWN", {"reason": "read timed out"}))
    up = list(watch._on_api("UP", {}))
    assert [type(e) for e in down + up] == [Note, Note]
    assert "not answering (read timed out); retrying" in down[0].text
    assert up[0].text.endswith("; watch resumed")


def test_a_deployment_no_controller_picks_up_is_told_once():
    watch = rollout_watch()
    watch.deployments["worker"] = {"metadata": {"name": "worker", "generation": 3},
                                   "status": {"observedGeneration": 2}}  # fmt: skip
    assert list(watch._stuck(0.0)) == []
    [note] = list(watch._stuck(10.0))
    assert note.text == (
        "deployment/worker not picked up by a controller after 10s "
        "(is kube-controller-manager running?)"
    )
    assert list(watch._stuck(20.0)) == []


def test_an_outage_cuts_every_open_connection_of_the_watch_probe_included():
    watch = w.RolloutWatch(ApiClient(), "ns", ["worker"], 5.0)  # threads built, not started
    [note] = list(watch._on_api("DOWN", {"reason": "read timed out"}))
    assert "retrying" in note.text


def test_an_unreachable_cluster_from_the_kube_facade_is_transient_and_described_by_its_reason():
    from periph_env.deploy.kube_reach import ClusterUnreachable, Endpoint

    exc = ClusterUnreachable(Endpoint("demo", "https://127.0.0.1:1"), "refused the connection")
    assert is_transient(exc)
    assert describe(exc) == "refused the connection"
