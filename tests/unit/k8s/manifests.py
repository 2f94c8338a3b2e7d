"""Rendering the kustomizations under k8s/ and walking what they produce.

Shared by the unit tier (structure, no cluster) and the k8s integration tier (apply).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from periph_env.testenv import kube_config

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "k8s"
ENVIRONMENTS = {
    "demo": {"namespace": "peripheral-demo", "tag": "demo", "vite": "staging"},
    "prod": {"namespace": "peripheral-prod", "tag": "prod", "vite": "production"},
}
IMAGES = {
    "peripheral-backend",
    "peripheral-frontend",
    "peripheral-worker",
    "peripheral-db",
    "peripheral-cache",
}
SECRET_NAME = "peripheral-env"
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job", "CronJob"}

Doc = dict[str, Any]


def kubectl_binary() -> str:
    """kubectl from PATH, else the cached one scripts/build-kube.sh built."""
    found = shutil.which("kubectl")
    if found:
        return found
    cached = kube_config.bin_dir() / "kubectl"
    if cached.is_file():
        return str(cached)
    raise RuntimeError("kubectl is neither on PATH nor in the periph cache")


def render(directory: Path, kubectl: str | None = None) -> list[Doc]:
    """``kubectl kustomize DIR`` parsed into documents."""
    result = subprocess.run(
        [kubectl or kubectl_binary(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def overlay_dir(env: str) -> Path:
    """k8s/overlays/<env>: what `kubectl apply -k` deploys."""
    return K8S / "overlays" / env


def migrate_dir(env: str) -> Path:
    """k8s/overlays/<env>/migrate: the migration Job for that environment."""
    return K8S / "overlays" / env / "migrate"


def persistent_dir(env: str) -> Path:
    """k8s/overlays/<env>/persistent: the namespace and backup claims, never pruned."""
    return K8S / "overlays" / env / "persistent"


def by_kind(docs: list[Doc], kind: str) -> dict[str, Doc]:
    """Objects of one kind, by name."""
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def one(docs: list[Doc], kind: str, name: str) -> Doc:
    """The single object of that kind and name; fails loudly when absent."""
    found = by_kind(docs, kind)
    assert name in found, f"no {kind}/{name}; have {sorted(found)}"
    return found[name]


def pod_spec(doc: Doc) -> Doc:
    """The pod spec inside a Deployment, StatefulSet, Job or CronJob."""
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def pod_annotations(doc: Doc) -> dict[str, str]:
    """Annotations on a workload's pod template."""
    template = doc["spec"]["template"]
    return template.get("metadata", {}).get("annotations", {})


def workloads(docs: list[Doc]) -> Iterator[Doc]:
    """Every object that runs pods."""
    return (d for d in docs if d["kind"] in WORKLOAD_KINDS)


def containers(docs: list[Doc]) -> Iterator[tuple[str, Doc]]:
    """(``Kind/name``, container) for every container and init container."""
    for doc in workloads(docs):
        spec = pod_spec(doc)
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            yield f"{doc['kind']}/{doc['metadata']['name']}", container


def secret_keys_by_workload(docs: list[Doc]) -> dict[str, set[str]]:
    """Workload name -> the Secret keys its containers read through secretKeyRef."""
    out: dict[str, set[str]] = {}
    for doc in workloads(docs):
        keys = out.setdefault(doc["metadata"]["name"], set())
        spec = pod_spec(doc)
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            for var in container.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    keys.add(ref["key"])
    return out


def config_map_data(docs: list[Doc], name: str = "peripheral-config") -> dict[str, str]:
    """The data of the generated ConfigMap ``<name>-<hash>`` (default: peripheral-config)."""
    (config,) = [
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith(f"{name}-")
    ]
    return config["data"]


def secret_key_refs(docs: list[Doc]) -> set[tuple[str, str]]:
    """(secret name, key) pairs read through secretKeyRef."""
    refs = set()
    for _, container in containers(docs):
        for var in container.get("env", []):
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                refs.add((ref["name"], ref["key"]))
    return refs
