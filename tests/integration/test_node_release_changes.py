"""Changes to a running demo release on the real node: a flag flip, a drain, a rotation.

One module-scoped release, deployed like ``test_node_demo_deploy.py``'s (the prod images
of this checkout, ``periph deploy demo``, NetworkPolicies enforced by the node's
kube-router firewall). Then, in file order:

1. ``LOG_LEVEL`` flips from debug to info and ``periph deploy demo`` rolls it out while a
   client requests ``GET /api/strategies`` through the backend's Service without pause
   (a new connection each time, as kube-proxy balances them). The tests read one
   behaviour each off that one rollout: the client saw no error (preStop sleep, readiness
   503 first, drain period, Shutdown: docs/k8s.md "Graceful drains"), every backend pod
   was replaced, and db-0 and cache-0 are the same pods (UIDs) as before (db-config).
2. ``DB_PASSWORD`` is rotated by the runbook (docs/deploy-runbook.md, "Rotating the
   database password"): the role first, in SQL over db-0's socket as the superuser;
   then the Secret's source, ``.env.demo``; then ``periph deploy demo``. The app then
   serves from the database and the worker processes a job; the old password is refused
   and the new one accepted over TCP.
3. A strategy is written through the API and the backup CronJob runs once. The restore
   drill (CronJob ``db-restore-drill``) restores that very dump from the offsite volume
   into its scratch server and counts the strategy. Then the database's claim is lost
   (db-0 stopped, ``data-db-0`` deleted, db-0 back on a new empty claim) and the
   runbook's restore (docs/deploy-runbook.md, "Restoring the database") brings the
   strategy and its job back through the API.

The local PVs of the node are few and shared: this module holds five of them at its
end (db, cache, the two backup claims, the new db claim).
"""

from __future__ import annotations

import re
import secrets
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from periph_env.common.poll import wait_for
from periph_env.testenv import node
from tests.integration.real_demo_support import DemoProject, assert_no_secret
from tests.integration.test_deploy_harness import SECRET_VALUES
from tests.integration.test_node_demo_deploy import (
    DATABASE,
    DB_USER,
    answers,
    http,
    job_done,
    post_backtest,
    psql,
    service_url,
)

pytestmark = [pytest.mark.node, pytest.mark.docker, pytest.mark.registry]

OLD_DB_PASSWORD = SECRET_VALUES[0]  # DB_PASSWORD of the demo env file
DB_ADMIN = "postgres"  # DB_ADMIN_USER in k8s/base/db.yaml
DRILL_SCRATCH = "drill"  # the drill's scratch database (services/db/bin)


def pod_uids(project: DemoProject, name: str) -> dict[str, str]:
    """{pod name: uid} of the live pods labelled ``app.kubernetes.io/name=<name>`` (not
    the migrate Job's ``backend-migrate-...`` pods, not pods on their way out)."""
    pods = project.json("pods", "-l", f"app.kubernetes.io/name={name}")["items"]
    return {
        p["metadata"]["name"]: p["metadata"]["uid"]
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
        and p["status"].get("phase") not in ("Succeeded", "Failed")
    }


def settled(project: DemoProject, deployment: str) -> dict[str, str]:
    """The Deployment's pods once it is fully rolled out (no pod of an old ReplicaSet left)."""

    def done() -> dict[str, str] | None:
        dep = project.json("deployment", deployment)
        status, want = dep["status"], dep["spec"]["replicas"]
        pods = pod_uids(project, deployment)
        same = status.get("updatedReplicas") == status.get("availableReplicas") == want
        return pods if same and len(pods) == want else None

    return wait_for(done, f"{deployment} to settle", 180, every=1)


@dataclass
class Hammer:
    """A client requesting ``url`` back to back on fresh connections until stopped."""

    url: str
    outcomes: list[tuple[float, str]] = field(default_factory=list)  # (monotonic, "200"|error)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Hammer:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=60)

    def _run(self) -> None:
        while not self._stop.is_set():
            # A slow answer is not an error (the machine is loaded); only a refused or
            # reset connection, a timeout or a non-200 status is what a user would see.
            try:
                with urllib.request.urlopen(self.url, timeout=20) as response:
                    response.read()
                    outcome = str(response.status)
            except urllib.error.HTTPError as exc:
                outcome = f"HTTP {exc.code}"
            except OSError as exc:
                outcome = f"{type(exc).__name__}: {exc}"
            self.outcomes.append((time.monotonic(), outcome))

    def errors(self) -> list[str]:
        return [o for _, o in self.outcomes if o != "200"]


@pytest.fixture(scope="module")
def demo(
    real_node: node.NodeInfo, registry: Any, base_images: object, tmp_path_factory
) -> Iterator[DemoProject]:
    """The project copy after ``periph build --pin demo`` and ``periph deploy demo``."""
    project = DemoProject.create(tmp_path_factory.mktemp("relchange"), real_node.cluster, registry)
    project.create_namespace(registry)
    try:
        built = project.periph("build", "--pin", "demo", "-j", "1", timeout=1800)
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
        project.commit("pin the demo images")
        deployed = project.periph("deploy", "demo")
        assert deployed.returncode == 0, deployed.stdout[-4000:] + deployed.stderr[-2000:]
        url = service_url(project, "backend", 5058, "/api/health")
        wait_for(lambda: answers(url), f"{url} through kube-proxy", 60, every=1)
        settled(project, "backend")
        yield project
    finally:
        project.delete_namespace()


@pytest.fixture(scope="module")
def flag_flip(demo: DemoProject) -> dict[str, Any]:
    """LOG_LEVEL debug -> info deployed while a client hammers the backend's Service."""
    project = demo
    before = {
        "db": pod_uids(project, "db"),
        "cache": pod_uids(project, "cache"),
        "backend": settled(project, "backend"),
    }
    overlay = project.root / "k8s" / "overlays" / "demo" / "kustomization.yaml"
    text = overlay.read_text()
    assert "- LOG_LEVEL=debug" in text
    overlay.write_text(text.replace("- LOG_LEVEL=debug", "- LOG_LEVEL=info"))
    project.commit("demo: LOG_LEVEL info")

    with Hammer(service_url(project, "backend", 5058, "/api/strategies")) as hammer:
        time.sleep(2)  # requests before the rollout starts, so the window covers it all
        deployed = project.periph("deploy", "demo")
        after_backend = settled(project, "backend")
        time.sleep(2)
    return {
        "deploy": deployed,
        "hammer": hammer,
        "before": before,
        "after": {
            "db": pod_uids(project, "db"),
            "cache": pod_uids(project, "cache"),
            "backend": after_backend,
        },
    }


def test_a_log_level_flip_deploys(flag_flip):
    deployed = flag_flip["deploy"]
    assert deployed.returncode == 0, deployed.stdout[-4000:] + deployed.stderr[-2000:]
    assert_no_secret(deployed.stdout + deployed.stderr)


def test_a_log_level_flip_replaces_every_backend_pod(flag_flip):
    before, after = flag_flip["before"]["backend"], flag_flip["after"]["backend"]
    assert before and after
    assert not set(before.values()) & set(after.values()), (before, after)


def test_a_log_level_flip_restarts_neither_postgres_nor_redis(flag_flip):
    before, after = flag_flip["before"], flag_flip["after"]
    assert after["db"] == before["db"] != {}
    assert after["cache"] == before["cache"] != {}


def test_a_client_requesting_through_the_service_during_the_rollout_sees_no_error(flag_flip):
    hammer: Hammer = flag_flip["hammer"]
    # The client ran before, through and after the whole rollout (every pod replaced).
    assert len(hammer.outcomes) >= 20, hammer.outcomes
    assert hammer.errors() == [], f"{len(hammer.errors())} of {len(hammer.outcomes)} failed"


# -- rotation (runs after the flag flip) ------------------------------------------------


def tcp_login(project: DemoProject, password: str) -> bool:
    """Whether the app role logs in over TCP with ``password`` (the image trusts only the
    socket and 127.0.0.1, so the pod's own address asks for it). The password goes in on
    stdin, never on a command line."""
    ip = project.json("pod", "db-0")["status"]["podIP"]
    script = (
        "IFS= read -r PGPASSWORD; export PGPASSWORD; "
        'psql -h "$1" -U "$2" -d postgres -tAc "SELECT 1" >/dev/null 2>&1'
    )
    out = project.kubectl(
        "exec", "-i", "db-0", "-c", "postgres", "--", "sh", "-c", script, "sh", ip, DB_USER,
        input=password + "\n", check=False,
    )  # fmt: skip
    return out.returncode == 0


@pytest.fixture(scope="module")
def rotated(demo: DemoProject, flag_flip: dict[str, Any]) -> dict[str, Any]:
    """DB_PASSWORD rotated as the runbook says: role, then Secret, then rollout."""
    project = demo
    new = f"rotated-{secrets.token_hex(12)}"
    before = settled(project, "backend")
    # 1. The role, as the superuser over the pod's socket; SQL on stdin, not argv.
    project.kubectl(
        "exec", "-i", "db-0", "-c", "postgres", "--",
        "psql", "-v", "ON_ERROR_STOP=1", "-q", "-U", DB_ADMIN, "-d", "postgres",
        input=f"ALTER ROLE {DB_USER} PASSWORD '{new}';\n",
    )  # fmt: skip
    # 2. The Secret's source (not committed: .env.* is ignored).
    env_file = project.root / ".env.demo"
    text = env_file.read_text()
    assert f"DB_PASSWORD={OLD_DB_PASSWORD}\n" in text
    env_file.write_text(text.replace(OLD_DB_PASSWORD, new))
    # 3. The rollout.
    deployed = project.periph("deploy", "demo")
    return {"deploy": deployed, "new": new, "before": before}


def test_the_rotation_deploy_succeeds_and_prints_neither_password(rotated):
    deployed = rotated["deploy"]
    assert deployed.returncode == 0, deployed.stdout[-4000:] + deployed.stderr[-2000:]
    output = deployed.stdout + deployed.stderr
    assert_no_secret(output)
    assert rotated["new"] not in output


def test_after_the_rotation_the_backend_pods_are_new_and_serve_from_the_database(demo, rotated):
    after = settled(demo, "backend")
    assert not set(rotated["before"].values()) & set(after.values())
    status, body = http(service_url(demo, "backend", 5058, "/api/health"))
    assert (status, body["checks"]["postgres"]) == (200, "ok")
    status, _ = http(service_url(demo, "backend", 5058, "/api/strategies"))
    assert status == 200


def test_after_the_rotation_the_worker_processes_a_job(demo, rotated):
    settled(demo, "worker")
    job = job_done(demo, post_backtest(demo, "after the rotation"))
    assert job["status"] == "done"


def test_after_the_rotation_the_old_password_is_refused_and_the_new_one_accepted(demo, rotated):
    assert not tcp_login(demo, OLD_DB_PASSWORD)
    assert tcp_login(demo, rotated["new"])


# -- backups: a drill, then losing the database's claim (run last) ------------------------


def run_job_from(project: DemoProject, cron_job: str, job: str) -> str:
    """``kubectl create job JOB --from=cronjob/CRON_JOB``, waited for; its logs."""
    project.kubectl("create", "job", job, f"--from=cronjob/{cron_job}")
    project.kubectl("wait", "--for=condition=complete", f"job/{job}", "--timeout=300s", timeout=320)
    return project.kubectl("logs", f"job/{job}", "--all-containers").stdout


@pytest.fixture(scope="module")
def backed_up(demo: DemoProject, rotated: dict[str, Any]) -> dict[str, Any]:
    """A strategy written through the API, then the backup CronJob run once."""
    created = post_backtest(demo, "survives the lost claim")
    job_done(demo, created)
    report = run_job_from(demo, "db-backup", "backup-now")
    found = re.search(r"backup written: (\S+\.dump)", report)
    assert found, report
    return {"dump": found.group(1), "strategy": created["strategy"]}


def test_the_restore_drill_restores_the_newest_offsite_dump_and_reports_it(demo, backed_up):
    report = run_job_from(demo, "db-restore-drill", "drill-now")
    found = re.search(
        r"backup ok: restore drill of (\S+): schema version (\d+), .* (\d+) strategies", report
    )
    assert found, report
    assert found.group(1) == backed_up["dump"]
    assert int(found.group(3)) >= 1
    # The live database was not touched: the drill ran in its own scratch server.
    assert DRILL_SCRATCH not in psql(
        demo, "db-0", "SELECT string_agg(datname, ',') FROM pg_database"
    )


def backup_reader(project: DemoProject) -> dict[str, Any]:
    """A pod of the db image mounting the backup claim read-only, to read dumps from."""
    template = project.json("statefulset", "db")["spec"]["template"]
    spec = template["spec"]
    postgres = next(c for c in spec["containers"] if c["name"] == "postgres")
    spec["containers"] = [
        {
            "name": "reader",
            "image": postgres["image"],
            "command": ["sleep", "3600"],
            "securityContext": postgres["securityContext"],
            "volumeMounts": [{"name": "backups", "mountPath": "/backups", "readOnly": True}],
        }
    ]
    spec["volumes"] = [
        {"name": "backups", "persistentVolumeClaim": {"claimName": "db-backups", "readOnly": True}}
    ]
    for key in ("hostname", "subdomain", "initContainers"):
        spec.pop(key, None)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "backup-reader",
            "labels": {"app.kubernetes.io/name": "backup-reader"},
        },
        "spec": spec,
    }


def test_after_losing_the_db_claim_the_runbook_restore_brings_the_row_back(demo, backed_up):
    project = demo
    old_claim = project.json("pvc", "data-db-0")["metadata"]["uid"]
    # Lose the database's volume: the pod stopped (a claim in use is not deleted until
    # its pod goes), the claim deleted, the StatefulSet back at one: db-0 starts on a new,
    # empty claim and initialises an empty cluster with the Secret's (rotated) passwords.
    project.kubectl("scale", "statefulset/db", "--replicas=0")
    project.kubectl("wait", "--for=delete", "pod/db-0", "--timeout=180s", timeout=200)
    project.kubectl("delete", "pvc", "data-db-0", "--wait=true", timeout=180)
    project.kubectl("scale", "statefulset/db", "--replicas=1")
    project.kubectl("wait", "--for=condition=Ready", "pod/db-0", "--timeout=300s", timeout=320)
    assert project.json("pvc", "data-db-0")["metadata"]["uid"] != old_claim
    assert psql(project, "db-0", "SELECT to_regclass('public.strategies') IS NULL") == "t"

    # The runbook's restore (docs/deploy-runbook.md, "Restoring the database"): the dump
    # from the backup claim into db-0, then peripheral-restore as the app role.
    project.kubectl("apply", "-f", "-", input=yaml.safe_dump(backup_reader(project)))
    project.kubectl(
        "wait", "--for=condition=Ready", "pod/backup-reader", "--timeout=180s", timeout=200
    )
    dump = backed_up["dump"]
    ns = ("-n", project.namespace)
    reader = subprocess.Popen(
        project.cluster.kubectl_argv(*ns, "exec", "backup-reader", "--", "cat", f"/backups/{dump}"),
        stdout=subprocess.PIPE,
    )
    writer = subprocess.run(
        project.cluster.kubectl_argv(
            *ns, "exec", "-i", "db-0", "-c", "postgres", "--", "sh", "-c", f"cat > /tmp/{dump}"
        ),
        stdin=reader.stdout,
        timeout=120,
        check=False,
    )
    assert reader.wait(timeout=60) == 0 and writer.returncode == 0
    restored = project.kubectl(
        "exec", "db-0", "-c", "postgres", "--",
        "env", f"PGUSER={DB_USER}", f"PGDATABASE={DATABASE}", "peripheral-restore", f"/tmp/{dump}",
        check=False, timeout=300,
    )  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    project.kubectl("delete", "pod", "backup-reader", "--wait=false")

    names = psql(project, "db-0", "SELECT string_agg(name, ',') FROM strategies")
    assert "survives the lost claim" in names.split(",")
    url = service_url(
        project, "backend", 5058, f"/api/strategies/{backed_up['strategy']['id']}/jobs"
    )

    # The backend may still be restarting from the database's outage (its probes failed
    # while db-0 was gone): the runbook's "the backend reconnects" is waited for, bounded.
    def served() -> tuple[int, Any] | None:
        try:
            return http(url)
        except urllib.error.URLError:  # refused, or a 5xx while it restarts
            return None

    status, body = wait_for(served, "the backend to answer after the database's outage", 180, 2)
    assert status == 200 and body["jobs"][0]["status"] == "done"
