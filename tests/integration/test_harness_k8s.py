"""The Kubernetes test harness behaves like a real control plane.

Real etcd, kube-apiserver, kube-controller-manager and kube-scheduler; kwok plays the
kubelets of fake nodes. Each test gets a namespace of its own (``k8s_namespace``).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from periph_env.errors import CommandFailed
from periph_env.testenv import kube
from periph_env.testenv.kube_config import PHASE_LABEL, POD_LOG_LINES, READY_LABEL
from periph_env.testenv.state import Log

pytestmark = pytest.mark.k8s

REVISION = "deployment.kubernetes.io/revision"


def deployment(
    name: str,
    image: str = "peripheral-backend:main",
    *,
    replicas: int = 2,
    pod_labels: dict[str, str] | None = None,
    progress_deadline: int | None = None,
) -> str:
    """A Deployment manifest; ``pod_labels`` go on the pod template (kwok reads them)."""
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name, **(pod_labels or {})}},
            "spec": {"containers": [{"name": "app", "image": image}]},
        },
    }
    if progress_deadline is not None:
        spec["progressDeadlineSeconds"] = progress_deadline
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": spec,
    }
    return yaml.safe_dump(manifest)


def apply(kubectl, namespace: str, manifest: str) -> None:
    kubectl(
        "apply", "--server-side", "--field-manager=periph-test", "-n", namespace, "-f", "-",
        input=manifest,
    )  # fmt: skip


def get_json(kubectl, namespace: str, *what: str) -> dict[str, Any]:
    """Objects as JSON, managedFields included (kubectl hides them by default)."""
    out = kubectl("get", "-n", namespace, *what, "-o", "json", "--show-managed-fields").stdout
    return json.loads(out)


def replica_sets(kubectl, namespace: str, app: str) -> list[dict[str, Any]]:
    items = get_json(kubectl, namespace, "replicasets", "-l", f"app={app}")["items"]
    return sorted(items, key=lambda rs: int(rs["metadata"]["annotations"][REVISION]))


def rollout_status(kubectl, namespace: str, name: str, *, check: bool = True):
    return kubectl(
        "rollout", "status", f"deployment/{name}", "-n", namespace, "--timeout=120s", check=check
    )


def test_cluster_has_two_ready_nodes(kubectl):
    nodes = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
    ready = [
        n["metadata"]["name"]
        for n in nodes
        if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
    ]
    assert len(ready) >= 2


def test_kubeconfig_has_its_own_context(kube_cluster):
    config = yaml.safe_load(kube_cluster.kubeconfig.read_text())
    assert config["current-context"] == kube_cluster.context == "periph-test"
    assert kube_cluster.kubeconfig.resolve() != (Path.home() / ".kube" / "config").resolve()


def test_server_side_applied_deployment_rolls_out_through_a_controller_made_replicaset(
    kubectl, k8s_namespace
):
    apply(kubectl, k8s_namespace, deployment("web"))

    rollout_status(kubectl, k8s_namespace, "web")

    managers = get_json(kubectl, k8s_namespace, "deployment/web")["metadata"]["managedFields"]
    assert {"manager": "periph-test", "operation": "Apply"} in [
        {"manager": m["manager"], "operation": m["operation"]} for m in managers
    ]
    (rs,) = replica_sets(kubectl, k8s_namespace, "web")
    (owner,) = rs["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("Deployment", "web", True)
    assert "kube-controller-manager" in [m["manager"] for m in rs["metadata"]["managedFields"]]
    assert rs["status"]["readyReplicas"] == 2


def test_changing_the_image_rolls_to_a_new_replicaset(kubectl, k8s_namespace):
    apply(kubectl, k8s_namespace, deployment("web", "peripheral-backend:v1"))
    rollout_status(kubectl, k8s_namespace, "web")

    apply(kubectl, k8s_namespace, deployment("web", "peripheral-backend:v2"))
    rollout_status(kubectl, k8s_namespace, "web")

    old, new = replica_sets(kubectl, k8s_namespace, "web")
    assert new["spec"]["template"]["spec"]["containers"][0]["image"] == "peripheral-backend:v2"
    assert (new["status"].get("readyReplicas"), old["spec"]["replicas"]) == (2, 0)


def test_pods_held_unready_fail_the_rollout_on_its_progress_deadline(kubectl, k8s_namespace):
    apply(kubectl, k8s_namespace, deployment("web", "peripheral-backend:v1", progress_deadline=10))
    rollout_status(kubectl, k8s_namespace, "web")

    broken = deployment(
        "web", "peripheral-backend:v2", pod_labels={READY_LABEL: "never"}, progress_deadline=10
    )
    apply(kubectl, k8s_namespace, broken)
    result = rollout_status(kubectl, k8s_namespace, "web", check=False)

    assert result.returncode != 0
    assert "exceeded its progress deadline" in result.stderr
    conditions = get_json(kubectl, k8s_namespace, "deployment/web")["status"]["conditions"]
    progressing = next(c for c in conditions if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")


def test_pods_labelled_failed_report_a_crash_loop(kubectl, k8s_namespace):
    apply(kubectl, k8s_namespace, deployment("web", replicas=1, pod_labels={PHASE_LABEL: "failed"}))

    kubectl(
        "wait", "pod", "-l", "app=web", "-n", k8s_namespace, "--timeout=60s",
        "--for=jsonpath={.status.containerStatuses[0].state.waiting.reason}=CrashLoopBackOff",
    )  # fmt: skip

    (pod,) = get_json(kubectl, k8s_namespace, "pods", "-l", "app=web")["items"]
    assert pod["status"]["containerStatuses"][0]["ready"] is False


def test_rollout_undo_returns_to_the_previous_replicaset(kubectl, k8s_namespace):
    apply(kubectl, k8s_namespace, deployment("web", "peripheral-backend:v1"))
    rollout_status(kubectl, k8s_namespace, "web")
    first = replica_sets(kubectl, k8s_namespace, "web")[0]["metadata"]["name"]
    apply(kubectl, k8s_namespace, deployment("web", "peripheral-backend:v2"))
    rollout_status(kubectl, k8s_namespace, "web")

    kubectl("rollout", "undo", "deployment/web", "-n", k8s_namespace)
    rollout_status(kubectl, k8s_namespace, "web")

    template = get_json(kubectl, k8s_namespace, "deployment/web")["spec"]["template"]
    assert template["spec"]["containers"][0]["image"] == "peripheral-backend:v1"
    active = [
        rs["metadata"]["name"]
        for rs in replica_sets(kubectl, k8s_namespace, "web")
        if rs["spec"]["replicas"] > 0
    ]
    assert active == [first]


def test_kubectl_logs_returns_the_configured_lines(kubectl, k8s_namespace):
    apply(kubectl, k8s_namespace, deployment("web", replicas=1))
    rollout_status(kubectl, k8s_namespace, "web")

    logs = kubectl("logs", "deployment/web", "-n", k8s_namespace).stdout

    assert logs.splitlines() == list(POD_LOG_LINES)


def test_pod_logs_are_served_by_the_api(kubectl, k8s_namespace):
    apply(kubectl, k8s_namespace, deployment("web", replicas=1))
    rollout_status(kubectl, k8s_namespace, "web")
    (pod,) = get_json(kubectl, k8s_namespace, "pods", "-l", "app=web")["items"]

    path = f"/api/v1/namespaces/{k8s_namespace}/pods/{pod['metadata']['name']}/log"
    logs = kubectl("get", "--raw", path).stdout

    assert logs.splitlines() == list(POD_LOG_LINES)


def test_a_job_completes(kubectl, k8s_namespace):
    kubectl(
        "create", "job", "migrate", "-n", k8s_namespace, "--image=peripheral-backend:main",
        "--", "/app/backend", "migrate",
    )  # fmt: skip

    kubectl("wait", "--for=condition=Complete", "job/migrate", "-n", k8s_namespace, "--timeout=60s")

    assert get_json(kubectl, k8s_namespace, "job/migrate")["status"]["succeeded"] == 1


def test_a_cronjob_is_accepted(kubectl, k8s_namespace):
    kubectl(
        "create", "cronjob", "nightly", "-n", k8s_namespace, "--image=peripheral-worker:main",
        "--schedule=0 3 * * *",
    )  # fmt: skip

    cronjob = get_json(kubectl, k8s_namespace, "cronjob/nightly")

    assert cronjob["spec"]["schedule"] == "0 3 * * *"


def test_ensure_twice_reuses_the_running_cluster(kube_cluster):
    apiserver = kube.component_pid("kube-apiserver")

    again = kube.ensure(Log(stream=io.StringIO()))

    assert again == kube_cluster
    assert kube.component_pid("kube-apiserver") == apiserver is not None


def test_kubectl_reports_failures_as_command_failed(kubectl, k8s_namespace):
    with pytest.raises(CommandFailed, match="NotFound"):
        kubectl("get", "deployment/absent", "-n", k8s_namespace)
