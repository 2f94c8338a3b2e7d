"""What a configuration change restarts: a flag flip rolls the app, never the database."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tests.unit.k8s.manifests import K8S, Doc, one, pod_spec, render, workloads

STATEFUL = ("db", "cache")


def _copy_k8s(tmp_path: Path) -> Path:
    """A private copy of k8s/ to edit, so the repository's files are never touched."""
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    return copy


def _set_overlay_literal(k8s: Path, env: str, generator: str, key: str, value: str) -> None:
    """Set KEY=VALUE in the overlay's merge of GENERATOR (adding the merge when absent)."""
    path = k8s / "overlays" / env / "kustomization.yaml"
    kustomization = yaml.safe_load(path.read_text())
    generators = kustomization.setdefault("configMapGenerator", [])
    entry = next((g for g in generators if g["name"] == generator), None)
    if entry is None:
        entry = {"name": generator, "behavior": "merge", "literals": []}
        generators.append(entry)
    literals = [lit for lit in entry.get("literals", []) if not lit.startswith(f"{key}=")]
    entry["literals"] = [*literals, f"{key}={value}"]
    path.write_text(yaml.safe_dump(kustomization, sort_keys=False))


def _references(doc: Doc) -> set[str]:
    """Names of the ConfigMaps a workload's containers read (envFrom, env, volumes)."""
    spec = pod_spec(doc)
    names = {v["configMap"]["name"] for v in spec.get("volumes", []) if "configMap" in v}
    for container in [*spec.get("initContainers", []), *spec["containers"]]:
        names |= {
            e["configMapRef"]["name"] for e in container.get("envFrom", []) if "configMapRef" in e
        }
        names |= {
            v["valueFrom"]["configMapKeyRef"]["name"]
            for v in container.get("env", [])
            if "configMapKeyRef" in v.get("valueFrom", {})
        }
    return names


def test_no_statefulset_reads_the_shared_config_map(
    overlays: dict[str, list[Doc]], env: str
) -> None:
    readers = {
        d["metadata"]["name"]: sorted(_references(d))
        for d in workloads(overlays[env])
        if d["kind"] == "StatefulSet"
        and any(n.startswith("peripheral-config-") for n in _references(d))
    }
    assert readers == {}


def test_changing_only_log_level_changes_no_field_of_the_db_or_cache_pod_template(
    tmp_path: Path, overlays: dict[str, list[Doc]], env: str
) -> None:
    k8s = _copy_k8s(tmp_path)
    _set_overlay_literal(k8s, env, "peripheral-config", "LOG_LEVEL", "error")
    flipped = render(k8s / "overlays" / env)
    for name in STATEFUL:
        before = one(overlays[env], "StatefulSet", name)["spec"]["template"]
        assert one(flipped, "StatefulSet", name)["spec"]["template"] == before, name
    # The flip did reach the app: its pods roll, as a changed flag must.
    backend_before = one(overlays[env], "Deployment", "backend")["spec"]["template"]
    assert one(flipped, "Deployment", "backend")["spec"]["template"] != backend_before


def test_changing_max_connections_does_roll_the_database(
    tmp_path: Path, overlays: dict[str, list[Doc]], env: str
) -> None:
    k8s = _copy_k8s(tmp_path)
    _set_overlay_literal(k8s, env, "db-config", "POSTGRES_MAX_CONNECTIONS", "151")
    flipped = render(k8s / "overlays" / env)
    before = one(overlays[env], "StatefulSet", "db")["spec"]["template"]
    # Postgres reads max_connections only at start: the new value needs a new pod.
    assert one(flipped, "StatefulSet", "db")["spec"]["template"] != before
