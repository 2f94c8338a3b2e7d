"""The registry pull Secrets the rendered pods name must exist before a deploy.

The manifests name ``imagePullSecrets`` (``peripheral-registry``): a docker-registry
Secret the maintainer creates once per namespace (docs/deploy-runbook.md). Without it
every pod of the deploy would sit in ImagePullBackOff; this guard says so before anything
changes. Only names are read: a Secret's content is never fetched.
"""

from __future__ import annotations

from collections.abc import Iterable

from periph_env.deploy.events import GuardResult
from periph_env.deploy.kube import Kube
from periph_env.deploy.manifests import Obj, pod_spec

GUARD = "pull-secrets"


def pull_secret_names(objs: Iterable[Obj]) -> dict[str, list[str]]:
    """Pull Secret name -> the ``Kind/name`` of the workloads naming it."""
    names: dict[str, list[str]] = {}
    for obj in objs:
        spec = pod_spec(obj) or {}
        for ref in spec.get("imagePullSecrets") or []:
            if ref.get("name"):
                reader = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
                names.setdefault(ref["name"], []).append(reader)
    return names


# Names only: the API server strips every Secret down to its metadata, so no Secret's
# content ever reaches periph's memory.
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


def secret_names(kube: Kube) -> set[str]:
    """The names of the namespace's Secrets (metadata only)."""
    answer = kube.rest.request(
        "GET", f"/api/v1/namespaces/{kube.namespace}/secrets", accept=METADATA_ONLY
    )
    return {
        item.get("metadata", {}).get("name", "")
        for item in answer.get("items") or []
        if isinstance(item, dict)
    }


def pull_secret_guard(kube: Kube, objs: Iterable[Obj]) -> GuardResult:
    """Refuse when a pull Secret the pods name is missing from the namespace."""
    wanted = pull_secret_names(objs)
    if not wanted:
        return GuardResult(GUARD, True, "no imagePullSecrets named")
    missing = sorted(set(wanted) - secret_names(kube))
    if missing:
        readers = "; ".join(f"{n} (named by {', '.join(sorted(wanted[n]))})" for n in missing)
        create = (
            f"kubectl -n {kube.namespace} create secret generic {missing[0]} "
            "--type=kubernetes.io/dockerconfigjson "
            "--from-file=.dockerconfigjson=<docker config with the registry's auth> "
            "(docs/deploy-runbook.md)"
        )
        # A first deploy: the Secret can only be created once the namespace exists, so
        # say which comes first (only looked up on this failing path).
        if kube.get("Namespace", kube.namespace) is None:
            return GuardResult(
                GUARD,
                False,
                f"namespace {kube.namespace} does not exist yet, so it lacks pull Secret(s) "
                f"{readers}",
                hint=(
                    "create the namespace first (kubectl apply --server-side -k "
                    f"k8s/overlays/<env>/persistent), then: {create}"
                ),
            )
        return GuardResult(
            GUARD, False, f"namespace {kube.namespace} lacks pull Secret(s) {readers}", hint=create
        )
    return GuardResult(GUARD, True, f"pull Secret(s) present: {', '.join(sorted(wanted))}")
