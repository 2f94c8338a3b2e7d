"""What a deploy changes: images old -> new and objects added / changed / removed.

Pure: the rendered objects, what a server-side dry-run says they would become, and what
the cluster holds now go in; the changes come out. Fields the server owns (status,
resourceVersion, managedFields, ...) are ignored, so "changed" means the user's intent
changed, as with ``kubectl diff``. Secrets are compared without ever returning a value.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from periph_env.deploy.events import ImageChange, ObjectChange
from periph_env.deploy.manifests import (
    NEVER_PRUNE,
    PRUNE_ANNOTATION,
    Obj,
    images,
    is_periph_object,
    key,
)

# Server-set metadata that differs between any two reads of the same intent.
_SERVER_METADATA = (
    "managedFields",
    "resourceVersion",
    "generation",
    "uid",
    "creationTimestamp",
    "selfLink",
)
_SERVER_ANNOTATIONS = (
    "deployment.kubernetes.io/revision",
    "kubectl.kubernetes.io/last-applied-configuration",
)


def normalized(obj: Obj) -> Obj:
    """``obj`` without status and server-maintained metadata."""
    obj = copy.deepcopy(obj)
    obj.pop("status", None)
    meta = obj.get("metadata", {})
    for name in _SERVER_METADATA:
        meta.pop(name, None)
    annotations = meta.get("annotations") or {}
    for name in _SERVER_ANNOTATIONS:
        annotations.pop(name, None)
    if "annotations" in meta and not annotations:
        meta.pop("annotations")
    return obj


def changed_fields(old: Obj, new: Obj) -> tuple[str, ...]:
    """Top-level paths (``spec.template``, ``metadata.labels``, ``data``) that differ."""
    a, b = normalized(old), normalized(new)
    paths: list[str] = []
    for top in sorted(set(a) | set(b)):
        va, vb = a.get(top), b.get(top)
        if va == vb:
            continue
        if isinstance(va, dict) and isinstance(vb, dict) and top in ("metadata", "spec"):
            paths.extend(
                f"{top}.{sub}" for sub in sorted(set(va) | set(vb)) if va.get(sub) != vb.get(sub)
            )
        else:
            paths.append(top)
    return tuple(paths)


def object_changes(
    desired: Iterable[Obj],
    dry_run: Iterable[Obj],
    live: Iterable[Obj],
    environment: str,
    removable: Iterable[Obj] = (),
) -> list[ObjectChange]:
    """Added / changed / unchanged for each desired object, removed for periph's leftovers.

    ``dry_run`` holds the server's answer for the desired objects (may be partial: an
    object missing from it is compared as rendered); ``removable`` holds live objects that
    may be gone from the render (a label query), of which only periph-labelled ones of this
    environment and never Namespaces, PersistentVolumeClaims or objects annotated
    ``periph.dev/prune: never`` count as removed.
    """
    answered = {key(o): o for o in dry_run}
    current = {key(o): o for o in live}
    changes: list[ObjectChange] = []
    wanted = set()
    for obj in desired:
        k = key(obj)
        wanted.add(k)
        kind, _, name = k
        if k not in current:
            changes.append(ObjectChange(kind, name, "added"))
            continue
        fields = changed_fields(current[k], answered.get(k, obj))
        changes.append(ObjectChange(kind, name, "changed" if fields else "unchanged", fields))
    for obj in removable:
        k = key(obj)
        annotations = obj.get("metadata", {}).get("annotations") or {}
        if (
            k in wanted
            or k[0] in NEVER_PRUNE
            or annotations.get(PRUNE_ANNOTATION) == "never"
            or not is_periph_object(obj, environment)
        ):
            continue
        changes.append(ObjectChange(k[0], k[2], "removed"))
    return changes


def image_changes(desired: Iterable[Obj], live: Iterable[Obj]) -> list[ImageChange]:
    """Every container image that differs between the live workloads and the render."""
    before = images(live)
    out = []
    for (workload, container), new in sorted(images(desired).items()):
        old = before.get((workload, container))
        if old != new:
            out.append(ImageChange(workload, container, old, new))
    return out
