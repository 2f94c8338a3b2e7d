"""Returning Deployments to an earlier revision, as ``kubectl rollout undo`` does.

``undo`` (kubectl's own implementation: the ReplicaSet with that
``deployment.kubernetes.io/revision`` becomes the pod template) per Deployment, then the
rollout is watched like a deploy's. Every read goes through the client (``Kube.list``);
``kubectl rollout undo`` is the one process, kept because kubectl owns that logic.
"""

from __future__ import annotations

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


def undo(kube: Kube, deployment: str, to_revision: int) -> None:
    """Return ``deployment`` to ``to_revision``; UsageError when that revision is gone."""
    if to_revision not in available_revisions(kube, deployment):
        raise UsageError(
            f"deployment {deployment} has no revision {to_revision} any more",
            hint="revisionHistoryLimit keeps only the newest ReplicaSets; see periph history",
        )
    kube.run("rollout", "undo", f"deployment/{deployment}", f"--to-revision={to_revision}")


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
