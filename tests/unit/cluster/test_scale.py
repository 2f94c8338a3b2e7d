"""``stop``/``start``/``rebuild`` of the cluster dev stack's services: a stop scales the
Deployment to 0 keeping its replicas, a start gives them back and waits, a one-shot Job
cannot stop (the real node: tests/integration/test_cluster_backend.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from periph_env.cluster import scale
from periph_env.cluster.backend import ClusterBackend, status_of
from periph_env.cluster.engine import ServiceState
from periph_env.errors import UsageError


class Rest:
    """The API's Deployments as the patches leave them (merge patches, as the server does)."""

    def __init__(self, deployments: dict[str, dict]) -> None:
        self.deployments = deployments
        self.patches: list[tuple[str, dict, str]] = []

    def path(self, api_version, kind, name):
        return f"/apis/{api_version}/deployments/{name}"

    def request(self, method, path, query, body, content_type):
        name = path.rsplit("/", 1)[1]
        self.patches.append((name, body, content_type))
        dep = self.deployments[name]
        annotations = dep["metadata"].setdefault("annotations", {})
        for key, value in (body.get("metadata") or {}).get("annotations", {}).items():
            if value is None:
                annotations.pop(key, None)
            else:
                annotations[key] = value
        dep["spec"].update(body.get("spec") or {})


class Cluster:
    def __init__(self, replicas: int = 2) -> None:
        self.rest = Rest({"worker": {"metadata": {}, "spec": {"replicas": replicas}}})
        self.kube = SimpleNamespace(
            rest=self.rest, get=lambda kind, name: self.rest.deployments.get(name)
        )
        self.waited: list[list[str]] = []

    def ps(self):
        return [
            ServiceState("worker", "Deployment", True, "Ready", "worker-1", 0),
            ServiceState("migrate", "Job", True, "Completed", "migrate-1", 0),
        ]

    def wait_rolled(self, services, progress):
        self.waited.append(list(services))


def test_stop_scales_to_zero_keeping_the_replicas_and_start_gives_them_back():
    cluster, said = Cluster(replicas=2), []

    scale.stop(cluster, ["worker"], said.append)
    stopped = cluster.rest.deployments["worker"]
    assert stopped["spec"]["replicas"] == 0
    assert stopped["metadata"]["annotations"] == {scale.BEFORE_STOP: "2"}

    scale.start(cluster, ["worker"], said.append)
    started = cluster.rest.deployments["worker"]
    assert started["spec"]["replicas"] == 2 and started["metadata"]["annotations"] == {}
    assert cluster.waited == [["worker"]]
    assert said[0].startswith("worker: stopped (scaled to 0") and "2 replicas" in said[1]


def test_stopping_a_stopped_service_keeps_what_it_had():
    cluster = Cluster(replicas=3)
    scale.stop(cluster, ["worker"], print)
    scale.stop(cluster, ["worker"], print)
    assert cluster.rest.deployments["worker"]["metadata"]["annotations"] == {scale.BEFORE_STOP: "3"}
    assert len(cluster.rest.patches) == 1


def test_a_one_shot_job_cannot_stop_and_the_long_running_services_are_named():
    with pytest.raises(UsageError, match="no long-running service 'migrate'") as raised:
        scale.deployments(Cluster(), ["migrate"])
    assert raised.value.hint == "known: worker"


def test_a_stopped_service_shows_as_exited_not_missing():
    row = status_of(ServiceState("worker", "Deployment", False, "Stopped", None, 0))
    assert row.state == "exited"


def test_the_backend_stops_every_long_running_service_when_none_is_named():
    cluster = Cluster()
    cluster.namespace, cluster.settings = "ns", SimpleNamespace(context="dev", name=None)
    cluster.kube.mask = lambda s: s
    ClusterBackend(cluster).act("stop", None, print)
    assert [name for name, _, _ in cluster.rest.patches] == ["worker"]
