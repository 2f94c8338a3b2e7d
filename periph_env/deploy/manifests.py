"""Pure helpers over rendered Kubernetes objects (plain dicts): identity, labels, images,
and the Secrets and keys the workloads read.

The Secrets periph must create are derived from the rendered objects themselves (every
``secretKeyRef`` and ``envFrom.secretRef`` in a pod template), so whatever the manifests
read is what gets created, and nothing else.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

MANAGED_BY = "app.kubernetes.io/managed-by"
ENV_LABEL = "periph.dev/environment"
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"})
# Never pruned, whatever their labels say: losing them loses data or everything in them.
NEVER_PRUNE = frozenset({"Namespace", "PersistentVolumeClaim", "PersistentVolume"})
PRUNE_ANNOTATION = "periph.dev/prune"  # "never": kept whatever the render says


def key(obj: Obj) -> tuple[str, str, str]:
    """(kind, namespace, name): an object's identity within one cluster."""
    meta = obj.get("metadata", {})
    return obj.get("kind", ""), meta.get("namespace", ""), meta.get("name", "")


def label(objs: Iterable[Obj], environment: str) -> list[Obj]:
    """Copies carrying periph's labels (managed-by=periph, periph.dev/environment=<env>).

    Only ``metadata.labels``: pod templates stay as rendered, so the first periph deploy of
    a stack applied by hand does not roll every pod.
    """
    out = []
    for obj in objs:
        obj = copy.deepcopy(obj)
        labels = obj.setdefault("metadata", {}).setdefault("labels", {})
        labels[MANAGED_BY] = "periph"
        labels[ENV_LABEL] = environment
        out.append(obj)
    return out


def is_periph_object(obj: Obj, environment: str) -> bool:
    """Whether ``obj`` carries periph's labels for ``environment``."""
    labels = obj.get("metadata", {}).get("labels") or {}
    return labels.get(MANAGED_BY) == "periph" and labels.get(ENV_LABEL) == environment


def pod_spec(obj: Obj) -> Obj | None:
    """The pod spec of a workload (CronJobs: their job template's), else None."""
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    elif kind not in WORKLOAD_KINDS:
        return None
    return (spec.get("template") or {}).get("spec")


def containers(obj: Obj) -> Iterator[Obj]:
    """Every init and regular container of a workload."""
    spec = pod_spec(obj) or {}
    yield from spec.get("initContainers") or []
    yield from spec.get("containers") or []


def images(objs: Iterable[Obj]) -> dict[tuple[str, str], str]:
    """``(kind/name, container) -> image`` for every container of every workload."""
    return {
        (f"{o['kind']}/{o['metadata']['name']}", c.get("name", "")): c.get("image", "")
        for o in objs
        for c in containers(o)
    }


@dataclass
class SecretNeed:
    """What the workloads read from one Secret: whole (envFrom) and/or named keys."""

    name: str
    whole: bool = False
    keys: dict[str, bool] = field(default_factory=dict)  # key -> required (not optional)
    readers: set[str] = field(default_factory=set)  # "Kind/name" of the workloads

    def required_keys(self) -> list[str]:
        """Keys a workload reads without ``optional: true``."""
        return sorted(k for k, required in self.keys.items() if required)


def secret_needs(objs: Iterable[Obj]) -> dict[str, SecretNeed]:
    """Secrets referenced by the workloads' containers, by name, with the keys they read."""
    needs: dict[str, SecretNeed] = {}
    for obj in objs:
        reader = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        for c in containers(obj):
            for src in c.get("envFrom") or []:
                ref = src.get("secretRef")
                if ref and ref.get("name"):
                    need = needs.setdefault(ref["name"], SecretNeed(ref["name"]))
                    need.whole = True
                    need.readers.add(reader)
            for var in c.get("env") or []:
                ref = (var.get("valueFrom") or {}).get("secretKeyRef")
                if ref and ref.get("name") and ref.get("key"):
                    need = needs.setdefault(ref["name"], SecretNeed(ref["name"]))
                    required = not ref.get("optional", False)
                    need.keys[ref["key"]] = need.keys.get(ref["key"], False) or required
                    need.readers.add(reader)
    return needs


def secret_data(need: SecretNeed, source: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The key/values one Secret gets from ``source``, and the required keys it lacks.

    A Secret read whole (``envFrom``) gets every key of the source; one read key by key
    gets exactly those keys: a service never receives keys it does not read.
    """
    data = dict(source) if need.whole else {k: source[k] for k in need.keys if k in source}
    missing = [k for k in need.required_keys() if k not in source]
    return data, missing


def secret_object(name: str, namespace: str, data: dict[str, str], environment: str) -> Obj:
    """A Secret manifest, labelled as periph's but outside the prune set.

    ``data`` (base64), not ``stringData``: server-side apply then owns each key, so a key
    dropped from the source is dropped from the Secret too.
    """
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in sorted(data.items())}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"periph.dev/secret-of": environment},
        },
        "type": "Opaque",
        "data": encoded,
    }
