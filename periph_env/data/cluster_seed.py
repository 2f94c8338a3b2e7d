"""``periph db seed --env demo``: the dev seed (``services/db/seed/``) loaded into an
environment's in-cluster database by a Job, never from this machine.

Why a Job: the database is reachable only inside the cluster (its NetworkPolicy admits
the app, the migration, the backup and ``db-seed`` pods), and the credentials stay
there: the Job's psql gets them from the environment's Secret through ``secretKeyRef``,
periph never reads them. The Job runs the db image the cluster runs (its psql matches
the server) with the db pod's placement and pull credentials, so it lands wherever the
db could. The seed files travel in a ConfigMap.

Refused for production, always (exit 2): the seed is sample data. In the cluster the
Job refuses a database that already has strategies or has no schema yet (the same rules
as the local ``periph db seed``); the files load in one transaction, so a failure
changes nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from periph_env.common.db_wait import wait_for_database
from periph_env.errors import PeriphError, UsageError

NAME = "db-seed"  # the Job, its ConfigMap and its pods' app.kubernetes.io/name
DEFAULT_SECRET = "peripheral-env"
SEED_MOUNT = "/seed"
DEADLINE_SECONDS = 300
# The db pod spec fields that decide where a pod may run and how it pulls its image.
PLACEMENT = (
    "imagePullSecrets",
    "nodeSelector",
    "tolerations",
    "affinity",
    "securityContext",
    "priorityClassName",
)

# The database may not answer this new pod at once (``periph_env.common.db_wait``).
SCRIPT = (
    "set -eu\n"
    + wait_for_database(120)
    + """
state=$(psql -X -At -v ON_ERROR_STOP=1 -c "SELECT CASE
  WHEN to_regclass('public.strategies') IS NULL THEN 'none'
  WHEN EXISTS (SELECT 1 FROM strategies) THEN 'rows' ELSE 'empty' END")
case "$state" in
  none) echo "refused: the database has no schema yet (deploy first: it migrates)" >&2
        exit 3 ;;
  rows) echo "refused: the database already has strategies; the seed loads into an empty one" >&2
        exit 3 ;;
esac
set --
for f in __MOUNT__/*.sql; do set -- "$@" -f "$f"; done
psql -X -q -v ON_ERROR_STOP=1 --single-transaction "$@"
psql -X -At -v ON_ERROR_STOP=1 -c "SELECT 'seeded: ' || (SELECT count(*) FROM strategies)
  || ' strategies, ' || (SELECT count(*) FROM jobs) || ' jobs, '
  || (SELECT count(*) FROM job_results) || ' job_results'"
""".replace("__MOUNT__", SEED_MOUNT)
)


class NoDatabase(PeriphError):
    """The environment has no db StatefulSet to seed (nothing deployed yet)."""


@dataclass(frozen=True)
class ClusterSeedResult:
    """How the Job ended and the last lines of its log (masked)."""

    ok: bool
    message: str
    logs: str


def refuse_production(environment: str, is_production: bool) -> None:
    """Exit 2 for prod (by name, or any environment configured as production)."""
    if environment == "prod" or is_production:
        raise UsageError(
            f"`periph db seed --env {environment}` is refused, always: the seed is sample "
            f"data and {environment} is a production environment holding real data",
            hint="seed demo (`periph db seed --env demo`) or the dev stack (`periph db seed`)",
        )


def _secret_name(container: dict[str, Any]) -> str:
    """The Secret the db container reads ``DB_PASSWORD`` from (the app role's)."""
    for entry in container.get("env") or []:
        ref = (entry.get("valueFrom") or {}).get("secretKeyRef") or {}
        if entry.get("name") == "DB_PASSWORD" and ref.get("name"):
            return str(ref["name"])
    return DEFAULT_SECRET


def _secret_env(secret: str) -> list[dict[str, Any]]:
    def ref(name: str, key: str) -> dict[str, Any]:
        return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}

    return [
        {"name": "PGHOST", "value": "db"},
        {"name": "PGPORT", "value": "5432"},
        ref("PGUSER", "DB_USER"),  # the app role: the migration made it the tables' owner
        ref("PGPASSWORD", "DB_PASSWORD"),
        ref("PGDATABASE", "POSTGRES_DB"),
    ]


def seed_objects(db_statefulset: dict[str, Any], files: dict[str, str]) -> list[dict[str, Any]]:
    """The ConfigMap (the seed files) and the Job that loads them, built from the running
    db StatefulSet (image, placement, pull credentials, Secret name)."""
    template = ((db_statefulset.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = template.get("containers") or []
    named = [c for c in containers if c.get("name") in ("postgres", "db")]
    db = (named or containers or [{}])[0]
    if not db.get("image"):
        raise NoDatabase("the db StatefulSet has no container image to run psql from")
    labels = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/component": "seed"}
    pod_spec: dict[str, Any] = {
        key: copy.deepcopy(template[key]) for key in PLACEMENT if key in template
    }
    pod_spec.update(
        restartPolicy="Never",
        automountServiceAccountToken=False,
        containers=[
            {
                "name": "seed",
                "image": db["image"],
                "imagePullPolicy": "IfNotPresent",
                "command": ["sh", "-c", SCRIPT],
                "env": _secret_env(_secret_name(db)),
                "resources": {
                    "requests": {"cpu": "50m", "memory": "64Mi"},
                    "limits": {"cpu": "500m", "memory": "256Mi"},
                },
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                },
                "volumeMounts": [{"name": "seed", "mountPath": SEED_MOUNT, "readOnly": True}],
            }
        ],
        volumes=[{"name": "seed", "configMap": {"name": NAME}}],
    )
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": NAME, "labels": labels},
        "data": dict(files),
    }
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": NAME, "labels": labels},
        "spec": {
            "backoffLimit": 0,  # one transaction: a retry would fail the same way
            "activeDeadlineSeconds": DEADLINE_SECONDS,
            "ttlSecondsAfterFinished": 3600,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }
    return [configmap, job]


def seed_files(root: Path) -> dict[str, str]:
    """``services/db/seed/*.sql`` by file name (a UsageError when there are none)."""
    from periph_env.data.seed import seed_files as files

    found = files(root)
    if not found:
        raise UsageError(f"no seed files in {root / 'services' / 'db' / 'seed'}")
    return {p.name: p.read_text() for p in found}


def seed_environment(
    root: Path, environment: str, note: Callable[[str], None] = lambda _line: None
) -> ClusterSeedResult:
    """Load the seed into ``environment``'s database through the ``db-seed`` Job and
    wait; ``note`` hears what the wait has to say (a pod pending and why, an outage)."""
    from periph_env.deploy.migrate import job_logs, run_migration
    from periph_env.deploy.session import kube_for
    from periph_env.deploy.target import resolve

    if environment == "prod":
        refuse_production(environment, True)  # before reading any configuration
    target = resolve(root, environment)
    refuse_production(environment, target.is_production)
    files = seed_files(root)
    note(f"seeding {environment}'s database (namespace {target.namespace}) with job/{NAME}")
    kube = kube_for(target)
    statefulset = kube.get("StatefulSet", "db")
    if statefulset is None:
        raise NoDatabase(
            f"no db StatefulSet in namespace {target.namespace} ({environment})",
            hint=f"deploy first: `periph deploy {environment}`",
        )
    runs = run_migration(kube, seed_objects(statefulset, files))
    while True:
        try:
            event = next(runs)
        except StopIteration as stop:
            outcome = stop.value
            break
        note(getattr(event, "text", "") or str(event))
    if outcome.logs:
        logs = outcome.logs
    else:
        job = kube.get("Job", NAME)
        logs = job_logs(kube, job, lines=10) if job else "(no logs)"
    return ClusterSeedResult(outcome.ok, outcome.message, logs)
