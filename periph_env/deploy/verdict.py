"""Rollout verdicts exactly as ``kubectl rollout status`` gives them, plus pod problems.

Pure functions over API objects as plain dicts (the JSON the API server sends): objects in,
verdict out. The Deployment logic is a line-by-line copy of kubectl's
``pkg/polymorphichelpers/rollout_status.go`` (DeploymentStatusViewer.Status): a rollout is
judged only once the controller has observed the current generation; a Progressing
condition with reason ProgressDeadlineExceeded is a failure; then updated < desired, old
replicas still present, and updated-but-unavailable replicas each mean "not yet".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TIMED_OUT_REASON = "ProgressDeadlineExceeded"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
# Container waiting reasons that mean the pod will not start without a change.
BAD_WAITING_REASONS = frozenset(
    {
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CrashLoopBackOff",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)
# Warning events worth showing next to a pod (probe failures, scheduling, pulls, back-off).
PROBLEM_EVENT_REASONS = frozenset(
    {"Unhealthy", "FailedScheduling", "Failed", "BackOff", "FailedMount", "FailedCreate"}
)

Obj = dict[str, Any]


@dataclass(frozen=True)
class Verdict:
    """``done``: rolled out; ``failed``: will not finish (progress deadline); else waiting."""

    done: bool
    failed: bool
    message: str


def _condition(status: Obj, kind: str) -> Obj | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return None


def revision(obj: Obj) -> int:
    """The ``deployment.kubernetes.io/revision`` of a Deployment or ReplicaSet (0 if none)."""
    value = (obj.get("metadata", {}).get("annotations") or {}).get(REVISION_ANNOTATION, "0")
    try:
        return int(value)
    except ValueError:
        return 0


def deployment_verdict(deployment: Obj) -> Verdict:
    """kubectl's DeploymentStatusViewer.Status for one Deployment."""
    meta, spec = deployment.get("metadata", {}), deployment.get("spec", {})
    status = deployment.get("status") or {}
    name = meta.get("name", "?")
    if meta.get("generation", 0) <= status.get("observedGeneration", 0):
        cond = _condition(status, "Progressing")
        if cond is not None and cond.get("reason") == TIMED_OUT_REASON:
            return Verdict(False, True, f'deployment "{name}" exceeded its progress deadline')
        desired = spec.get("replicas")
        updated = status.get("updatedReplicas", 0)
        if desired is not None and updated < desired:
            return Verdict(
                False,
                False,
                f'Waiting for deployment "{name}" rollout to finish: '
                f"{updated} out of {desired} new replicas have been updated...",
            )
        replicas = status.get("replicas", 0)
        if replicas > updated:
            return Verdict(
                False,
                False,
                f'Waiting for deployment "{name}" rollout to finish: '
                f"{replicas - updated} old replicas are pending termination...",
            )
        available = status.get("availableReplicas", 0)
        if available < updated:
            return Verdict(
                False,
                False,
                f'Waiting for deployment "{name}" rollout to finish: '
                f"{available} of {updated} updated replicas are available...",
            )
        return Verdict(True, False, f'deployment "{name}" successfully rolled out')
    return Verdict(False, False, "Waiting for deployment spec update to be observed...")


def counts(deployment: Obj) -> dict[str, int]:
    """desired / updated / ready / available replicas and old ones still running."""
    status = deployment.get("status") or {}
    desired = deployment.get("spec", {}).get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    return {
        "desired": desired,
        "updated": updated,
        "ready": status.get("readyReplicas", 0),
        "available": status.get("availableReplicas", 0),
        "old_replicas": max(status.get("replicas", 0) - updated, 0),
    }


def pod_problems(pod: Obj) -> list[tuple[str, str]]:
    """(reason, message) for what keeps a pod from running: bad waiting states, unschedulable."""
    status = pod.get("status") or {}
    problems: list[tuple[str, str]] = []
    scheduled = _condition(status, "PodScheduled")
    if scheduled and scheduled.get("status") == "False" and scheduled.get("reason"):
        problems.append((scheduled["reason"], scheduled.get("message", "")))
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason in BAD_WAITING_REASONS:
            problems.append((reason, f"{cs.get('name')}: {waiting.get('message', '')}".strip()))
    if status.get("phase") == "Failed":
        problems.append(("Failed", status.get("message") or status.get("reason") or "pod failed"))
    return problems


def event_problem(event: Obj) -> tuple[str, str, str] | None:
    """(pod name, reason, message) for a Warning event about a pod worth showing, else None."""
    involved = event.get("involvedObject") or event.get("regarding") or {}
    if involved.get("kind") != "Pod" or event.get("type") != "Warning":
        return None
    reason = event.get("reason", "")
    if reason not in PROBLEM_EVENT_REASONS:
        return None
    message = event.get("message") or event.get("note") or ""
    return involved.get("name", "?"), reason, message


def owning_deployment(pod: Obj, replica_sets: dict[str, str]) -> str | None:
    """The Deployment a pod belongs to, through its ReplicaSet owner (``rs name -> deploy``)."""
    for ref in pod.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("kind") == "ReplicaSet":
            return replica_sets.get(ref.get("name", ""))
    return None
