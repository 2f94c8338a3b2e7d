"""Pods behind a Service leave it before they stop: preStop sleeps and grace periods."""

from __future__ import annotations

import re

from tests.unit.k8s.manifests import ROOT, Doc, one, pod_spec

BACKEND_CONFIG = ROOT / "services" / "backend" / "internal" / "config" / "config.go"
# Deployments that Services and the Ingress send requests to.
SERVED = ("backend", "frontend")
DEFAULT_GRACE = 30


def _pre_stop_sleep(doc: Doc) -> int:
    container = pod_spec(doc)["containers"][0]
    return int(container["lifecycle"]["preStop"]["sleep"]["seconds"])


def _backend_shutdown_seconds(container: Doc) -> tuple[int, int]:
    """(drain, shutdown timeout) the backend process will take after SIGTERM."""
    code = BACKEND_CONFIG.read_text()
    timeout = re.search(r"ShutdownTimeout = (\d+) \* time.Second", code)
    default_drain = re.search(r"DefaultDrainSeconds = (\d+)", code)
    assert timeout and default_drain, "config.go no longer states its shutdown timings"
    env = {v["name"]: v.get("value") for v in container.get("env", [])}
    return int(env.get("SHUTDOWN_DRAIN_SECONDS", default_drain.group(1))), int(timeout.group(1))


def test_served_pods_sleep_in_pre_stop_with_the_native_handler(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    # The sleep handler needs no `sleep` binary: the prod images may have none.
    for name in SERVED:
        assert _pre_stop_sleep(one(overlays[env], "Deployment", name)) >= 3, name


def test_backend_grace_period_covers_pre_stop_drain_and_shutdown(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    backend = one(overlays[env], "Deployment", "backend")
    spec = pod_spec(backend)
    drain, timeout = _backend_shutdown_seconds(spec["containers"][0])
    needed = _pre_stop_sleep(backend) + drain + timeout
    assert drain > 0
    assert spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE) > needed


def test_frontend_grace_period_covers_its_pre_stop_sleep(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    frontend = one(overlays[env], "Deployment", "frontend")
    grace = pod_spec(frontend).get("terminationGracePeriodSeconds", DEFAULT_GRACE)
    assert grace > _pre_stop_sleep(frontend)
