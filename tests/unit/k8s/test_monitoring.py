"""k8s/monitoring on the Prometheus Operator: PodMonitors scrape what the rules watch."""

from __future__ import annotations

import pytest

from tests.unit.k8s.manifests import K8S, Doc, by_kind, one, pod_spec, render

# Deployment -> the container port its PodMonitor scrapes.
SCRAPED = {"backend": "internal", "worker": "metrics"}


@pytest.fixture(scope="module")
def monitoring() -> list[Doc]:
    """``kubectl kustomize k8s/monitoring``."""
    return render(K8S / "monitoring")


def test_backend_and_worker_each_have_a_pod_monitor(monitoring: list[Doc]) -> None:
    monitors = by_kind(monitoring, "PodMonitor")
    assert set(monitors) == set(SCRAPED)
    for monitor in monitors.values():
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        # kube-prometheus-stack's default podMonitorSelector.
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_each_pod_monitor_selects_its_pods_on_a_port_they_expose(
    monitoring: list[Doc], overlays: dict[str, list[Doc]], env: str
) -> None:
    for name, port in SCRAPED.items():
        monitor = one(monitoring, "PodMonitor", name)
        deployment = one(overlays[env], "Deployment", name)
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = monitor["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pod_labels.items(), name
        (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
        assert (endpoint["port"], endpoint["path"]) == (port, "/metrics")
        ports = {p["name"] for c in pod_spec(deployment)["containers"] for p in c["ports"]}
        assert port in ports, name


def test_pod_monitors_carry_the_label_the_alert_rules_select_on(monitoring: list[Doc]) -> None:
    # The rules select up{app_kubernetes_io_name="backend"}: the operator turns the pod
    # label app.kubernetes.io/name into that target label only when asked.
    for monitor in by_kind(monitoring, "PodMonitor").values():
        assert "app.kubernetes.io/name" in monitor["spec"]["podTargetLabels"]
    rules = one(monitoring, "PrometheusRule", "peripheral-alerts")
    exprs = [r["expr"] for g in rules["spec"]["groups"] for r in g["rules"]]
    assert any('app_kubernetes_io_name="backend"' in e for e in exprs)


def test_backend_down_and_backup_failed_are_judged_per_namespace_and_per_job_outcome(
    monitoring: list[Doc],
) -> None:
    rules = one(monitoring, "PrometheusRule", "peripheral-alerts")
    by_alert = {r["alert"]: r["expr"] for g in rules["spec"]["groups"] for r in g["rules"]}
    assert "sum by (namespace)" in by_alert["BackendDown"]
    assert "absent(" not in by_alert["BackendDown"]  # absent() cannot name a namespace
    # A Job's final Failed condition, not its count of failed pods (retries).
    assert "kube_job_failed" in by_alert["BackupJobFailed"]
    assert "kube_job_status_failed" not in by_alert["BackupJobFailed"]
