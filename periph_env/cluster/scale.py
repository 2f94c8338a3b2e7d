"""``stop``, ``start`` and ``rebuild`` of services of the cluster dev stack (the Stack
area's ``x``, ``s`` and ``b`` on the cluster backend).

A stopped service is its Deployment scaled to 0, the replicas it had kept in an
annotation so ``start`` gives them back (Tilt's "disable resource"; the pod goes, the
Deployment, its Service and its forwards stay). A rebuild is ``rebuild.rebuild``: build,
push, roll the one Deployment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from periph_env.errors import UsageError

BEFORE_STOP = "periph.dev/replicas-before-stop"
MERGE = "application/merge-patch+json"


def deployments(cluster: Any, services: list[str] | None) -> list[str]:
    """``services`` (all when None or empty), each a Deployment of the stack, else a
    ``UsageError`` naming the ones that are (one-shot Jobs cannot stop or start)."""
    known = [s.service for s in cluster.ps() if s.kind == "Deployment"]
    wanted = list(services or known)
    for name in wanted:
        if name not in known:
            raise UsageError(
                f"no long-running service {name!r} in the dev stack",
                hint=f"known: {', '.join(known)}",
            )
    return wanted


def _patch(cluster: Any, service: str, body: dict[str, Any]) -> None:
    from periph_env.deploy.kube_rest import FIELD_MANAGER

    rest = cluster.kube.rest
    path = rest.path("apps/v1", "Deployment", service)
    rest.request("PATCH", path, {"fieldManager": FIELD_MANAGER}, body, MERGE)


def stop(cluster: Any, services: list[str], progress: Callable[[str], None]) -> None:
    """Scale each Deployment to 0, keeping its replicas; a stopped one stays stopped."""
    for service in services:
        dep = cluster.kube.get("Deployment", service) or {}
        replicas = (dep.get("spec") or {}).get("replicas", 1)
        if replicas == 0:
            progress(f"{service}: already stopped")
            continue
        annotations = {BEFORE_STOP: str(replicas)}
        _patch(
            cluster, service, {"metadata": {"annotations": annotations}, "spec": {"replicas": 0}}
        )
        progress(f"{service}: stopped (scaled to 0; start gives it its {replicas} back)")


def start(cluster: Any, services: list[str], progress: Callable[[str], None]) -> None:
    """Give each stopped Deployment its replicas back, then wait until all are Ready."""
    for service in services:
        dep = cluster.kube.get("Deployment", service) or {}
        meta, spec = dep.get("metadata") or {}, dep.get("spec") or {}
        before = (meta.get("annotations") or {}).get(BEFORE_STOP, "1")
        replicas = int(before) if before.isdigit() and int(before) > 0 else 1
        if spec.get("replicas", 1) > 0:
            progress(f"{service}: already running")
            continue
        body = {"metadata": {"annotations": {BEFORE_STOP: None}}, "spec": {"replicas": replicas}}
        _patch(cluster, service, body)
        progress(f"{service}: starting ({replicas} replica{'s' if replicas != 1 else ''})")
    cluster.wait_rolled(services, progress)


def rebuild(cluster: Any, services: list[str], progress: Callable[[str], None]) -> None:
    """Build, push and roll each service (``rebuild.rebuild``), one after another."""
    from periph_env.cluster import rebuild as rebuilding

    for service in services:
        rolled = rebuilding.rebuild(
            cluster, service, lambda line, s=service: progress(f"{s}: {line}")
        )
        progress(f"{service}: rebuilt" + ("" if rolled.rolled else " (image unchanged)"))
