"""A rebuild rule on the cluster, without one: the steps and the one patch it sends.

The real build, push and rollout are covered on the real node
(tests/integration/test_cluster_reload.py).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from periph_env.cluster.rebuild import SMP, image_patch, rebuild
from periph_env.errors import EngineError


class FakeCluster:
    """The parts of ``ClusterStack`` a rebuild uses, recording what it was asked."""

    def __init__(self, running: str, pushed: str) -> None:
        self.asked: list[tuple] = []
        self.namespace = "peripheral-dev-ann"
        self.settings = SimpleNamespace(timeout=60)
        self.pushed = pushed
        deployment = {"spec": {"template": {"spec": {"containers": [
            {"name": "worker", "image": running}]}}}}  # fmt: skip
        self.stack = SimpleNamespace(
            config=lambda: {"services": {"worker": {"image": "peripheral-worker:dev"}}},
            build=lambda services: self.asked.append(("build", services)),
        )
        self.kube = SimpleNamespace(
            get=lambda kind, name: deployment if (kind, name) == ("Deployment", "worker") else None,
            rest=SimpleNamespace(
                path=lambda api, kind, name: f"/apis/{api}/deployments/{name}",
                request=lambda *a: self.asked.append(("PATCH", *a[1:])),
            ),
        )

    def push_image(self, service, image):
        self.asked.append(("push", service, image))
        return self.pushed

    def wait_rolled(self, services, progress):
        self.asked.append(("wait", services))

    def ready_pod(self, service):
        return f"{service}-new"


def test_a_changed_image_is_built_pushed_and_patched_into_its_deployment():
    cluster = FakeCluster(running="reg/worker:dev-ann-old", pushed="reg/worker:dev-ann-new")
    notes: list[str] = []
    done = rebuild(cluster, "worker", notes.append)
    assert cluster.asked == [
        ("build", ["worker"]),
        ("push", "worker", "peripheral-worker:dev"),
        ("PATCH", "/apis/apps/v1/deployments/worker", {"fieldManager": "periph"},
         image_patch("worker", "reg/worker:dev-ann-new"), SMP),
        ("wait", ["worker"]),
    ]  # fmt: skip
    assert done.rolled and done.pod == "worker-new" and done.ref == "reg/worker:dev-ann-new"
    assert notes[0].startswith("built peripheral-worker:dev in ")
    assert notes[1] == "pushed worker:dev-ann-new, rolling deployment/worker"


def test_an_unchanged_image_rolls_nothing():
    cluster = FakeCluster(running="reg/worker:dev-ann-same", pushed="reg/worker:dev-ann-same")
    done = rebuild(cluster, "worker", lambda _n: None)
    assert not done.rolled and [a[0] for a in cluster.asked] == ["build", "push"]


def test_a_service_without_a_deployment_is_named_and_nothing_is_built():
    cluster = FakeCluster(running="x", pushed="y")
    cluster.stack.config = lambda: {"services": {"migrate": {"image": "peripheral-backend:dev"}}}
    with pytest.raises(EngineError, match="no Deployment migrate in peripheral-dev-ann"):
        rebuild(cluster, "migrate", lambda _n: None)
    assert cluster.asked == []


def test_the_patch_names_only_the_image_of_the_services_container():
    assert image_patch("backend", "r/b:1") == {
        "spec": {"template": {"spec": {"containers": [{"name": "backend", "image": "r/b:1"}]}}}
    }
