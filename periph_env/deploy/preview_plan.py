"""Preview environments, the pure part: names, TTLs, and the demo render made a preview.

A preview is the demo stack in a namespace of its own, ``peripheral-pr-<slug>``, on the demo
cluster. Everything here is a function of its inputs (no cluster, no clock read): the
engine (``periph_env.deploy.preview``) renders the demo overlay once, as a deploy does,
and hands the objects to ``preview_objects``.

What makes a namespace a preview is its labels, never its name: ``gc`` and ``down`` act
only on namespaces carrying both ``app.kubernetes.io/managed-by: periph`` and
``periph.dev/preview: <slug>`` whose name is the one that slug gives (``is_preview``), so a
namespace someone names ``peripheral-pr-x`` by hand, demo, prod or a namespace that merely
carries one of the labels is never touched.
"""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from periph_env.deploy.manifests import ENV_LABEL, MANAGED_BY, Obj
from periph_env.errors import UsageError

PREFIX = "peripheral-pr-"
PREVIEW_LABEL = "periph.dev/preview"
BRANCH_ANNOTATION = "periph.dev/branch"
EXPIRES_ANNOTATION = "periph.dev/expires-at"
# A namespace name is a DNS label (63); a host label too. The slug is also a host label
# (``<slug>.<domain>``), so the namespace's limit is the tighter one.
MAX_NAMESPACE = 63
MAX_SLUG = MAX_NAMESPACE - len(PREFIX)  # 49
HASH_CHARS = 6
DEFAULT_TTL = 24 * 3600.0
MAX_TTL = 30 * 24 * 3600.0  # a preview forgotten for a month is a leak, not a preview
# Objects a preview leaves out, and why: backups of a throw-away database (the CronJob and
# its two 20Gi claims), autoscaling and disruption budgets (a preview runs the rendered
# replicas; a budget would block the node drains a shared demo cluster needs).
DROPPED_KINDS = frozenset({"CronJob", "HorizontalPodAutoscaler", "PodDisruptionBudget"})

_UNSAFE = re.compile(r"[^a-z0-9-]+")
_TTL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_TTL_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def slug(branch: str) -> str:
    """A DNS-label slug of ``branch``: lower case, ``[a-z0-9-]``, at most ``MAX_SLUG``.

    A branch that had to be changed to fit (other characters, too long) gets a short hash of
    the original name as a suffix, so ``feat/A`` and ``feat-a`` never share a preview.
    """
    name = branch.strip()
    if not name:
        raise UsageError("a preview needs a branch name", hint="periph preview up BRANCH")
    base = _UNSAFE.sub("-", name.lower()).strip("-")
    base = re.sub(r"-{2,}", "-", base)
    if base == name and len(base) <= MAX_SLUG:
        return base
    digest = hashlib.sha256(name.encode()).hexdigest()[:HASH_CHARS]
    room = MAX_SLUG - HASH_CHARS - 1
    head = base[:room].rstrip("-")
    return f"{head}-{digest}" if head else f"pr-{digest}"


def namespace(slug_: str) -> str:
    """``peripheral-pr-<slug>``."""
    return PREFIX + slug_


def parse_ttl(value: str | float) -> float:
    """Seconds from ``90``, ``"30m"``, ``"24h"``, ``"2d"``; UsageError otherwise."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _TTL.match(str(value))
        if not match:
            raise UsageError(f"--ttl: {value!r} is not a duration", hint="e.g. 30m, 24h, 3d")
        seconds = float(match.group(1)) * _TTL_UNITS[match.group(2)]
    if seconds <= 0:
        raise UsageError(f"--ttl: {value!r} must be longer than 0")
    if seconds > MAX_TTL:
        raise UsageError(f"--ttl: {value!r} is longer than 30d", hint="e.g. 24h, 7d")
    return seconds


def rfc3339(moment: datetime) -> str:
    """``2026-12-02T21:00:00Z`` (UTC, whole seconds)."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def expires_at(now: datetime, ttl: float) -> str:
    """The RFC3339 moment ``ttl`` seconds after ``now``."""
    return rfc3339(now + timedelta(seconds=ttl))


def parse_time(text: str) -> datetime | None:
    """An RFC3339 time, or None when ``text`` is not one."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def domain_of(host: str) -> str:
    """``demo.peripheral.internal`` -> ``peripheral.internal``: the demo ingress domain."""
    parts = host.split(".", 1)
    if len(parts) < 2 or "." not in parts[1]:
        raise UsageError(
            f"the demo Ingress host {host!r} has no domain to put previews under",
            hint="set [preview] domain in periph.toml",
        )
    return parts[1]


def ingress_hosts(objs: list[Obj]) -> list[str]:
    """Every host the rendered Ingresses serve, in order, once each."""
    hosts: list[str] = []
    for obj in objs:
        if obj.get("kind") != "Ingress":
            continue
        for rule in (obj.get("spec") or {}).get("rules") or []:
            if rule.get("host") and rule["host"] not in hosts:
                hosts.append(rule["host"])
    return hosts


@dataclass(frozen=True)
class Preview:
    """One preview as the cluster shows it (from its Namespace)."""

    slug: str
    namespace: str
    branch: str
    expires_at: str  # as written; "" when missing
    created: str
    phase: str = "Active"

    def expired(self, now: datetime) -> bool:
        """Past its expiry. An annotation that is missing or unreadable counts as expired:
        a labelled preview nobody can date is exactly what gc is for."""
        moment = parse_time(self.expires_at)
        return moment is None or moment <= now

    def as_dict(self) -> dict[str, str]:
        """The JSON form (``periph preview list --format json``)."""
        return {
            "slug": self.slug,
            "namespace": self.namespace,
            "branch": self.branch,
            "expires_at": self.expires_at,
            "created": self.created,
            "phase": self.phase,
        }


SELECTOR = f"{MANAGED_BY}=periph,{PREVIEW_LABEL}"
OTHER_KEYS = frozenset({"ttl", "domain", "max"})  # [preview] keys besides the sizes
DEFAULT_MAX = 5


def max_previews(table: dict[str, Any]) -> int:
    """``[preview] max`` (default 5): a quota caps one preview, this caps how many."""
    value = table.get("max", DEFAULT_MAX)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"[preview] max in periph.toml: {value!r} is not a whole number >= 1")
    return value


def room_for(found: list[Preview], slug_: str, limit: int) -> str | None:
    """Why a new preview ``slug_`` does not fit beside ``found`` (None: it fits). Updating
    an existing preview always fits; previews being deleted do not count."""
    live = [p for p in found if p.phase != "Terminating"]
    if any(p.slug == slug_ for p in live) or len(live) < limit:
        return None
    names = ", ".join(p.slug for p in live)
    return f"{len(live)} previews already run on the demo cluster (max {limit}): {names}"


def is_preview(ns: Obj) -> bool:
    """Whether a Namespace is one of periph's previews: managed by periph, a preview label,
    and the name that label's slug gives. Anything else is never listed nor deleted."""
    meta = ns.get("metadata") or {}
    labels = meta.get("labels") or {}
    value = labels.get(PREVIEW_LABEL, "")
    return (
        ns.get("kind", "Namespace") == "Namespace"
        and labels.get(MANAGED_BY) == "periph"
        and bool(value)
        and meta.get("name") == namespace(value)
    )


def preview_of(ns: Obj) -> Preview:
    """The ``Preview`` a preview Namespace describes."""
    meta = ns.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    return Preview(
        slug=(meta.get("labels") or {}).get(PREVIEW_LABEL, ""),
        namespace=meta.get("name", ""),
        branch=annotations.get(BRANCH_ANNOTATION, ""),
        expires_at=annotations.get(EXPIRES_ANNOTATION, ""),
        created=meta.get("creationTimestamp", ""),
        phase=(ns.get("status") or {}).get("phase", "Active"),
    )


def previews(namespaces: list[Obj]) -> list[Preview]:
    """The previews among ``namespaces``, soonest to expire first."""
    found = [preview_of(ns) for ns in namespaces if is_preview(ns)]
    return sorted(found, key=lambda p: (p.expires_at, p.slug))


def expired(namespaces: list[Obj], now: datetime) -> list[Preview]:
    """The previews among ``namespaces`` that gc deletes at ``now`` (and only those)."""
    return [p for p in previews(namespaces) if p.expired(now) and p.phase != "Terminating"]


@dataclass(frozen=True)
class Sizing:
    """A preview's ResourceQuota and LimitRange figures (``[preview]`` in periph.toml)."""

    cpu: str = "4"  # requests.cpu and limits.cpu are both capped at these
    memory: str = "6Gi"
    limits_cpu: str = "8"
    limits_memory: str = "8Gi"
    pods: str = "20"
    storage: str = "20Gi"
    claims: str = "4"
    default_cpu: str = "250m"  # a container that names no resources gets these
    default_memory: str = "256Mi"
    default_request_cpu: str = "50m"
    default_request_memory: str = "64Mi"

    @classmethod
    def from_config(cls, table: dict[str, Any]) -> Sizing:
        """``[preview]``'s keys (strings) over the defaults; UsageError on an unknown key."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(table) - known - OTHER_KEYS)
        if unknown:
            raise UsageError(
                f"[preview] in periph.toml: unknown key(s) {', '.join(unknown)}",
                hint=f"known: {', '.join(sorted(known | OTHER_KEYS))}",
            )
        return cls(**{k: str(v) for k, v in table.items() if k in known})


def guard_objects(ns: str, labels: dict[str, str], sizing: Sizing) -> list[Obj]:
    """The preview's ResourceQuota and LimitRange: a branch cannot starve the demo cluster."""
    meta = {"namespace": ns, "labels": dict(labels)}
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "preview", **copy.deepcopy(meta)},
        "spec": {
            "hard": {
                "requests.cpu": sizing.cpu,
                "requests.memory": sizing.memory,
                "limits.cpu": sizing.limits_cpu,
                "limits.memory": sizing.limits_memory,
                "pods": sizing.pods,
                "requests.storage": sizing.storage,
                "persistentvolumeclaims": sizing.claims,
            }
        },
    }
    limits = {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "preview", **copy.deepcopy(meta)},
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "default": {"cpu": sizing.default_cpu, "memory": sizing.default_memory},
                    "defaultRequest": {
                        "cpu": sizing.default_request_cpu,
                        "memory": sizing.default_request_memory,
                    },
                }
            ]
        },
    }
    return [quota, limits]


def labels_for(slug_: str) -> dict[str, str]:
    """The labels every object of a preview carries."""
    return {MANAGED_BY: "periph", PREVIEW_LABEL: slug_, ENV_LABEL: f"pr-{slug_}"}


def namespace_object(template: Obj | None, slug_: str, branch: str, expires: str) -> Obj:
    """The preview's Namespace: the demo Namespace's labels (pod security) plus periph's
    preview labels, the branch and the expiry as annotations."""
    base = copy.deepcopy(template) if template else {"apiVersion": "v1", "kind": "Namespace"}
    meta = base.setdefault("metadata", {})
    meta["name"] = namespace(slug_)
    meta.pop("namespace", None)
    meta.setdefault("labels", {}).update(labels_for(slug_))
    annotations = meta.setdefault("annotations", {})
    # The demo Namespace says "never prune"; a preview is deleted by design.
    annotations.pop("periph.dev/prune", None)
    annotations[BRANCH_ANNOTATION] = branch
    annotations[EXPIRES_ANNOTATION] = expires
    return base


def _replace_host(value: Any, old: str, new: str) -> Any:
    """``value`` with ``old`` replaced by ``new`` in every string (hosts, origins)."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_replace_host(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: _replace_host(v, old, new) for k, v in value.items()}
    return value


def preview_object(obj: Obj, slug_: str, demo_host: str, host: str) -> Obj:
    """One rendered demo object moved into the preview: its namespace, periph's preview
    labels, and the demo host replaced by the preview's (Ingress rules and TLS, the
    ``WS_ALLOWED_ORIGINS`` of the config). A TLS Secret name gets the slug, so a preview's
    certificate never overwrites demo's."""
    out = copy.deepcopy(obj)
    meta = out.setdefault("metadata", {})
    if meta.get("namespace") or out.get("kind") != "Namespace":
        meta["namespace"] = namespace(slug_)
    meta.setdefault("labels", {}).update(labels_for(slug_))
    if demo_host and out.get("kind") in ("Ingress", "ConfigMap"):
        for field_ in ("spec", "data"):
            if field_ in out:
                out[field_] = _replace_host(out[field_], demo_host, host)
    if out.get("kind") == "Ingress":
        for tls in (out.get("spec") or {}).get("tls") or []:
            if tls.get("secretName"):
                tls["secretName"] = f"pr-{slug_}-tls"
    return out


def preview_objects(objs: list[Obj], slug_: str, demo_host: str, host: str) -> list[Obj]:
    """The demo objects a preview applies (``DROPPED_KINDS`` and claims left out)."""
    return [
        preview_object(o, slug_, demo_host, host)
        for o in objs
        if o.get("kind") not in DROPPED_KINDS and o.get("kind") != "PersistentVolumeClaim"
    ]
