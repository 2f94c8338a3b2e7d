"""Verdicts for what a deploy changes besides Deployments: StatefulSets, Jobs, the claims
its workloads need, and HPA floors.

Pure functions over API objects as plain dicts, like ``verdict``. The StatefulSet rules are
kubectl's (``pkg/polymorphichelpers/rollout_status.go``, StatefulSetStatusViewer.Status):
the controller must have observed the generation; then every replica must be Ready; a
RollingUpdate with a partition is done once the pods at or above the partition run the new
revision; without one, once the current revision is the update revision. kubectl refuses an
OnDelete StatefulSet ("rollout status is only available for RollingUpdate"): the controller
replaces its pods only when someone deletes them, so a deploy waits for what the
controller does do (every replica Ready) and says that the old pods stay.

A claim a workload needs and that is not Bound keeps its pod Pending forever, with no
progress deadline to end the wait (the issue behind this module: db-0 Pending 14 minutes
while the deploy said "rolled out"). ``claim_problem`` says why a claim is unbound, and
whether that can still change by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from periph_env.deploy.verdict import Verdict, counts

Obj = dict[str, Any]
DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)
# Events on a claim that mean it will not bind without a change (the PV controller's).
HOPELESS_CLAIM_REASONS = frozenset({"ProvisioningFailed", "FailedBinding"})
# Events that say what an unbound claim waits for; shown, not a failure by themselves.
WAITING_CLAIM_REASONS = frozenset({"ExternalProvisioning", "WaitForFirstConsumer", "Provisioning"})


def statefulset_verdict(sts: Obj) -> Verdict:
    """kubectl's StatefulSetStatusViewer.Status for one StatefulSet (OnDelete: see module)."""
    meta, spec = sts.get("metadata", {}), sts.get("spec", {})
    status = sts.get("status") or {}
    name = meta.get("name", "?")
    observed = status.get("observedGeneration", 0)
    if observed == 0 or meta.get("generation", 0) > observed:
        return Verdict(False, False, "Waiting for statefulset spec update to be observed...")
    replicas = spec.get("replicas", 1)
    ready = status.get("readyReplicas", 0)
    if ready < replicas:
        return Verdict(
            False,
            False,
            f'Waiting for statefulset "{name}": {replicas - ready} pods to be ready...',
        )
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type") == "OnDelete":
        updated = status.get("updatedReplicas", 0)
        old = "" if updated >= replicas else f"; {replicas - updated} keep the old template "
        return Verdict(
            True,
            False,
            f'statefulset "{name}" (OnDelete): {ready} pods ready{old}'
            + ("until deleted" if old else ""),
        )
    rolling = strategy.get("rollingUpdate")
    if rolling is not None:  # kubectl: any rollingUpdate block ends here
        partition = rolling.get("partition")
        updated = status.get("updatedReplicas", 0)
        if partition is not None and updated < replicas - partition:
            return Verdict(
                False,
                False,
                f'Waiting for statefulset "{name}" partitioned roll out to finish: '
                f"{updated} out of {replicas - partition} new pods have been updated...",
            )
        return Verdict(
            True,
            False,
            f'statefulset "{name}" partitioned roll out complete: '
            f"{updated} new pods have been updated",
        )
    update, current = status.get("updateRevision"), status.get("currentRevision")
    if update != current:
        return Verdict(
            False,
            False,
            f'Waiting for statefulset "{name}" rolling update to complete '
            f"{status.get('updatedReplicas', 0)} pods at revision {update}...",
        )
    return Verdict(
        True,
        False,
        f'statefulset "{name}" rolling update complete '
        f"{status.get('currentReplicas', 0)} pods at revision {current}",
    )


def statefulset_counts(sts: Obj) -> dict[str, int]:
    """desired / updated / ready / available replicas and old ones, as for a Deployment
    (an older API server reports no ``availableReplicas`` for a StatefulSet: ready then)."""
    result = counts(sts)
    if "availableReplicas" not in (sts.get("status") or {}):
        result["available"] = result["ready"]
    return result


def job_verdict(job: Obj) -> Verdict:
    """A Job is done when Complete, failed when Failed (with the controller's reason)."""
    name = job.get("metadata", {}).get("name", "?")
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("status") != "True":
            continue
        if cond.get("type") == "Complete":
            return Verdict(True, False, f'job "{name}" completed')
        if cond.get("type") == "Failed":
            why = ": ".join(x for x in (cond.get("reason"), cond.get("message")) if x)
            return Verdict(False, True, f'job "{name}" failed: {why or "no reason given"}')
    status = job.get("status") or {}
    return Verdict(
        False,
        False,
        f'Waiting for job "{name}": {status.get("active", 0)} active, '
        f"{status.get('failed', 0)} failed pods...",
    )


def claims_needed(workload: Obj, kind: str | None = None) -> list[str]:
    """Names of the claims a workload's pods mount: each volumeClaimTemplate of a
    StatefulSet per ordinal (``<template>-<sts>-<i>``), and every claim volume.

    ``kind``: the workload's kind when the object does not say (the items of a list or a
    watch carry no ``kind``)."""
    spec = workload.get("spec", {})
    pod_spec = spec.get("template", {}).get("spec", {})
    names = [
        v["persistentVolumeClaim"]["claimName"]
        for v in pod_spec.get("volumes") or []
        if (v.get("persistentVolumeClaim") or {}).get("claimName")
    ]
    if (kind or workload.get("kind")) == "StatefulSet":
        sts = workload.get("metadata", {}).get("name", "")
        start = (spec.get("ordinals") or {}).get("start", 0)
        for template in spec.get("volumeClaimTemplates") or []:
            base = template.get("metadata", {}).get("name", "")
            names += [f"{base}-{sts}-{i}" for i in range(start, start + spec.get("replicas", 1))]
    return names


def default_class(classes: list[Obj]) -> str | None:
    """The name of the cluster's default StorageClass, if one is marked default."""
    for sc in classes:
        annotations = sc.get("metadata", {}).get("annotations") or {}
        if any(annotations.get(a) == "true" for a in DEFAULT_CLASS_ANNOTATIONS):
            return sc["metadata"]["name"]
    return None


@dataclass(frozen=True)
class ClaimProblem:
    """Why a claim is unbound; ``hopeless``: it will not bind without a change."""

    claim: str
    reason: str
    hopeless: bool

    def describe(self) -> str:
        """``claim data-db-0 is unbound: <reason>``."""
        return f"claim {self.claim} is unbound: {self.reason}"


def claim_problem(
    claim: Obj, classes: list[Obj] | None, events: list[Obj] | tuple[Obj, ...] = ()
) -> ClaimProblem | None:
    """None for a Bound claim, else why it is not (``classes``: the cluster's StorageClasses,
    None when they could not be read; ``events``: the claim's events, oldest first).

    A class that does not exist, no class and no default, or the PV controller's
    ProvisioningFailed / FailedBinding are hopeless; anything else is a wait, named.
    """
    name = claim.get("metadata", {}).get("name", "?")
    if (claim.get("status") or {}).get("phase") == "Bound":
        return None
    spec = claim.get("spec", {})
    wanted = spec.get("storageClassName")
    if classes is not None:
        names = {sc.get("metadata", {}).get("name") for sc in classes}
        if wanted and wanted not in names:
            return ClaimProblem(name, f'StorageClass "{wanted}" does not exist', True)
        if wanted is None and default_class(classes) is None and not spec.get("volumeName"):
            # Only a PV without a class could match; the PV controller says whether one does.
            for event in reversed(events):
                if event.get("reason") == "FailedBinding":
                    return ClaimProblem(
                        name, f"no StorageClass (none named, no default): {_text(event)}", True
                    )
    for event in reversed(events):
        reason = event.get("reason", "")
        # FailedBinding is a Normal event (the PV controller retries), yet nothing it
        # retries changes the answer until someone adds a PV or a class.
        if reason in HOPELESS_CLAIM_REASONS:
            what = "no PV matches" if reason == "FailedBinding" else reason
            return ClaimProblem(name, f"{what}: {_text(event)}", True)
        if reason in WAITING_CLAIM_REASONS:
            return ClaimProblem(name, f"{reason}: {_text(event)}", False)
    return ClaimProblem(name, f"Pending (class {wanted or 'default'})", False)


def _text(event: Obj) -> str:
    return " ".join(str(event.get("message") or event.get("note") or "").split())


def hpa_floor(hpa: Obj, deployment: Obj) -> int | None:
    """The HPA's ``minReplicas`` when it is above the Deployment's replicas (the HPA will
    raise them: a first deploy is not done at one replica), else None."""
    floor = (hpa.get("spec") or {}).get("minReplicas", 1)
    current = (deployment.get("spec") or {}).get("replicas", 1)
    return floor if floor > current else None


def hpa_target(hpa: Obj) -> str | None:
    """The Deployment an HPA scales, if it scales one."""
    ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
    return ref.get("name") if ref.get("kind") == "Deployment" else None


def judged(stack: list[Obj]) -> dict[str, Any]:
    """What the rollout watch judges besides the Deployments of a rendered ``stack``: its
    StatefulSets, its Jobs, and the claim volumes of its Deployments (by Deployment)."""

    def names(kind: str) -> list[str]:
        return [o["metadata"]["name"] for o in stack if o.get("kind") == kind]

    claims = {
        o["metadata"]["name"]: claims_needed(o)
        for o in stack
        if o.get("kind") == "Deployment" and claims_needed(o)
    }
    return {"statefulsets": names("StatefulSet"), "jobs": names("Job"), "claims": claims}
