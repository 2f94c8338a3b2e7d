"""Stamp a hash of what each pod reads from a Secret into its pod template.

Kubernetes restarts nothing when a Secret changes: env vars are read once, at container
start. periph creates the Secrets at deploy time, so it also writes, into every pod
template that reads one, an annotation ``periph.dev/secret-hash-<secret name>`` whose
value changes exactly when something that pod reads changes. A changed template is a
rollout; an unchanged one is left alone (a redeploy with the same values restarts
nothing).

What is hashed is what the pod reads: the keys of its ``secretKeyRef`` s, or the whole
Secret for ``envFrom.secretRef`` and ``secret`` / projected volumes. So rotating
``JWT_SECRET`` rolls the backend, not the worker.

The value must say "changed" without saying what the secret is: anyone who can read a
Deployment can read its annotations. It is an HMAC-SHA256 keyed with a random 256-bit key
kept in the namespace's own Secret ``periph-secret-hash-key`` (made by the first deploy,
read by every later one): without the key a guess cannot be checked at all, and whoever
can read the key can read the Secrets themselves. It was a salted scrypt digest, ~0.3-0.5 s
of CPU per digest on a loaded machine and five per deploy: the slowest step of a deploy
(docs/performance.md). Deleting the key Secret only rolls, once, every pod that reads a
Secret (the next deploy makes a new key). The digest is never printed.

A pod template annotated ``periph.dev/secret-hash: skip`` is not stamped: Postgres reads
its Secret keys only when it creates an empty cluster, and restarting the single database
on a password rotation (done in SQL, docs/deploy-runbook.md) would be an outage for
nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets as random
from collections.abc import Iterable, Mapping

from periph_env.deploy import manifests
from periph_env.deploy.manifests import Obj, pod_spec

ANNOTATION_PREFIX = "periph.dev/secret-hash-"
OPT_OUT_ANNOTATION = "periph.dev/secret-hash"
OPT_OUT_VALUE = "skip"
WHOLE = None  # a read of every key (envFrom, volumes)
# An annotation name's part after the prefix/ is at most 63 characters.
_NAME_PART_LIMIT = 63
KEY_SECRET = "periph-secret-hash-key"  # the namespace's HMAC key (one data key, "key")
_KEY_BYTES = 32
_DIGEST_HEX = 32  # 128 bits of the HMAC: as many as the scrypt digest it replaces


def annotation_name(secret: str) -> str:
    """``periph.dev/secret-hash-<secret>``, shortened with a digest past 63 characters."""
    part = ANNOTATION_PREFIX.split("/", 1)[1] + secret
    if len(part) > _NAME_PART_LIMIT:
        tag = hashlib.sha256(secret.encode()).hexdigest()[:8]
        part = f"{part[: _NAME_PART_LIMIT - 9]}-{tag}"
    return f"{ANNOTATION_PREFIX.split('/', 1)[0]}/{part}"


def secret_reads(spec: Obj) -> dict[str, frozenset[str] | None]:
    """Secret name -> the keys a pod spec reads from it (``None``: the whole Secret)."""
    reads: dict[str, frozenset[str] | None] = {}

    def whole(name: str | None) -> None:
        if name:
            reads[name] = WHOLE

    def keys(name: str | None, key: str | None) -> None:
        if name and key and (name not in reads or reads[name] is not WHOLE):
            reads[name] = frozenset({*(reads.get(name) or ()), key})

    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for src in container.get("envFrom") or []:
            whole((src.get("secretRef") or {}).get("name"))
        for var in container.get("env") or []:
            ref = (var.get("valueFrom") or {}).get("secretKeyRef") or {}
            keys(ref.get("name"), ref.get("key"))
    for volume in spec.get("volumes") or []:
        whole((volume.get("secret") or {}).get("secretName"))
        for source in (volume.get("projected") or {}).get("sources") or []:
            whole((source.get("secret") or {}).get("name"))
    return reads


def new_key() -> str:
    """A fresh random HMAC key (hex)."""
    return random.token_hex(_KEY_BYTES)


def key_of(secret: Obj | None) -> str | None:
    """The key kept in a ``periph-secret-hash-key`` Secret read from the cluster, if any."""
    encoded = ((secret or {}).get("data") or {}).get("key")
    if not encoded:
        return None
    key = base64.b64decode(encoded).decode(errors="replace")
    # A hand-edited key is still a key, but a short one would key next to nothing.
    return key if len(key) >= 2 * _KEY_BYTES else None


def key_object(namespace: str, key: str, environment: str) -> Obj:
    """The Secret keeping the namespace's key (labelled like periph's other Secrets)."""
    return manifests.secret_object(KEY_SECRET, namespace, {"key": key}, environment)


def content_hash(
    key: str, namespace: str, secret: str, data: Mapping[str, str], keys: frozenset[str] | None
) -> str:
    """The keyed digest (HMAC-SHA256 with ``key``) of the namespace, the Secret's name, the
    keys read (all when ``keys`` is None) and their values.

    A key the pod reads but the Secret lacks counts as absent, so adding it later (an
    ``optional`` key filled in) changes the digest too.
    """
    wanted = sorted(data) if keys is None else sorted(keys)
    material = json.dumps(
        [namespace, secret, [[k, data.get(k)] for k in wanted]], separators=(",", ":")
    )
    digest = hmac.new(key.encode(), material.encode(), hashlib.sha256).hexdigest()
    return digest[:_DIGEST_HEX]


def _decoded(secret: Obj) -> dict[str, str]:
    """A Secret object's values as text (``data`` is base64; ``stringData`` is plain)."""
    out = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    out.update(secret.get("stringData") or {})
    return out


def _template(obj: Obj) -> Obj | None:
    """The pod template of a workload (a CronJob's job template's), else None."""
    if pod_spec(obj) is None:
        return None
    spec = obj["spec"]
    if obj.get("kind") == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]


def stamp(objs: Iterable[Obj], secrets: Iterable[Obj], key: str) -> list[str]:
    """Annotate, in place, each workload's pod template with the hash (keyed with the
    namespace's ``key``) of each Secret (of ``secrets``, the ones periph creates) it reads;
    returns ``Kind/name`` stamped.

    Secrets periph does not create (made by hand, by cert-manager, ...) are not stamped:
    their content is not known here.
    """
    by_key = {
        (s["metadata"].get("namespace", ""), s["metadata"]["name"]): _decoded(s) for s in secrets
    }
    memo: dict[tuple[str, str, frozenset[str] | None], str] = {}
    stamped = []
    for obj in objs:
        template = _template(obj)
        if template is None:
            continue
        meta = template.get("metadata") or {}
        if (meta.get("annotations") or {}).get(OPT_OUT_ANNOTATION) == OPT_OUT_VALUE:
            continue
        namespace = obj.get("metadata", {}).get("namespace", "")
        wrote = False
        for name, keys in sorted(secret_reads(template.get("spec") or {}).items()):
            data = by_key.get((namespace, name))
            if data is None:
                continue
            memo_key = (namespace, name, keys)
            if memo_key not in memo:
                memo[memo_key] = content_hash(key, namespace, name, data, keys)
            meta = template.setdefault("metadata", {})
            annotations = meta.setdefault("annotations", {})
            annotations[annotation_name(name)] = memo[memo_key]
            wrote = True
        if wrote:
            stamped.append(f"{obj['kind']}/{obj['metadata']['name']}")
    return stamped
