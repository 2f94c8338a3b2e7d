"""The schema check before a deploy or rollback: which migrations the code it moves to
carries (image labels, read from the registry: no pull), which the cluster's database has
applied (read-only, through a short Job), the difference, and a refusal across contract
migrations unless forced.

The database is read by ``READ_JOB``, built from the live database StatefulSet: its image
(it has ``psql``), its placement, pull secrets and security context, and its credentials
as ``secretKeyRef``s (the values never leave the cluster). The session is read-only
(``default_transaction_read_only``). It runs through the migration Job machinery
(``periph_env.deploy.migrate``: delete the old Job, apply, wait saying why it waits); its
pods carry the migration Job's name label, the one the database's NetworkPolicy admits.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from periph_env.common import migration_kinds as kinds
from periph_env.common.db_wait import wait_for_database
from periph_env.deploy import schema
from periph_env.deploy import verdict as v
from periph_env.deploy.events import Event, Note, Step
from periph_env.deploy.kube import Kube
from periph_env.deploy.manifests import Obj
from periph_env.deploy.migrate import job_logs, run_migration
from periph_env.errors import PeriphError

READ_JOB = "backend-schema-read"
READ_TIMEOUT = 180.0  # seconds: pull (the db image is on the node already), start, one query
MIGRATE_NAME = "backend-migrate"  # the label value the database's NetworkPolicy admits
DB_KEYS = ("DB_USER", "DB_PASSWORD", "POSTGRES_DB")
END = "periph-schema-end"
ROW = re.compile(r"periph-schema (\d+) (\S+)")
# The wait first: a new pod's connections can be dropped until the NetworkPolicy enforcer
# knows its address (``periph_env.common.db_wait``; one CI run's read failed so). Two
# queries so a database never migrated (no table) answers "nothing applied", not an
# error; the end marker tells a complete answer from a cut log.
SCRIPT = (
    "set -e; " + wait_for_database(60) + "; "
    "t=$(psql -XAtqc \"SELECT to_regclass('public.schema_migrations') IS NOT NULL\"); "
    'if [ "$t" = t ]; then psql -XAtqc '
    "\"SELECT 'periph-schema ' || lpad(version::text, 4, '0') || ' ' || name "
    'FROM schema_migrations ORDER BY version"; fi; '
    f"echo {END}"
)


@dataclass(frozen=True)
class Check:
    """The schema check's verdict: go ahead (``ok``) or refuse with ``message``/``hint``;
    ``record`` is what the history record keeps."""

    ok: bool
    message: str = ""
    hint: str = ""
    record: dict[str, Any] = field(default_factory=dict)
    # a deploy's: contract migrations a rollback to what runs now would cross afterwards
    back_contract: list[str] = field(default_factory=list)


# -- images --------------------------------------------------------------------------


def split_reference(reference: str) -> tuple[str, str]:
    """``host/repo@sha256:…`` or ``host/repo:tag`` -> (repository, digest or tag)."""
    if "@" in reference:
        repo, digest = reference.split("@", 1)
        return repo, digest
    last = reference.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = reference.rsplit(":", 1)
        return repo, tag
    return reference, "latest"


def image_labels(reference: str, clients: dict[str, Any]) -> dict[str, Any]:
    """The config labels of ``reference``, from its registry (manifest, then config blob;
    an index's first image). ``PeriphError`` when the registry cannot say."""
    from periph_env.deploy import registry
    from periph_env.errors import EngineError
    from periph_env.images.credentials import registry_host

    repo, ref = split_reference(reference)
    host = registry_host(repo)
    client = clients.get(host)
    if client is None:
        client = clients[host] = registry.client(host)
    manifest = client.manifest(repo, ref)
    if manifest is None:
        raise EngineError(f"{reference}: not in the registry")
    digest = manifest.config_digest()
    if digest is None:  # an image index: its images share the labels; the first one's
        entries = manifest.json().get("manifests") or []
        first = entries[0].get("digest") if entries and isinstance(entries[0], dict) else None
        manifest = client.manifest(repo, first) if isinstance(first, str) else None
        digest = manifest.config_digest() if manifest is not None else None
        if digest is None:
            raise EngineError(f"{reference}: the registry names no image config for it")
    labels = (client.config_blob(repo, digest).get("config") or {}).get("Labels")
    return labels if isinstance(labels, dict) else {}


def combined(found: list[schema.Carried]) -> schema.Carried | None:
    """What every labelled image of a release carries (a migration one of them lacks is
    one that image's code does not know)."""
    if not found:
        return None
    versions = frozenset.intersection(*(c.versions for c in found))
    return schema.Carried(versions, frozenset().union(*(c.contract for c in found)))


def deployment_images(kube: Kube, names: list[str], moves: dict[str, int]) -> list[str]:
    """The images ``names`` run once each Deployment in ``moves`` is back at that revision
    (the others as they are now)."""
    replica_sets = kube.list("ReplicaSet") if moves else []
    out: list[str] = []
    for dep in kube.list("Deployment"):
        name = dep["metadata"]["name"]
        if name not in names:
            continue
        template = dep["spec"]["template"]
        if name in moves:
            uid = dep["metadata"].get("uid")
            for rs in replica_sets:
                owners = rs["metadata"].get("ownerReferences") or []
                if any(o.get("uid") == uid for o in owners) and v.revision(rs) == moves[name]:
                    template = rs["spec"]["template"]
        out += [c.get("image", "") for c in template.get("spec", {}).get("containers") or []]
    return out


def rendered_images(objs: list[Obj]) -> list[str]:
    """The images the rendered Deployments of a deploy run."""
    return [
        c.get("image", "")
        for o in objs
        if o.get("kind") == "Deployment"
        for c in o.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []
    ]


# -- the database --------------------------------------------------------------------


def database(kube: Kube) -> Obj | None:
    """The database StatefulSet (component ``database``, else the one named ``db``)."""
    labelled = kube.list("StatefulSet", "app.kubernetes.io/component=database")
    return labelled[0] if labelled else kube.get("StatefulSet", "db")


def read_job(db: Obj, namespace: str) -> Obj:
    """The read-only Job reading ``schema_migrations`` with ``db``'s image and Secret."""
    spec = db["spec"]["template"]["spec"]
    container = spec["containers"][0]
    env = [e for e in container.get("env") or [] if e.get("name") in DB_KEYS]
    env += [
        {"name": "PGHOST", "value": db["spec"].get("serviceName") or db["metadata"]["name"]},
        {"name": "PGUSER", "value": "$(DB_USER)"},
        {"name": "PGPASSWORD", "value": "$(DB_PASSWORD)"},
        {"name": "PGDATABASE", "value": "$(POSTGRES_DB)"},
        {"name": "PGCONNECT_TIMEOUT", "value": "10"},
        # Read-only by construction: the session refuses any write.
        {"name": "PGOPTIONS", "value": "-c default_transaction_read_only=on"},
    ]
    labels = {
        "app.kubernetes.io/name": MIGRATE_NAME,
        "app.kubernetes.io/component": "migration",
        "periph.dev/purpose": "schema-read",
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "containers": [
            {
                "name": "read",
                "image": container["image"],
                "imagePullPolicy": "IfNotPresent",
                "command": ["sh", "-c", SCRIPT],
                "env": env,
                "resources": {
                    "requests": {"cpu": "50m", "memory": "32Mi"},
                    "limits": {"cpu": "250m", "memory": "64Mi"},
                },
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
    }
    # Where and as whom the database itself runs: its node, pull secrets, user.
    for key in ("nodeSelector", "tolerations", "affinity", "imagePullSecrets", "securityContext"):
        if spec.get(key):
            pod_spec[key] = spec[key]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": READ_JOB, "namespace": namespace, "labels": labels},
        "spec": {
            "backoffLimit": 1,
            "activeDeadlineSeconds": int(READ_TIMEOUT),
            "ttlSecondsAfterFinished": 600,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


def parse_rows(logs: str) -> list[str] | None:
    """The applied migrations' names from the Job's log; None when the log is cut."""
    if END not in logs:
        return None
    return [match.group(2) for match in ROW.finditer(logs)]


def read_applied(
    kube: Kube, db: Obj, sleep: Callable[[float], None] = time.sleep
) -> Generator[Event, None, list[str]]:
    """Names of the migrations the database has applied, in version order (read-only).

    ``PeriphError`` when the Job fails or its answer cannot be read.
    """
    from periph_env.errors import EngineError

    outcome = yield from run_migration(
        kube, [read_job(db, kube.namespace)], timeout=READ_TIMEOUT, sleep=sleep
    )
    if not outcome.ok:
        tail = f": {outcome.logs.splitlines()[-1]}" if outcome.logs.strip() else ""
        raise EngineError(f"{outcome.message}{tail}")
    job = kube.get("Job", READ_JOB)
    rows = parse_rows(job_logs(kube, job, lines=2000)) if job else None
    if rows is None:
        raise EngineError(f"job/{READ_JOB} finished, but its answer is not in its pod's log")
    return rows


# -- the check -----------------------------------------------------------------------


def check(
    kube: Kube,
    root: Path,
    moving_to: str,
    target_images: list[str],
    current_images: list[str],
    *,
    force: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> Generator[Event, None, Check]:
    """The schema step of a deploy or rollback: say the difference; refuse across contract
    migrations (or when it cannot be told) unless ``force``."""
    yield Step("schema")
    clients: dict[str, Any] = {}
    labels: dict[str, dict[str, Any] | PeriphError] = {}
    try:
        for ref in dict.fromkeys(target_images + current_images):
            try:
                labels[ref] = image_labels(ref, clients)
            except PeriphError as exc:
                labels[ref] = exc
    finally:
        for client in clients.values():
            client.close()

    def carried_by(refs: list[str]) -> tuple[list[schema.Carried], list[str]]:
        found, errors = [], []
        for ref in dict.fromkeys(refs):
            got = labels[ref]
            if isinstance(got, PeriphError):
                errors.append(got.message)
            elif (c := schema.carried(got)) is not None:
                found.append(c)
        return found, errors

    target_found, target_errors = carried_by(target_images)
    target = combined(target_found)
    if target is None:
        if target_errors:
            why = f"{moving_to}: cannot tell which migrations its images carry: " + "; ".join(
                target_errors
            )
            return (yield from _unsure(why, force))
        yield Note(
            f"{moving_to}: no image says which migrations it carries (no "
            f"{kinds.MIGRATIONS_LABEL} label: built before periph recorded them): not checked"
        )
        return Check(True, record={"checked": False})
    db = database(kube)
    if db is None:
        yield Note(f"no database StatefulSet in {kube.namespace}: no schema to compare")
        return Check(True, record={"checked": False})
    try:
        applied = yield from read_applied(kube, db, sleep)
    except PeriphError as exc:
        why = f"cannot read what the database has applied: {exc.message}"
        return (yield from _unsure(why, force))
    current_found, _ = carried_by(current_images)
    sources: list[Any] = list(current_found)
    # A bad header in the checkout is doctor's to report; the images' labels still count.
    with contextlib.suppress(kinds.HeaderError):
        sources.append(kinds.read_folder(kinds.migrations_folder(root)))
    diff = schema.difference(applied, target, schema.kinds_from(sources))
    for line in schema.describe(diff, moving_to):
        yield Note(line)
    if diff.contract and not force:
        message, hint = schema.refusal(diff, moving_to)
        return Check(False, message, hint, diff.as_record())
    if diff.contract:
        yield Note(f"--force-schema: going ahead across {', '.join(diff.contract)}")
    # What the running code would meet if this move were undone (auto-rollback): the
    # target's own labels know best the kinds of the migrations it brings.
    back = schema.back_across(
        applied, target, combined(current_found), schema.kinds_from([target, *sources])
    )
    return Check(True, record=diff.as_record(forced=bool(diff.contract)), back_contract=back)


def _unsure(message: str, force: bool) -> Generator[Event, None, Check]:
    """Refuse when the difference cannot be told (a rollback blind to the schema is the
    failure this check exists for); ``force`` goes ahead, saying so."""
    if force:
        yield Note(f"--force-schema: {message}; going ahead unchecked")
        return Check(True, record={"checked": False, "forced": True, "why": message})
    return Check(
        False,
        message,
        "--force-schema to go ahead without the schema check",
        {"checked": False, "why": message},
    )
