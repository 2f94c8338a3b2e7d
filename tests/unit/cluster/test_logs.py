"""``periph logs|restart --cluster`` without a cluster: what is read, masked and refused.

On the real node: tests/integration/test_cluster_dev_stack.py (logs, restart).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from periph_env.cluster import logs
from periph_env.errors import UsageError

CONFIG = {
    "services": {
        "db": {},
        "migrate": {},
        "worker": {"depends_on": {"migrate": {"condition": "service_completed_successfully"}}},
    }
}


def pod(name: str, service: str, created: str) -> dict:
    labels = {"periph.dev/service": service}
    return {"metadata": {"name": name, "labels": labels, "creationTimestamp": created}}


class FakeCluster:
    """A dev stack of ann's with two pods; logs as the API returns them."""

    def __init__(self, texts: dict[str, str]) -> None:
        self.user, self.namespace = "ann", "peripheral-dev-ann"
        self.asked: list[tuple] = []
        self.stack = SimpleNamespace(config=lambda: CONFIG)
        found = [pod("worker-1", "worker", "2026-12-03T01:00:00Z"),
                 pod("db-1", "db", "2026-12-03T00:00:00Z")]  # fmt: skip

        def text(path, query):
            self.asked.append((path, query))
            return texts[path.rsplit("/", 2)[-2]]

        self.kube = SimpleNamespace(
            list=lambda kind, sel: self.asked.append((kind, sel)) or found,
            mask=lambda s: s.replace("hunter2", "****"),
            rest=SimpleNamespace(path=lambda api, kind, name: f"/api/v1/pods/{name}", text=text),
        )


def test_logs_of_every_pod_are_merged_in_time_order_and_masked():
    cluster = FakeCluster({
        "worker-1": "2026-12-03T01:00:02.5Z job done\n2026-12-03T01:00:04Z pw=hunter2\n",
        "db-1": "2026-12-03T01:00:03Z checkpoint\n",
    })  # fmt: skip
    lines = logs.read(cluster, [])
    assert [(ln.service, ln.text) for ln in lines] == [
        ("worker", "job done"), ("db", "checkpoint"), ("worker", "pw=****"),
    ]  # fmt: skip


def test_logs_read_only_the_named_services_pods_with_since_and_grep():
    cluster = FakeCluster({"worker-1": "2026-12-03T01:00:02Z a\n2026-12-03T01:00:03Z b\n",
                           "db-1": ""})  # fmt: skip
    lines = logs.read(cluster, ["worker"], since=600, grep="^b")
    assert [ln.text for ln in lines] == ["b"]
    assert cluster.asked[0] == (
        "Pod", "app.kubernetes.io/managed-by=periph,periph.dev/dev-stack=ann,"
        "periph.dev/service in (worker)",
    )  # fmt: skip
    assert cluster.asked[2][1]["sinceSeconds"] == "600"


def test_an_unknown_service_is_a_usage_error_naming_the_known_ones():
    with pytest.raises(UsageError, match="no service 'wrker'") as raised:
        logs.check_services(FakeCluster({}), ["wrker"])
    assert raised.value.hint == "known: db, migrate, worker"


def test_a_one_shot_cannot_be_restarted_and_says_why():
    with pytest.raises(UsageError, match="that can be restarted") as raised:
        logs.check_services(FakeCluster({}), ["migrate"], restartable=True)
    assert raised.value.hint == "known: db, worker"


def test_restart_patches_each_template_then_waits_for_the_rollouts():
    cluster = FakeCluster({})
    cluster.kube.rest.request = lambda *a: cluster.asked.append(("PATCH", a[1], a[3]))
    cluster.wait_rolled = lambda services, progress: cluster.asked.append(("wait", services))
    said: list[str] = []
    logs.restart(cluster, ["worker", "db"], said.append)
    patches = [a for a in cluster.asked if a[0] == "PATCH"]
    assert [p[1] for p in patches] == ["/api/v1/pods/worker", "/api/v1/pods/db"]
    stamp = patches[0][2]["spec"]["template"]["metadata"]["annotations"][logs.RESTARTED_AT]
    assert stamp.endswith("Z") and cluster.asked[-1] == ("wait", ["worker", "db"])
    assert said == ["worker: restarting (rollout restart)", "db: restarting (rollout restart)"]
