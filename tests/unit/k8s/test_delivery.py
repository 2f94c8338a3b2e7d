"""How the overlays are delivered: ingress, images, config, secrets, the migration Job."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import yaml

from tests.unit.k8s.manifests import (
    ENVIRONMENTS,
    IMAGES,
    K8S,
    ROOT,
    SECRET_NAME,
    Doc,
    by_kind,
    containers,
    one,
    pod_spec,
    render,
    secret_key_refs,
)

HOSTS = {"demo": "demo.peripheral.internal", "prod": "app.peripheral.com"}
ISSUERS = {"demo": "peripheral-internal-ca", "prod": "letsencrypt-prod"}


def _routes(ingress: Doc) -> dict[str, str]:
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    return {p["path"]: p["backend"]["service"]["name"] for p in paths}


def test_ingress_sends_api_and_ws_to_backend_and_the_rest_to_frontend(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    routes = {}
    for ingress in by_kind(overlays[env], "Ingress").values():
        routes.update(_routes(ingress))
    assert routes == {"/api": "backend", "/ws": "backend", "/": "frontend"}


def test_ingress_serves_the_environments_host_over_tls_from_cert_manager(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    ingresses = by_kind(overlays[env], "Ingress")
    for ingress in ingresses.values():
        assert ingress["spec"]["rules"][0]["host"] == HOSTS[env]
        assert ingress["spec"]["tls"][0]["hosts"] == [HOSTS[env]]
    # One Certificate owns the TLS Secret: only `peripheral` asks cert-manager for it.
    issuers = {
        name: i["metadata"].get("annotations", {}).get("cert-manager.io/cluster-issuer")
        for name, i in ingresses.items()
    }
    assert issuers == {"peripheral": ISSUERS[env], "peripheral-ws": None}
    assert len({i["spec"]["tls"][0]["secretName"] for i in ingresses.values()}) == 1


def test_services_exist_for_every_component(overlays: dict[str, list[Doc]], env: str) -> None:
    services = by_kind(overlays[env], "Service")
    assert {"backend", "frontend", "worker-metrics", "db", "cache"} <= set(services)


def test_images_are_lowercase_peripheral_names_tagged_for_the_environment(
    overlays: dict[str, list[Doc]], migrations: dict[str, list[Doc]], env: str
) -> None:
    images = {c["image"] for _, c in containers(overlays[env] + migrations[env])}
    assert images == {f"{name}:{ENVIRONMENTS[env]['tag']}" for name in IMAGES}


def test_a_digest_pinned_in_the_release_component_reaches_overlay_and_migration(
    tmp_path: Path,
) -> None:
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    release = copy / "overlays" / "prod" / "release" / "kustomization.yaml"
    component = yaml.safe_load(release.read_text())
    digest = "sha256:" + "ab" * 32
    for image in component["images"]:
        if image["name"] == "peripheral-backend":
            image["digest"] = digest
    release.write_text(yaml.safe_dump(component))
    overlay = render(copy / "overlays" / "prod")
    migrate = render(copy / "overlays" / "prod" / "migrate")
    pinned = f"peripheral-backend:prod@{digest}"
    assert pod_spec(one(overlay, "Deployment", "backend"))["containers"][0]["image"] == pinned
    assert pod_spec(one(migrate, "Job", "backend-migrate"))["containers"][0]["image"] == pinned


def test_config_map_carries_the_environment_name_for_the_frontend(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    (config,) = [
        c
        for name, c in by_kind(overlays[env], "ConfigMap").items()
        if name.startswith("peripheral-config-")
    ]
    assert config["data"]["VITE_ENVIRONMENT"] == ENVIRONMENTS[env]["vite"]
    assert config["data"]["FEATURE_STRATEGY_CREATE"] == "true"


def test_no_secret_object_is_rendered_or_committed(
    overlays: dict[str, list[Doc]], migrations: dict[str, list[Doc]], env: str
) -> None:
    rendered = [d for d in overlays[env] + migrations[env] if d["kind"] == "Secret"]
    committed = [
        str(p.relative_to(ROOT))
        for p in K8S.rglob("*.yaml")
        if re.search(r"^kind:\s*Secret\s*$", p.read_text(), re.MULTILINE)
    ]
    assert rendered == []
    assert committed == []


def test_only_the_peripheral_env_secret_is_referenced_and_never_loaded_whole(
    overlays: dict[str, list[Doc]], migrations: dict[str, list[Doc]], env: str
) -> None:
    docs = overlays[env] + migrations[env]
    env_from = [
        owner
        for owner, c in containers(docs)
        for source in c.get("envFrom", [])
        if "secretRef" in source
    ]
    assert env_from == []
    assert {name for name, _ in secret_key_refs(docs)} == {SECRET_NAME}


def test_frontend_never_receives_the_secret(overlays: dict[str, list[Doc]], env: str) -> None:
    frontend = pod_spec(one(overlays[env], "Deployment", "frontend"))["containers"][0]
    assert "secretRef" not in str(frontend.get("envFrom", []))
    assert "secretKeyRef" not in str(frontend.get("env", []))


def test_every_secret_key_the_manifests_read_is_documented(
    overlays: dict[str, list[Doc]], migrations: dict[str, list[Doc]], env: str
) -> None:
    documented = (ROOT / "docs" / "k8s.md").read_text()
    keys = {key for _, key in secret_key_refs(overlays[env] + migrations[env])}
    assert sorted(k for k in keys if f"`{k}`" not in documented) == []


def test_migration_job_is_rendered_only_by_its_own_kustomization(
    overlays: dict[str, list[Doc]], migrations: dict[str, list[Doc]], env: str
) -> None:
    assert by_kind(overlays[env], "Job") == {}
    assert [d["kind"] for d in migrations[env]] == ["Job"]
    job = one(migrations[env], "Job", "backend-migrate")
    container = pod_spec(job)["containers"][0]
    assert job["metadata"]["namespace"] == ENVIRONMENTS[env]["namespace"]
    assert container["image"] == f"peripheral-backend:{ENVIRONMENTS[env]['tag']}"
    assert container["args"] == ["migrate"]
    assert pod_spec(job)["restartPolicy"] == "Never"


def test_every_secret_key_the_manifests_read_is_part_of_the_env_contract(
    overlays: dict[str, list[Doc]], migrations: dict[str, list[Doc]], env: str
) -> None:
    example = (ROOT / ".env.example").read_text()
    contract = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example, re.MULTILINE))
    keys = {key for _, key in secret_key_refs(overlays[env] + migrations[env])}
    assert keys - contract == set()
