"""A canary's object and verdict, pure: no cluster, no clock (``deploy --canary``).

The canary is one pod of the new backend run beside the old ones as its own Deployment,
``<deployment>-canary``. Its pods carry every label of the rendered pod template, so the
Service (which selects on those labels) sends it about 1/(N+1) of the traffic with no mesh
and no ingress router; ``periph.dev/track: canary`` is added to its selector and pods, so
its own ReplicaSet never claims an old pod and the watch can tell its pods apart. The old
pods are told apart the other way round: by their ReplicaSet's ``pod-template-hash``.

The verdict compares the canary's 5xx ratio with the old pods' over the same window, from
the same counters (``verify_rate``):

- more container restarts than ``max_restarts``: abort;
- from ``min_requests`` canary requests on, a canary ratio above ``max_ratio`` AND above the
  old pods' ratio: abort at once (a canary as bad as an already failing baseline is not
  the release's fault: the watch goes on);
- at the end of the window: fewer than ``min_requests`` canary requests is too little to
  promote on (abort, "too few requests"); otherwise promote.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from periph_env.deploy.events import Summary
from periph_env.deploy.manifests import Obj
from periph_env.deploy.verify_rate import Totals, describe

TRACK_LABEL = "periph.dev/track"
TRACK = "canary"
CANARY_OF = "periph.dev/canary-of"  # annotation: the Deployment the canary stands beside
SUFFIX = "-canary"
# Kinds a canary deploy may change: the canary judges new pod templates against the live
# Secrets, ConfigMaps and Services. A change to those would reach the old pods too (or be
# missing from the canary's judgement), so it is refused instead.
CANARY_KINDS = frozenset({"Deployment"})


def canary_name(deployment: str) -> str:
    """``backend`` -> ``backend-canary``."""
    return f"{deployment}{SUFFIX}"


def canary_deployment(rendered: Obj) -> Obj:
    """The canary Deployment made from the rendered (new) Deployment: one replica, the same
    pod labels plus ``periph.dev/track: canary``, in its selector too."""
    obj = copy.deepcopy(rendered)
    meta = obj.setdefault("metadata", {})
    original = meta.get("name", "")
    meta["name"] = canary_name(original)
    for drop in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
        meta.pop(drop, None)
    meta.setdefault("labels", {})[TRACK_LABEL] = TRACK
    meta.setdefault("annotations", {})[CANARY_OF] = original
    obj.pop("status", None)
    spec = obj.setdefault("spec", {})
    # One pod whatever the original asks (an HPA targets the original by name, not this).
    spec["replicas"] = 1
    spec["revisionHistoryLimit"] = 0
    spec.setdefault("selector", {}).setdefault("matchLabels", {})[TRACK_LABEL] = TRACK
    template_meta = spec.setdefault("template", {}).setdefault("metadata", {})
    template_meta.setdefault("labels", {})[TRACK_LABEL] = TRACK
    return obj


def is_canary(obj: Obj) -> bool:
    """A Deployment periph made as a canary (``canary_deployment``)."""
    return CANARY_OF in ((obj.get("metadata") or {}).get("annotations") or {})


def canary_selector(rendered: Obj) -> str:
    """The label selector of the canary's pods (the original's labels plus the track)."""
    labels = dict(((rendered.get("spec") or {}).get("selector") or {}).get("matchLabels") or {})
    labels[TRACK_LABEL] = TRACK
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def scope_problems(summary: Summary, deployment: str) -> list[str]:
    """Why this deploy cannot be a canary ([] when it can): the Deployment is not there yet
    (no old pods to compare with) or does not change, or objects other than Deployments
    change."""
    problems = []
    for change in summary.objects:
        ours = change.kind == "Deployment" and change.name == deployment
        if ours and change.action == "added":
            problems.append(
                f"Deployment/{deployment} is not deployed yet: a canary needs old pods to "
                "compare with"
            )
        elif ours and change.action == "unchanged":
            problems.append(f"Deployment/{deployment} does not change: nothing to judge")
        elif change.kind not in CANARY_KINDS and change.action in ("added", "changed"):
            problems.append(f"{change.kind}/{change.name} {change.action}")
    if not any(c.kind == "Deployment" and c.name == deployment for c in summary.objects):
        problems.append(f"the render has no Deployment/{deployment} ([verify] deployment)")
    return problems


@dataclass(frozen=True)
class Decision:
    """``promote`` True / False once decided, None while the watch goes on."""

    promote: bool | None
    reason: str = ""


def figures(canary: Totals, baseline: Totals) -> str:
    """``canary 3 of 12 requests 5xx (25.0%) vs baseline 0 of 30 requests 5xx (0.0%)``."""
    return f"canary {describe(canary)} vs baseline {describe(baseline)}"


def decide(
    canary: Totals,
    baseline: Totals,
    restarts: int,
    *,
    max_ratio: float,
    min_requests: int,
    max_restarts: int,
    final: bool,
) -> Decision:
    """The canary's verdict so far (see the module's docstring for the rules)."""
    if restarts > max_restarts:
        return Decision(False, f"{restarts} canary container restart(s) (allowed {max_restarts})")
    ratio, base = canary.ratio, baseline.ratio
    enough = ratio is not None and canary.requests >= min_requests
    if enough and ratio > max_ratio and (base is None or ratio > base):
        return Decision(
            False,
            f"{figures(canary, baseline)}: above the threshold {max_ratio:.1%} and the "
            "old pods' ratio",
        )
    if not final:
        return Decision(None)
    if canary.requests < min_requests:
        return Decision(
            False,
            f"too few requests to judge: the canary handled {canary.requests:.0f} "
            f"(at least {min_requests} needed); {figures(canary, baseline)}",
        )
    return Decision(True, figures(canary, baseline))


def as_record(
    outcome: str, decision: Decision, canary: Totals, baseline: Totals, restarts: int,
    window: float, threshold: float,
) -> dict[str, Any]:  # fmt: skip
    """The canary's figures as stored in the history record (``verification["canary"]``)."""
    return {
        "outcome": outcome,  # promoted | aborted
        "reason": decision.reason,
        "window": window,
        "threshold": threshold,
        "canary": {"requests": canary.requests, "errors": canary.errors, "ratio": canary.ratio},
        "baseline": {
            "requests": baseline.requests,
            "errors": baseline.errors,
            "ratio": baseline.ratio,
        },
        "restarts": restarts,
    }
