"""Rollout verdicts exactly as ``kubectl rollout status`` gives them, plus pod problems.

Pure functions over API objects as plain dicts (the JSON the API server sends): objects in,
verdict out. The Deployment logic is a line-by-line copy of kubectl's
``pkg/polymorphichelpers/rollout_status.go`` (DeploymentStatusViewer.Status): a rollout is
judged only once the controller has observed the current generation; a Progressing
condition with reason ProgressDeadlineExceeded is a failure; then updated < desired, old
replicas still present, and updated-but-unavailable replicas each mean "not yet".

Two additions where kubectl's rules mislead a tool that has just changed the Deployment:
a progress-deadline condition left over from an earlier rollout (the controller keeps it
until it sees progress, so a rollback right after a failed rollout would read as failed at
once), and a crash loop, which kubectl waits out until the deadline (minutes) although the
new pods will never start.
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
# A container of the new template that has restarted this often and is backing off again
# will not come up by itself: the rollout fails now rather than at the progress deadline.
# One restart is forgiven (a dependency that was not ready yet).
CRASH_LOOP_RESTARTS = 2
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


def deadline_stamp(deployment: Obj) -> str | None:
    """When the Deployment's progress deadline was exceeded (``lastUpdateTime``), if it was."""
    cond = _condition(deployment.get("status") or {}, "Progressing")
    if cond is not None and cond.get("reason") == TIMED_OUT_REASON:
        return str(cond.get("lastUpdateTime") or cond.get("lastTransitionTime") or "")
    return None


def deployment_verdict(deployment: Obj, stale_deadline: str | None = None) -> Verdict:
    """kubectl's DeploymentStatusViewer.Status for one Deployment.

    ``stale_deadline``: a ``deadline_stamp`` seen before this rollout began; a condition
    still carrying it belongs to the earlier rollout and is not this one's verdict.
    """
    meta, spec = deployment.get("metadata", {}), deployment.get("spec", {})
    status = deployment.get("status") or {}
    name = meta.get("name", "?")
    if meta.get("generation", 0) <= status.get("observedGeneration", 0):
        stamp = deadline_stamp(deployment)
        if stamp is not None and stamp != stale_deadline:
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


@dataclass(frozen=True)
class CrashLoop:
    """A container of the Deployment's current template that keeps crashing."""

    pod: str
    container: str
    restarts: int
    exit_code: int | None
    reason: str

    def describe(self) -> str:
        """One line for the rollout verdict."""
        code = "" if self.exit_code is None else f"exit code {self.exit_code}, "
        return (
            f"pod {self.pod}: container {self.container} is crash-looping "
            f"({self.restarts} restarts; last {code}{self.reason or 'no reason given'})"
        )


def pod_spec_images(spec: Obj) -> dict[str, str]:
    """Container name -> image of a pod spec (init containers too)."""
    containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
    return {c.get("name", ""): c.get("image", "") for c in containers}


def template_images(deployment: Obj) -> dict[str, str]:
    """Container name -> image of the Deployment's pod template."""
    return pod_spec_images(deployment.get("spec", {}).get("template", {}).get("spec", {}))


def crash_loop(pod: Obj, images: dict[str, str]) -> CrashLoop | None:
    """The pod's crash loop, if one of its containers runs the template's image (``images``)
    and has restarted ``CRASH_LOOP_RESTARTS`` times and is backing off again.

    Pods of an older template (another image) are not this rollout's failure: they are
    being replaced.
    """
    running = pod_spec_images(pod.get("spec") or {})
    status = pod.get("status") or {}
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        name = cs.get("name", "")
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") != "CrashLoopBackOff":
            continue
        if cs.get("restartCount", 0) < CRASH_LOOP_RESTARTS:
            continue
        if name not in images or running.get(name) != images[name]:
            continue
        last = (cs.get("lastState") or {}).get("terminated") or {}
        return CrashLoop(
            pod=pod.get("metadata", {}).get("name", "?"),
            container=name,
            restarts=cs.get("restartCount", 0),
            exit_code=last.get("exitCode"),
            reason=last.get("reason", ""),
        )
    return None
