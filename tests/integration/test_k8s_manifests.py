"""The k8s/ overlays against a real API server (kwok test cluster).

Both overlays render, every object passes strict server-side validation, the namespace
and claims (overlays/<env>/persistent, with Pod Security `restricted` enforced) and then
the overlay apply server-side and every Deployment and StatefulSet completes its rollout;
the migration Job and a run of the backup CronJob complete; the HPAs exist and own the
replica counts, so a second apply keeps what the HPA scaled to. kwok plays the kubelets
(pods become Ready through its stages), everything else is the real control plane (the
controller manager's HPA controller included). Each environment's namespace and volumes
are removed afterwards.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from periph_env.testenv import kube
from tests.unit.k8s.manifests import (
    ENVIRONMENTS,
    SECRET_NAME,
    Doc,
    by_kind,
    migrate_dir,
    one,
    overlay_dir,
    persistent_dir,
    render,
)

pytestmark = pytest.mark.k8s

Kubectl = Callable[..., Any]
ROLLOUT_TIMEOUT = "150s"
# Server-side apply without persisting, with unknown or duplicate fields as errors.
STRICT_DRY_RUN = ("apply", "--server-side", "--dry-run=server", "--validate=strict", "-f", "-")
# Test-only stand-ins for what periph puts into the Secret at deploy time.
SECRET_LITERALS = {
    "DB_USER": "peripheral",
    "DB_PASSWORD": "test-only-db-password",
    "POSTGRES_DB": "peripheral",
    "JWT_SECRET": "test-only-jwt-secret",
    "REDIS_PASSWORD": "test-only-redis-password",
}


@dataclass(frozen=True)
class Environment:
    """One overlay rendered for one namespace of the test cluster."""

    name: str
    namespace: str
    docs: list[Doc]
    persistent: list[Doc]
    kubectl: Kubectl
    kubectl_path: str

    def get(self, resource: str) -> Doc:
        """``kubectl get RESOURCE -o json`` in this namespace, field ownership included."""
        result = self.kubectl(
            "get", resource, "-n", self.namespace, "-o", "json", "--show-managed-fields"
        )
        return json.loads(result.stdout)

    def apply_overlay(self) -> None:
        """Server-side apply of the overlay as periph's deploy engine does it."""
        self.kubectl(
            "apply",
            "--server-side",
            "--field-manager=periph",
            "--force-conflicts",
            "-k",
            str(overlay_dir(self.name)),
        )

    def wait(self, condition: str, *objects: str) -> None:
        """``kubectl wait --for=CONDITION OBJECT...`` in this namespace; fails on timeout."""
        self.kubectl(
            "wait",
            f"--for={condition}",
            *objects,
            "-n",
            self.namespace,
            "--timeout=120s",
            timeout=150,
        )


def _resource(doc: Doc) -> str:
    """How kubectl names an object in its output: ``deployment.apps/backend``."""
    group = doc["apiVersion"].rpartition("/")[0]
    kind = doc["kind"].lower()
    return (
        f"{kind}.{group}/{doc['metadata']['name']}"
        if group
        else f"{kind}/{doc['metadata']['name']}"
    )


def _claims(docs: list[Doc]) -> dict[str, str]:
    """Every claim the overlay creates, with its size: plain PVCs and StatefulSet templates."""
    claims = {
        name: pvc["spec"]["resources"]["requests"]["storage"]
        for name, pvc in by_kind(docs, "PersistentVolumeClaim").items()
    }
    for name, sts in by_kind(docs, "StatefulSet").items():
        for template in sts["spec"].get("volumeClaimTemplates", []):
            for ordinal in range(sts["spec"].get("replicas", 1)):
                claim = f"{template['metadata']['name']}-{name}-{ordinal}"
                claims[claim] = template["spec"]["resources"]["requests"]["storage"]
    return claims


def _volumes(namespace: str, claims: dict[str, str]) -> list[Doc]:
    """PersistentVolumes pre-bound to the claims: the test cluster has no provisioner."""
    return [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": f"{namespace}-{claim}", "labels": {"periph.dev/test": namespace}},
            "spec": {
                "capacity": {"storage": size},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "hostPath": {"path": f"/tmp/{namespace}/{claim}"},
                "claimRef": {"namespace": namespace, "name": claim},
            },
        }
        for claim, size in claims.items()
    ]


def _remove(kubectl: Kubectl, namespace: str) -> None:
    kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=true", timeout=240)
    kubectl("delete", "pv", "-l", f"periph.dev/test={namespace}", "--ignore-not-found")


@pytest.fixture(scope="module", params=sorted(ENVIRONMENTS))
def environment(
    request: pytest.FixtureRequest, kube_cluster: kube.ClusterInfo
) -> Iterator[Environment]:
    """The environment's namespace and claims (its `persistent` kustomization), the Secret
    periph would create, and volumes for every claim."""
    name = request.param
    namespace = ENVIRONMENTS[name]["namespace"]
    kubectl_path = str(kube_cluster.bin_dir / "kubectl")
    docs = render(overlay_dir(name), kubectl=kubectl_path)
    persistent = render(persistent_dir(name), kubectl=kubectl_path)
    kubectl = kube_cluster.kubectl
    _remove(kubectl, namespace)  # leftovers of an interrupted run
    volumes = _volumes(namespace, _claims(persistent + docs))
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all(volumes))
    kubectl("apply", "--server-side", "--field-manager=periph", "-k", str(persistent_dir(name)))
    kubectl("wait", "--for=create", "serviceaccount/default", "-n", namespace, "--timeout=60s")
    literals = [f"--from-literal={key}={value}" for key, value in SECRET_LITERALS.items()]
    kubectl("create", "secret", "generic", SECRET_NAME, "-n", namespace, *literals)
    try:
        yield Environment(name, namespace, docs, persistent, kubectl, kubectl_path)
    finally:
        _remove(kubectl, namespace)


@pytest.fixture(scope="module")
def applied(environment: Environment) -> Environment:
    """The overlay applied server-side, as periph deploys it."""
    environment.apply_overlay()
    return environment


def test_every_rendered_object_passes_strict_server_side_validation(
    environment: Environment,
) -> None:
    docs = environment.persistent + environment.docs
    result = environment.kubectl(*STRICT_DRY_RUN, input=yaml.safe_dump_all(docs))
    accepted = {
        line.split()[0] for line in result.stdout.splitlines() if line.endswith("(server dry run)")
    }
    assert accepted == {_resource(doc) for doc in docs}


def test_a_broken_object_is_rejected_with_its_name(
    kube_cluster: kube.ClusterInfo, k8s_namespace: str
) -> None:
    backend = copy.deepcopy(one(render(overlay_dir("demo")), "Deployment", "backend"))
    backend["metadata"].update(name="broken-backend", namespace=k8s_namespace)
    backend["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["prot"] = 1
    result = kube_cluster.kubectl(
        *STRICT_DRY_RUN,
        input=yaml.safe_dump(backend),
        check=False,
    )
    assert result.returncode != 0
    assert f"{k8s_namespace}/broken-backend" in result.stderr
    assert "httpGet.prot" in result.stderr


def test_every_deployment_and_statefulset_completes_its_rollout(applied: Environment) -> None:
    rolled = []
    for kind in ("Deployment", "StatefulSet"):
        for name in by_kind(applied.docs, kind):
            applied.kubectl(
                "rollout",
                "status",
                f"{kind.lower()}/{name}",
                "-n",
                applied.namespace,
                f"--timeout={ROLLOUT_TIMEOUT}",
                timeout=200,
            )
            rolled.append(f"{kind}/{name}")
    assert sorted(rolled) == [
        "Deployment/backend",
        "Deployment/frontend",
        "Deployment/worker",
        "StatefulSet/cache",
        "StatefulSet/db",
    ]


def test_postgres_redis_and_backup_claims_are_bound(applied: Environment) -> None:
    applied.wait(
        "jsonpath={.status.phase}=Bound",
        "pvc/data-db-0",
        "pvc/data-cache-0",
        "pvc/db-backups",
        "pvc/db-backups-offsite",
    )


def test_migration_job_is_accepted_and_completes(applied: Environment) -> None:
    applied.kubectl(
        "apply", "--server-side", "--field-manager=periph", "-k", str(migrate_dir(applied.name))
    )
    applied.wait("condition=complete", "job/backend-migrate")


def test_a_run_of_the_backup_cronjob_completes(applied: Environment) -> None:
    applied.kubectl(
        "create", "job", "db-backup-now", "--from=cronjob/db-backup", "-n", applied.namespace
    )
    applied.wait("condition=complete", "job/db-backup-now")


def test_hpas_exist_for_backend_and_worker(applied: Environment) -> None:
    result = applied.kubectl("get", "hpa", "-n", applied.namespace, "-o", "json")
    targets = {
        item["metadata"]["name"]: item["spec"]["scaleTargetRef"]["name"]
        for item in json.loads(result.stdout)["items"]
    }
    assert targets == {"backend": "backend", "worker": "worker"}


def _owners_of_replicas(deployment: Doc) -> dict[str, str]:
    """Field manager -> subresource ("" for the object) for each owner of spec.replicas."""
    return {
        entry["manager"]: entry.get("subresource", "")
        for entry in deployment["metadata"]["managedFields"]
        if "f:replicas" in entry.get("fieldsV1", {}).get("f:spec", {})
    }


def test_a_second_apply_keeps_the_replica_count_the_hpa_scaled_to(applied: Environment) -> None:
    floor = one(applied.docs, "HorizontalPodAutoscaler", "backend")["spec"]["minReplicas"]
    # The manifest sets no replicas, so the Deployment starts at 1 and the real HPA
    # controller raises it to the HPA's floor, through the scale subresource.
    applied.wait(f"jsonpath={{.spec.replicas}}={floor}", "deployment/backend")
    # Under load the HPA scales further, again through the scale subresource.
    scaled = floor + 2
    applied.kubectl("scale", "deployment/backend", f"--replicas={scaled}", "-n", applied.namespace)
    applied.apply_overlay()
    deployment = applied.get("deployment/backend")
    owners = _owners_of_replicas(deployment)
    assert deployment["spec"]["replicas"] == scaled
    assert "periph" not in owners
    # Nobody owns spec.replicas through the Deployment object itself: only the scale
    # subresource (the HPA's path) ever writes it, so no apply re-asserts a count.
    assert [manager for manager, sub in owners.items() if sub != "scale"] == []
