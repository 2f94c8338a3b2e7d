"""`periph deploy demo` on real pods: the prod images of this checkout, on the real node.

One module-scoped release (``demo``): a copy of the project builds its prod images with
``periph build --pin demo``, pushes them to the test registry (auth) and deploys them with
``periph deploy demo`` into a fresh namespace: the migration Job against the in-cluster
Postgres, real probes, Services, DNS, claims on local volumes. The tests then look at it as
a maintainer would. The last two change it (a new release then ``periph rollback demo``;
a crash-looping image with ``--auto-rollback``), so they run last, in file order.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from periph_env.common.poll import wait_for
from periph_env.testenv import node
from periph_env.testenv import node_config as ncfg
from tests.integration.real_demo_support import (
    DemoProject,
    assert_no_secret,
    push_crashing_image,
)

pytestmark = [pytest.mark.node, pytest.mark.docker, pytest.mark.registry]

MIGRATIONS = sorted(
    p.name for p in (Path(__file__).parents[2] / "services/db/migrations").glob("*.sql")
)
DATABASE, DB_USER = "peripheral_app", "peripheral"  # from the demo env file (ENV_FILE)
STATEFULSETS = ("db", "cache")


@pytest.fixture(scope="module")
def demo(
    real_node: node.NodeInfo, registry: Any, base_images: object, tmp_path_factory
) -> Iterator[dict[str, Any]]:
    """The project copy after ``periph build --pin demo`` and ``periph deploy demo``."""
    project = DemoProject.create(tmp_path_factory.mktemp("realdemo"), real_node.cluster, registry)
    project.create_namespace(registry)
    try:
        started = time.monotonic()
        built = project.periph("build", "--pin", "demo", "-j", "1", timeout=1800)
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
        project.commit("pin the demo images")
        build_seconds = time.monotonic() - started
        started = time.monotonic()
        deployed = project.periph("deploy", "demo")
        deploy_seconds = time.monotonic() - started
        print(f"\nreal demo: build+push {build_seconds:.1f}s, deploy {deploy_seconds:.1f}s")
        if deployed.returncode == 0:
            # kube-proxy programs a new Service's rules a moment after its pods are Ready.
            for service, port, path in (
                ("backend", 5058, "/api/health"),
                ("frontend", 3000, "/healthz"),
            ):
                url = service_url(project, service, port, path)
                wait_for(lambda url=url: answers(url), f"{url} through kube-proxy", 60, every=1)
        yield {"project": project, "deploy": deployed, "build": built}
    finally:
        project.delete_namespace()


def project_of(demo: dict[str, Any]) -> DemoProject:
    return demo["project"]


@contextlib.contextmanager
def port_forward(project: DemoProject, target: str, port: int) -> Iterator[int]:
    """``kubectl port-forward TARGET :PORT``; yields the local port once it listens."""
    argv = project.cluster.kubectl_argv("-n", project.namespace, "port-forward", target, f":{port}")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"127\.0\.0\.1:(\d+)", line)
        assert found, f"port-forward said: {line}"
        yield int(found.group(1))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def http(url: str, data: dict | None = None, timeout: float = 10) -> tuple[int, Any]:
    """(status, JSON body) of a GET, or of a POST of ``data`` as JSON."""
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, json.loads(response.read() or b"null")


def answers(url: str) -> bool:
    """Whether ``url`` answers at all (any HTTP status)."""
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def service_url(project: DemoProject, service: str, port: int, path: str) -> str:
    """http://<ClusterIP>:<port><path>: kube-proxy makes ClusterIPs reachable from the host."""
    ip = project.json("service", service)["spec"]["clusterIP"]
    return f"http://{ip}:{port}{path}"


def psql(project: DemoProject, pod: str, sql: str, database: str = DATABASE) -> str:
    out = project.kubectl(
        "exec", pod, "-c", "postgres", "--", "psql", "-tA", "-U", DB_USER, "-d", database, "-c", sql
    )
    return out.stdout.strip()


def post_backtest(project: DemoProject, name: str) -> dict[str, Any]:
    """POST a strategy (which queues its backtest job) through the backend's Service."""
    url = service_url(project, "backend", 5058, "/api/strategies")
    status, body = http(url, {"name": name, "symbol": "SPY", "fast_window": 5, "slow_window": 20})
    assert status == 201, body
    return body


def job_done(project: DemoProject, created: dict[str, Any]) -> dict[str, Any]:
    """Wait until the worker has processed the job queued with ``created``; the job."""
    url = service_url(project, "backend", 5058, f"/api/strategies/{created['strategy']['id']}/jobs")

    def done() -> dict[str, Any] | None:
        jobs = http(url)[1]["jobs"]
        return jobs[0] if jobs and jobs[0]["status"] == "done" else None

    return wait_for(done, f"backtest job {created['job']['id']} to be processed", 90, every=1)


# -- the release as deployed ------------------------------------------------------------


def test_periph_deploy_demo_succeeds_on_real_pods(demo):
    deployed = demo["deploy"]
    assert deployed.returncode == 0, deployed.stdout[-4000:] + deployed.stderr[-2000:]
    assert "SUCCEEDED" in deployed.stdout
    assert "ok   job/backend-migrate complete" in deployed.stdout
    assert_no_secret(deployed.stdout + deployed.stderr + demo["build"].stdout)


def test_every_pod_runs_on_the_real_node_from_the_pinned_images(demo):
    project = project_of(demo)
    pods = project.json("pods")["items"]
    running = [p for p in pods if p["status"].get("phase") == "Running"]
    assert running, "no running pod"
    assert {p["spec"]["nodeName"] for p in running} == {ncfg.NODE_NAME}
    for service in ("backend", "frontend", "worker"):
        assert project.image(service) == project.pinned(service)
        statuses = [
            cs
            for p in running
            if p["metadata"]["name"].startswith(f"{service}-")
            for cs in p["status"]["containerStatuses"]
        ]
        # The runtime pulled exactly the pinned digest.
        assert statuses and all(
            cs["imageID"].endswith(project.pinned(service).split("@")[1]) for cs in statuses
        )


def test_every_deployment_is_available_through_its_real_readiness_probe(demo):
    project = project_of(demo)

    def all_available() -> list[dict[str, Any]] | None:
        # A first deploy creates the Deployments at one replica; their HPAs then raise them
        # to minReplicas, so the count can still grow after the rollout.
        items = project.json("deployments")["items"]
        ok = all(d["status"].get("availableReplicas", 0) == d["spec"]["replicas"] for d in items)
        return items if ok else None

    for dep in wait_for(all_available, "every Deployment to be fully available", 90, every=1):
        name = dep["metadata"]["name"]
        assert dep["spec"]["replicas"] >= 1, name
        probe = dep["spec"]["template"]["spec"]["containers"][0].get("readinessProbe")
        assert probe, f"{name} has no readiness probe"
    for sts in STATEFULSETS:
        status = project.json("statefulset", sts)["status"]
        assert status.get("readyReplicas") == status.get("replicas") == 1, sts


def test_the_migration_job_ran_backend_migrate_against_the_in_cluster_postgres(demo):
    project = project_of(demo)
    job = project.json("job", "backend-migrate")
    assert job["status"].get("succeeded") == 1
    command = job["spec"]["template"]["spec"]["containers"][0]
    assert "migrate" in command.get("args", []) + command.get("command", [])
    applied = psql(
        project, "db-0", "SELECT string_agg(name, ',' ORDER BY version) FROM schema_migrations"
    )
    assert applied.split(",") == MIGRATIONS


def test_periph_db_seed_env_demo_loads_the_seed_through_a_job_on_the_real_node(demo):
    project = project_of(demo)  # before any test posts a strategy: the seed wants none

    seeded = project.periph("db", "seed", "--env", "demo", timeout=600)

    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    assert_no_secret(seeded.stdout + seeded.stderr)
    counts = psql(
        project, "db-0",
        "SELECT (SELECT count(*) FROM strategies) || ' strategies, ' || "
        "(SELECT count(*) FROM jobs) || ' jobs, ' || (SELECT count(*) FROM job_results) "
        "|| ' job_results'",
    )  # fmt: skip
    assert not counts.startswith("0 ")
    assert f"seeded: {counts}" in seeded.stderr  # the Job's own log tail, shown by periph
    assert "demo seeded" in seeded.stderr
    pod = project.json("pods", "-l", "app.kubernetes.io/name=db-seed")["items"][0]
    assert pod["spec"]["containers"][0]["image"] == project.pinned("db")  # the db's own psql
    # A second run refuses (the seed loads into an empty database) and changes nothing.
    again = project.periph("db", "seed", "--env", "demo", timeout=600)
    assert again.returncode == 1
    assert "already has strategies" in again.stderr
    assert psql(project, "db-0", "SELECT count(*) FROM strategies") == counts.split()[0]


def test_the_claims_are_bound_to_local_volumes_on_the_real_node(demo):
    project = project_of(demo)
    claims = {c["metadata"]["name"]: c for c in project.json("pvc")["items"]}
    assert claims["data-db-0"]["status"]["phase"] == "Bound"
    assert claims["data-cache-0"]["status"]["phase"] == "Bound"
    assert {c["spec"]["storageClassName"] for c in claims.values()} == {ncfg.STORAGE_CLASS}


def test_api_health_answers_200_through_the_service_from_the_host(demo):
    status, body = http(service_url(project_of(demo), "backend", 5058, "/api/health"))
    assert status == 200
    assert body == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}}


def test_api_health_answers_200_through_kubectl_port_forward(demo):
    with port_forward(project_of(demo), "service/backend", 5058) as port:
        status, body = http(f"http://127.0.0.1:{port}/api/health")
    assert status == 200 and body["status"] == "ok"


def test_the_frontend_serves_through_its_service(demo):
    url = service_url(project_of(demo), "frontend", 3000, "/healthz")
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200


def test_a_backtest_posted_to_the_api_is_processed_by_the_worker(demo):
    project = project_of(demo)
    created = post_backtest(project, "golden cross on real pods")
    job = job_done(project, created)
    assert job["strategy_id"] == created["strategy"]["id"]
    assert {"total_return", "max_drawdown", "trades", "final_equity"} <= set(job["result"])


def test_periph_logs_env_demo_shows_the_backends_real_lines(demo):
    project = project_of(demo)
    http(service_url(project, "backend", 5058, "/api/strategies"))
    out = project.periph("logs", "--env", "demo", "backend", timeout=120)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("[pod/backend-")]
    records = [json.loads(line.split("] ", 1)[1]) for line in lines]
    assert any(r.get("msg") == "backend listening" for r in records)
    assert any(r.get("route") == "GET /api/strategies" and r.get("status") == 200 for r in records)
    # Only secret values are masked: the user name inside a host name stays readable.
    assert any(r.get("ws_origins") == ["demo.peripheral.internal"] for r in records)
    assert_no_secret(out.stdout + out.stderr)


def restore_pod(project: DemoProject) -> dict[str, Any]:
    """A fresh Postgres from the db StatefulSet's own template (empty data dir), mounting
    the backup claim read-only; other labels, so the db Service never sends it traffic."""
    template = project.json("statefulset", "db")["spec"]["template"]
    spec = template["spec"]
    spec["volumes"] = [v for v in spec.get("volumes", []) if v["name"] != "data"] + [
        {"name": "data", "emptyDir": {}},
        {"name": "backups", "persistentVolumeClaim": {"claimName": "db-backups", "readOnly": True}},
    ]
    postgres = next(c for c in spec["containers"] if c["name"] == "postgres")
    postgres["volumeMounts"].append({"name": "backups", "mountPath": "/backups", "readOnly": True})
    spec.pop("hostname", None)
    spec.pop("subdomain", None)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "db-restore", "labels": {"app.kubernetes.io/name": "db-restore"}},
        "spec": spec,
    }


def test_a_triggered_backup_writes_a_dump_that_restores_into_an_empty_database(demo):
    project = project_of(demo)
    created = post_backtest(project, "kept by the backup")
    job_done(project, created)
    project.kubectl("create", "job", "backup-now", "--from=cronjob/db-backup")
    project.kubectl(
        "wait", "--for=condition=complete", "job/backup-now", "--timeout=180s", timeout=200
    )
    report = project.kubectl("logs", "job/backup-now", "--all-containers").stdout
    dump = re.search(rf"backup written: ({DATABASE}-\S+\.dump)", report)
    assert dump, report

    project.kubectl("apply", "-f", "-", input=yaml.safe_dump(restore_pod(project)))
    project.kubectl(
        "wait", "--for=condition=Ready", "pod/db-restore", "--timeout=180s", timeout=200
    )
    assert psql(project, "db-restore", "SELECT to_regclass('public.strategies') IS NULL") == "t"
    restored = project.kubectl(
        "exec", "db-restore", "-c", "postgres", "--",
        "pg_restore", "--clean", "--if-exists", "--no-owner", "-U", DB_USER, "-d", DATABASE,
        f"/backups/{dump.group(1)}",
        check=False,
    )  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    names = psql(project, "db-restore", "SELECT string_agg(name, ',' ORDER BY id) FROM strategies")
    assert "kept by the backup" in names.split(",")
    assert psql(project, "db-restore", "SELECT count(*) FROM jobs WHERE status = 'done'") != "0"
    project.kubectl("delete", "pod", "db-restore", "--wait=false")


def test_periph_verify_demo_passes_its_smoke_checks_and_error_rate_watch_on_real_pods(demo):
    project = project_of(demo)
    for _ in range(25):  # enough requests in the window to judge the 5xx ratio
        http(service_url(project, "backend", 5058, "/api/strategies"))

    out = project.periph("verify", "demo", "--watch-window", "12s", "--format", "json")

    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    document = json.loads(out.stdout)
    checks = [e for e in document["events"] if e["event"] == "verify-check"]
    assert {c["name"] for c in checks} == {"api-health", "frontend-healthz", "api-strategies"}
    assert all(c["ok"] for c in checks), checks
    assert_no_secret(out.stdout + out.stderr)


# -- changes to the release (these run last) -------------------------------------------


def test_periph_rollback_demo_brings_the_previous_pods_back_serving(demo):
    project = project_of(demo)
    first = project.image("worker")
    worker = project.root / "services" / "worker" / "peripheral_worker" / "__init__.py"
    worker.write_text(worker.read_text() + "# release 2\n")
    project.commit("worker: release 2")
    built = project.periph("build", "--pin", "demo", "worker", timeout=900)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    project.commit("pin release 2")
    deployed = project.periph("deploy", "demo")
    assert deployed.returncode == 0, deployed.stdout[-3000:]
    assert project.image("worker") == project.pinned("worker") != first

    rolled = project.periph("rollback", "demo")

    assert rolled.returncode == 0, rolled.stdout[-3000:] + rolled.stderr[-2000:]
    assert project.image("worker") == first
    dep = project.json("deployment", "worker")
    assert dep["status"].get("availableReplicas") == dep["spec"]["replicas"]
    job = job_done(project, post_backtest(project, "after the rollback"))
    assert job["status"] == "done"


def test_a_crash_looping_image_is_reported_and_auto_rollback_returns_to_the_previous_revision(
    demo, registry
):
    project = project_of(demo)
    before = project.image("worker")
    project.pin("worker", push_crashing_image(project, registry, before))
    project.commit("pin a worker that cannot start")

    out = project.periph("deploy", "demo", "--auto-rollback")

    assert out.returncode == 1, out.stdout[-3000:]
    assert re.search(r"CrashLoopBackOff", out.stdout)
    assert 'FAIL deployment "worker" will not roll out' in out.stdout
    assert "| worker: fatal: cannot start" in out.stdout  # the crashed run's log tail
    assert "ROLLED-BACK" in out.stdout
    assert project.image("worker") == before
    dep = project.json("deployment", "worker")
    assert dep["status"].get("availableReplicas") == dep["spec"]["replicas"]
    history = project.periph("history", "demo", "--format", "json")
    records = json.loads(history.stdout)
    assert records[0]["status"] == "rolled-back"
