"""What the rendered overlays run: replicas, probes, resources, rollouts, security."""

from __future__ import annotations

import re

from tests.unit.k8s.manifests import (
    ENVIRONMENTS,
    Doc,
    by_kind,
    containers,
    one,
    pod_annotations,
    pod_spec,
    workloads,
)

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
ROLLING = ("backend", "frontend", "worker")


def test_every_namespaced_object_lands_in_the_environments_lowercase_namespace(
    overlays: dict[str, list[Doc]], persistents: dict[str, list[Doc]], env: str
) -> None:
    expected = ENVIRONMENTS[env]["namespace"]
    docs = overlays[env] + persistents[env]
    namespaces = {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"}
    assert namespaces == {expected}
    assert set(by_kind(persistents[env], "Namespace")) == {expected}
    assert DNS_LABEL.match(expected)


def _floors(docs: list[Doc]) -> dict[str, int]:
    """Each scalable Deployment's floor: its HPA's minReplicas, else its replicas."""
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    return {
        name: hpas[name]["spec"]["minReplicas"] if name in hpas else d["spec"]["replicas"]
        for name, d in by_kind(docs, "Deployment").items()
    }


def test_backend_runs_at_least_two_replicas_and_worker_at_least_three(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    floors = _floors(overlays[env])
    assert floors["backend"] >= 2
    assert floors["worker"] >= 3
    assert floors["frontend"] >= 1


def test_prod_runs_more_replicas_with_bigger_limits_than_demo(
    overlays: dict[str, list[Doc]],
) -> None:
    demo_floor, prod_floor = (_floors(overlays[e]) for e in ("demo", "prod"))
    for name in ROLLING:
        assert prod_floor[name] > demo_floor[name], name
    demo, prod = (by_kind(overlays[e], "Deployment") for e in ("demo", "prod"))
    demo_mem = demo["backend"]["spec"]["template"]["spec"]["containers"][0]["resources"]
    prod_mem = prod["backend"]["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert demo_mem["limits"]["memory"] == "256Mi"
    assert prod_mem["limits"]["memory"] == "512Mi"


def test_every_container_requests_and_limits_cpu_and_memory(
    overlays: dict[str, list[Doc]], migrations: dict[str, list[Doc]], env: str
) -> None:
    missing = [
        f"{owner}/{c['name']} {section}.{resource}"
        for owner, c in containers(overlays[env] + migrations[env])
        for section in ("requests", "limits")
        for resource in ("cpu", "memory")
        if resource not in c.get("resources", {}).get(section, {})
    ]
    assert missing == []


def test_every_long_running_container_has_readiness_and_liveness_probes(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    long_running = [d for d in overlays[env] if d["kind"] in ("Deployment", "StatefulSet")]
    missing = [
        f"{d['metadata']['name']}/{c['name']} {probe}"
        for d in long_running
        for c in pod_spec(d)["containers"]
        for probe in ("readinessProbe", "livenessProbe")
        if probe not in c
    ]
    assert len(long_running) == 5
    assert missing == []


def _probe(docs: list[Doc], name: str, probe: str) -> Doc:
    return pod_spec(one(docs, "Deployment", name))["containers"][0][probe]


def test_backend_readiness_is_its_own_readyz_not_the_shared_health_report(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    # /readyz fails while draining and without Postgres, never for a Redis outage
    # (services/backend: TestReadinessIgnoresARedisOutageButNotAPostgresOne).
    assert _probe(overlays[env], "backend", "readinessProbe")["httpGet"] == {
        "path": "/readyz",
        "port": "internal",
    }


def test_backend_liveness_does_not_depend_on_postgres_or_redis(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    assert _probe(overlays[env], "backend", "livenessProbe")["httpGet"]["path"] != "/api/health"


def test_frontend_probes_use_healthz(overlays: dict[str, list[Doc]], env: str) -> None:
    for probe in ("readinessProbe", "livenessProbe"):
        assert _probe(overlays[env], "frontend", probe)["httpGet"]["path"] == "/healthz"


def test_worker_probes_its_metrics_port(overlays: dict[str, list[Doc]], env: str) -> None:
    worker = pod_spec(one(overlays[env], "Deployment", "worker"))["containers"][0]
    assert {"name": "metrics", "containerPort": 9102} in worker["ports"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert worker[probe]["httpGet"]["port"] == "metrics"


def test_app_deployments_roll_with_a_progress_deadline(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    deployments = by_kind(overlays[env], "Deployment")
    for name in ROLLING:
        spec = deployments[name]["spec"]
        assert spec["strategy"]["type"] == "RollingUpdate", name
        assert spec["progressDeadlineSeconds"] > 0, name
    assert all("progressDeadlineSeconds" in d["spec"] for d in deployments.values())


def test_backend_and_worker_pods_carry_prometheus_scrape_annotations(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    expected = {"backend": "9091", "worker": "9102"}
    for name, port in expected.items():
        annotations = pod_annotations(one(overlays[env], "Deployment", name))
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == port
        assert annotations["prometheus.io/path"] == "/metrics"


def test_every_pod_runs_as_non_root_without_privilege_escalation(
    overlays: dict[str, list[Doc]], migrations: dict[str, list[Doc]], env: str
) -> None:
    docs = overlays[env] + migrations[env]
    root_pods = [
        d["metadata"]["name"]
        for d in workloads(docs)
        if pod_spec(d).get("securityContext", {}).get("runAsNonRoot") is not True
    ]
    loose = [
        f"{owner}/{c['name']}"
        for owner, c in containers(docs)
        if c.get("securityContext", {}).get("allowPrivilegeEscalation") is not False
        or c["securityContext"].get("capabilities", {}).get("drop") != ["ALL"]
    ]
    assert root_pods == []
    assert loose == []


def test_hpas_scale_backend_and_worker(overlays: dict[str, list[Doc]], env: str) -> None:
    hpas = by_kind(overlays[env], "HorizontalPodAutoscaler")
    assert set(hpas) == {"backend", "worker"}
    for name, hpa in hpas.items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"] >= 1


def test_postgres_keeps_its_data_on_a_claim_per_pod(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    db = one(overlays[env], "StatefulSet", "db")
    claims = {t["metadata"]["name"]: t for t in db["spec"]["volumeClaimTemplates"]}
    mounts = {m["name"]: m["mountPath"] for m in pod_spec(db)["containers"][0]["volumeMounts"]}
    assert "data" in claims
    assert mounts["data"] == "/var/lib/postgresql/data"
    assert db["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Retain"


def test_backup_cronjob_runs_pg_dump_onto_the_backup_claim(
    overlays: dict[str, list[Doc]], persistents: dict[str, list[Doc]], env: str
) -> None:
    cron = one(overlays[env], "CronJob", "db-backup")
    spec = pod_spec(cron)
    (dump,) = spec["initContainers"]
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"]
        for v in spec["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert claims["backups"] == "db-backups"
    assert "db-backups" in by_kind(persistents[env], "PersistentVolumeClaim")
    assert "pg_dump" in " ".join(dump["command"])
    assert dump["image"].startswith("peripheral-db:")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"


def test_the_backup_waits_for_the_database_before_it_dumps(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    # Under an enforcing NetworkPolicy controller a new pod's first connections are
    # refused until its address is admitted; one refusal must not fail the backup.
    cron = one(overlays[env], "CronJob", "db-backup")
    spec = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    dump = next(c for c in spec["initContainers"] if c["name"] == "pg-dump")
    script = dump["command"][-1]
    assert "until pg_isready -q -t 5" in script
    assert script.index("pg_isready") < script.index("pg_dump --format")
