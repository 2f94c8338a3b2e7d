"""A ``develop.watch`` ``rebuild`` rule on the cluster: build, push, roll ONE Deployment.

Locally a rebuild builds the image and recreates the container. On a cluster the image
must reach the registry first, and the pod is replaced by the Deployment controller:

1. ``compose build <service>`` (the same build ``periph up --cluster`` runs; a failed
   build leaves the running pod serving, as locally);
2. tag the image by its ID and push it (``ClusterStack.push_image``: an image that did
   not change is the same reference, so nothing rolls);
3. a strategic-merge patch of that one Deployment's container image, as field manager
   ``periph`` (the next ``up --cluster`` applies over it without a conflict), then wait
   for the rollout (kubectl's verdict) with ``up``'s fatal-state checks: a crash loop
   fails the reload with the pod's last log lines, masked.

Only the service's own Deployment moves: a Job running the same image (``migrate`` runs
the backend's) keeps its image until the next ``up --cluster``, as Compose leaves the
one-shot alone until the next ``up``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from periph_env.cluster import translate as t
from periph_env.errors import EngineError

Note = Callable[[str], None]
SMP = "application/strategic-merge-patch+json"


@dataclass(frozen=True)
class Rolled:
    """What one cluster rebuild did, with when each step ended (epoch seconds)."""

    service: str
    ref: str
    built_at: float
    pushed_at: float
    serving_at: float
    pod: str | None
    rolled: bool  # False: the image did not change, the running pod already has it


def image_patch(service: str, ref: str) -> dict[str, Any]:
    """The patch that points ``service``'s container (named like the service) at ``ref``."""
    return {"spec": {"template": {"spec": {"containers": [{"name": service, "image": ref}]}}}}


def current_image(deployment: dict[str, Any], service: str) -> str | None:
    """The image the Deployment's ``service`` container runs now (None: no such container)."""
    containers = deployment.get("spec", {}).get("template", {}).get("spec", {}).get("containers")
    for container in containers or []:
        if container.get("name") == service:
            return container.get("image")
    return None


def rebuild(cluster: Any, service: str, note: Note) -> Rolled:
    """Build, push and roll ``service`` (a ``ClusterStack``); ``note`` hears each step."""
    from periph_env.deploy.kube_rest import FIELD_MANAGER

    raw = t.services(cluster.stack.config()).get(service)
    if raw is None or not raw.get("image"):
        raise EngineError(f"service {service!r} has no image to rebuild")
    image = str(raw["image"])
    deployment = cluster.kube.get("Deployment", service)
    if deployment is None:
        raise EngineError(
            f"no Deployment {service} in {cluster.namespace} to roll",
            hint="`periph up --cluster` creates it",
        )
    started = time.time()
    cluster.stack.build([service])
    built_at = time.time()
    note(f"built {image} in {built_at - started:.1f}s, pushing")
    ref = cluster.push_image(service, image)
    pushed_at = time.time()
    if current_image(deployment, service) == ref:
        note("image unchanged: the running pod already has it")
        return Rolled(
            service, ref, built_at, pushed_at, pushed_at, cluster.ready_pod(service), False
        )
    note(f"pushed {ref.rsplit('/', 1)[-1]}, rolling deployment/{service}")
    rest = cluster.kube.rest
    path = rest.path("apps/v1", "Deployment", service)
    rest.request("PATCH", path, {"fieldManager": FIELD_MANAGER}, image_patch(service, ref), SMP)
    cluster.wait_rolled([service], note)
    return Rolled(service, ref, built_at, pushed_at, time.time(), cluster.ready_pod(service), True)
