"""Returning Deployments to an earlier revision, as ``kubectl rollout undo`` does.

``undo`` (kubectl's rules, done here: the ReplicaSet with that
``deployment.kubernetes.io/revision`` becomes the pod template) per Deployment, then the
rollout is watched like a deploy's. Everything goes through the client: no process.

StatefulSets (db, cache) are never rolled back by periph itself (``--auto-rollback``):
``stateful_changed`` finds those a failed deploy changed and ``stateful_refusal`` says so in
the ending. Two reasons: a database's files may already have been touched by the new
version (an upgraded extension, a new major version's data directory), which the old one
cannot read; and a StatefulSet stuck on a pod that never became Ready does not recover by
a template change alone (Kubernetes' "forced rollback": the stuck pod must be deleted,
which restarts the database). Both are decisions for a person (docs/deploy-runbook.md).
"""

from __future__ import annotations

import copy

from periph_env.deploy import verdict as v
from periph_env.deploy.kube import Kube
from periph_env.errors import UsageError


def revisions(kube: Kube, names: list[str] | None = None) -> dict[str, int]:
    """Current revision of each Deployment (all in the namespace when ``names`` is None)."""
    deployments = kube.list("Deployment")
    return {
        d["metadata"]["name"]: v.revision(d)
        for d in deployments
        if names is None or d["metadata"]["name"] in names
    }


def _deployment(kube: Kube, name: str) -> dict:
    dep = kube.get("Deployment", name)
    if dep is None:
        raise UsageError(f"deployment {name} does not exist in {kube.namespace}")
    return dep


def available_revisions(kube: Kube, deployment: str) -> list[int]:
    """Revisions a Deployment can return to (its ReplicaSets still kept), oldest first."""
    dep = _deployment(kube, deployment)
    uid = dep["metadata"]["uid"]
    found = []
    for rs in kube.list("ReplicaSet"):
        owners = rs["metadata"].get("ownerReferences") or []
        if any(o.get("uid") == uid for o in owners):
            found.append(v.revision(rs))
    return sorted(r for r in found if r)


def previous_revision(kube: Kube, deployment: str) -> int | None:
    """The revision before the current one, if its ReplicaSet is still kept."""
    current = v.revision(_deployment(kube, deployment))
    older = [r for r in available_revisions(kube, deployment) if r < current]
    return older[-1] if older else None


# Annotations of a ReplicaSet that are the controller's bookkeeping, not the template's
# (kubectl's annotationsToSkip): never copied back onto the Deployment.
SKIPPED_ANNOTATIONS = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        "deployment.kubernetes.io/revision",
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)
ROLLBACK_MANAGER = "periph-rollback"  # the field manager a deploy then takes over from


def undo(kube: Kube, deployment: str, to_revision: int) -> None:
    """Return ``deployment`` to ``to_revision`` as ``kubectl rollout undo`` does (that
    ReplicaSet's pod template and annotations, one JSON patch), through the client as field
    manager ``periph-rollback``; UsageError when that revision is gone."""
    dep = _deployment(kube, deployment)
    uid = dep["metadata"]["uid"]
    kept = [
        rs
        for rs in kube.list("ReplicaSet")
        if any(o.get("uid") == uid for o in rs["metadata"].get("ownerReferences") or [])
        and v.revision(rs) == to_revision
    ]
    if not kept:
        raise UsageError(
            f"deployment {deployment} has no revision {to_revision} any more",
            hint="revisionHistoryLimit keeps only the newest ReplicaSets; see periph history",
        )
    template = copy.deepcopy(kept[0]["spec"]["template"])
    (template.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
    annotations = dict(dep["metadata"].get("annotations") or {})
    for key, value in (kept[0]["metadata"].get("annotations") or {}).items():
        if key not in SKIPPED_ANNOTATIONS:
            annotations[key] = value
    patch = [
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "add", "path": "/metadata/annotations", "value": annotations},  # add: may be unset
    ]
    kube.rest.request(
        "PATCH",
        kube.rest.path("apps/v1", "Deployment", deployment),
        {"fieldManager": ROLLBACK_MANAGER},
        patch,
        "application/json-patch+json",
    )


def template_hashes(kube: Kube, names: list[str]) -> dict[str, str]:
    """Each Deployment's current pod-template-hash (its current ReplicaSet's)."""
    deployments = {d["metadata"]["name"]: d for d in kube.list("Deployment")}
    out: dict[str, str] = {}
    for rs in kube.list("ReplicaSet"):
        owners = [o.get("name") for o in rs["metadata"].get("ownerReferences") or []]
        for name in names:
            dep = deployments.get(name)
            if dep and name in owners and v.revision(rs) == v.revision(dep):
                out[name] = (rs["metadata"].get("labels") or {}).get("pod-template-hash", "")
    return out


def revision_of_template(kube: Kube, deployment: str, template_hash: str) -> int | None:
    """The revision a Deployment's ReplicaSet with ``template_hash`` has now, if kept."""
    for rs in kube.list("ReplicaSet", f"pod-template-hash={template_hash}"):
        owners = [o.get("name") for o in rs["metadata"].get("ownerReferences") or []]
        if deployment in owners:
            return v.revision(rs)
    return None


def generations(kube: Kube, kind: str, names: list[str]) -> dict[str, int]:
    """``metadata.generation`` of each named object of ``kind`` that exists now (a spec
    change, the template's among them, raises it)."""
    if not names:
        return {}
    return {
        o["metadata"]["name"]: int(o["metadata"].get("generation") or 0)
        for o in kube.list(kind)
        if o["metadata"]["name"] in names
    }


def stateful_changed(kube: Kube, before: dict[str, int]) -> list[str]:
    """The StatefulSets of ``before`` (their generations before a deploy) whose spec the
    deploy changed; created ones are not in ``before`` and are left out (nothing earlier)."""
    now = generations(kube, "StatefulSet", list(before))
    return sorted(name for name, gen in before.items() if now.get(name, gen) != gen)


def stateful_refusal(names: list[str], namespace: str) -> str:
    """What an auto-rollback says about the StatefulSets it leaves as the deploy made them."""
    which = ", ".join(f"statefulset/{n}" for n in names)
    undo = ", ".join(f"`kubectl -n {namespace} rollout undo statefulset/{n}`" for n in names)
    return (
        f"{which} left as this deploy made {'them' if len(names) > 1 else 'it'}: periph does "
        f"not roll a StatefulSet back by itself (its data may not suit the older version; a "
        f"stuck pod must be deleted): {undo} by hand, see docs/deploy-runbook.md"
    )
