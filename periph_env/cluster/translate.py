"""The dev stack as Kubernetes objects, derived from the compose model (pure).

Input is what ``docker compose config --format json`` prints for compose/compose.yaml with
the developer's ``.env`` (``Stack.config()``): Compose itself has interpolated every
``${VAR}``, so each value is exactly what the service reads locally. Nothing here is a
second copy of the manifests: change compose.yaml and the cluster follows.

What becomes what, and why:

- the namespace ``peripheral-dev-<user>``, labelled, with a ResourceQuota (one developer
  cannot eat the cluster) and a LimitRange giving containers default requests (a quota on
  requests makes the API server refuse pods without them);
- a long-running service: a Deployment (1 replica, ``Recreate``: a dev database must not
  run twice on one volume) and, when it has ports, a ClusterIP Service named like the
  compose service, so ``db``/``cache``/``backend`` resolve in the namespace as on the
  compose network;
- a one-shot (another service waits for ``service_completed_successfully``): a Job;
- ``environment``: every value goes into ONE Secret, ``periph-dev-env`` (key
  ``<service>.<KEY>``), and containers read it by ``secretKeyRef``, so no value (secret or
  not: the translation does not guess) is in a pod spec, an annotation or a log line. The
  pod template carries a hash of its service's values so an edited ``.env`` rolls it;
- ``healthcheck``: a readinessProbe (``CMD`` -> exec, ``CMD-SHELL`` -> ``/bin/sh -c``),
  interval/timeout/retries kept. Not a liveness probe: a dev server that is rebuilding
  must not be killed for it;
- ``depends_on``: kept as an annotation and as the apply order (``waves``): periph applies
  a service only once what it waits for is Ready (Job: complete), as Compose does;
- named volumes: a PersistentVolumeClaim (``storage = "claim"``) or an ``emptyDir``
  (``storage = "ephemeral"``: no provisioner needed, data lives as long as the pod);
  ``tmpfs`` -> an in-memory ``emptyDir``. A bind mount cannot reach a cluster: refused
  with the service named (source reaches pods through ``develop.watch`` sync instead);
- ``enableServiceLinks: false``: Kubernetes would otherwise inject ``DB_PORT=tcp://...``
  style variables for every Service, which collide with the stack's own ``DB_PORT``.

Compose's ``init: true`` has no pod equivalent and is ignored; an image's own
``HEALTHCHECK`` (no compose healthcheck) is not a probe either.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from periph_env.errors import UsageError

Obj = dict[str, Any]

MANAGED_BY = "app.kubernetes.io/managed-by"
STACK_LABEL = "periph.dev/dev-stack"  # value: the developer; what `down` deletes by
SERVICE_LABEL = "periph.dev/service"
ENV_SECRET = "periph-dev-env"
PULL_SECRET = "periph-dev-registry"
NAMESPACE_PREFIX = "peripheral-dev-"
DEPENDS_ANNOTATION = "periph.dev/depends-on"
ENV_HASH_ANNOTATION = "periph.dev/env-hash"
STORAGE_KINDS = ("claim", "ephemeral")
DEFAULT_QUOTA = {
    "pods": "20",
    "services": "10",
    "persistentvolumeclaims": "5",
    "requests.cpu": "4",
    "requests.memory": "8Gi",
}
DEFAULT_REQUESTS = {"cpu": "50m", "memory": "64Mi"}
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class TranslationError(UsageError):
    """The compose model holds something that has no place on a cluster (named)."""


@dataclass(frozen=True)
class Target:
    """Where and how the stack lands: namespace, the developer, images, placement."""

    user: str
    namespace: str
    images: dict[str, str]  # compose image name (peripheral-backend:dev) -> pushed reference
    storage: str = "ephemeral"
    storage_class: str | None = None
    volume_size: str = "1Gi"
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[Obj] = field(default_factory=list)
    pull_secret: str | None = None  # name of a dockerconfigjson Secret pods pull with
    quota: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_QUOTA))


@dataclass(frozen=True)
class Forward:
    """A port the developer reaches on localhost: ``local`` -> ``service``:``remote``."""

    service: str
    remote: int
    local: int
    host: str = "127.0.0.1"


def user_slug(user: str) -> str:
    """``user`` as a DNS label part (lowercase, ``[a-z0-9-]``), short enough for a namespace."""
    slug = re.sub(r"[^a-z0-9-]+", "-", user.lower()).strip("-")
    slug = slug[: 63 - len(NAMESPACE_PREFIX)].rstrip("-")
    if not slug:
        raise TranslationError(
            f"cannot make a namespace name from the user name {user!r}",
            hint='set `user = "..."` under [dev.cluster] in periph.toml',
        )
    return slug


def namespace_for(user: str) -> str:
    """The developer's namespace: ``peripheral-dev-<user>``."""
    return NAMESPACE_PREFIX + user_slug(user)


def labels(user: str, service: str | None = None) -> dict[str, str]:
    """The labels every object of ``user``'s dev stack carries (``service``: its own too)."""
    out = {MANAGED_BY: "periph", STACK_LABEL: user_slug(user)}
    if service is not None:
        out[SERVICE_LABEL] = service
    return out


def selector(user: str) -> str:
    """The label selector of everything ``up`` made for ``user``."""
    return ",".join(f"{k}={v}" for k, v in labels(user).items())


def unescape(value: str) -> str:
    """A value as the container sees it: ``compose config`` prints each ``$`` as ``$$``."""
    return value.replace("$$", "$")


def seconds(value: Any, default: float) -> float:
    """A Compose duration (``2s``, ``1m0s``, ``500ms``, or a number of seconds)."""
    if value is None:
        return default
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise TranslationError(f"not a duration: {value!r}", hint="e.g. 2s, 1m30s, 500ms")
    return sum(float(n) * _UNIT[u] for n, u in parts)


def services(config: Obj) -> dict[str, Obj]:
    """The compose model's services (a ``TranslationError`` if it has none)."""
    found = config.get("services")
    if not isinstance(found, dict) or not found:
        raise TranslationError("the compose model has no services")
    return found


def one_shots(config: Obj) -> set[str]:
    """Services another one waits for with ``service_completed_successfully``."""
    out = set()
    for raw in services(config).values():
        for dep, cond in (raw.get("depends_on") or {}).items():
            if (cond or {}).get("condition") == "service_completed_successfully":
                out.add(dep)
    return out


def waves(config: Obj, only: Iterable[str] | None = None) -> list[list[str]]:
    """Services grouped so each group depends only on earlier groups (apply order)."""
    all_services = services(config)
    wanted = set(only) if only is not None else set(all_services)
    deps = {
        name: {d for d in (raw.get("depends_on") or {}) if d in wanted}
        for name, raw in all_services.items()
        if name in wanted
    }
    placed: set[str] = set()
    out: list[list[str]] = []
    while len(placed) < len(deps):
        wave = [n for n in deps if n not in placed and deps[n] <= placed]
        if not wave:
            left = sorted(set(deps) - placed)
            raise TranslationError(f"dependency cycle among services: {', '.join(left)}")
        out.append(wave)
        placed.update(wave)
    return out


def forwards(config: Obj) -> list[Forward]:
    """Every published TCP port: where the developer reaches it on localhost."""
    out = []
    for name, raw in services(config).items():
        for port in raw.get("ports") or []:
            if port.get("protocol", "tcp") != "tcp" or not port.get("published"):
                continue
            published = str(port["published"]).split("-")[0]
            host = port.get("host_ip") or "127.0.0.1"
            out.append(Forward(name, int(port["target"]), int(published), host))
    return out


def env_hash(env: dict[str, str]) -> str:
    """A digest of one service's values (a changed ``.env`` value rolls the pod)."""
    digest = hashlib.sha256()
    for key in sorted(env):
        digest.update(f"{key}\0{env[key]}\0".encode())
    return digest.hexdigest()[:16]


def environment(raw: Obj) -> dict[str, str]:
    """The service's environment as the container reads it (unset keys dropped)."""
    env = raw.get("environment") or {}
    if isinstance(env, list):  # compose config prints a mapping; be lenient with lists
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {str(k): unescape(str(v)) for k, v in env.items() if v is not None}


def translate(config: Obj, target: Target) -> list[Obj]:
    """Every object of the dev stack in ``target``'s namespace (see the module docstring)."""
    if target.storage not in STORAGE_KINDS:
        raise TranslationError(
            f"[dev.cluster] storage = {target.storage!r} is not one of {', '.join(STORAGE_KINDS)}"
        )
    all_services = services(config)
    for name in all_services:
        if not _DNS_LABEL.match(name) or len(name) > 63:
            raise TranslationError(
                f"service {name!r}: not a valid Kubernetes name (lowercase letters, digits "
                "and '-', starting with a letter)",
                hint="rename the service in compose/compose.yaml",
            )
    jobs = one_shots(config)
    objs: list[Obj] = [_namespace(target), *_limits(target)]
    secret_data: dict[str, str] = {}
    claims: dict[str, Obj] = {}
    workloads: list[Obj] = []
    for name, raw in all_services.items():
        env = environment(raw)
        secret_data.update({f"{name}.{k}": v for k, v in env.items()})
        volumes, mounts = _volumes(name, raw, target, claims)
        pod = _pod_spec(name, raw, env, target, volumes, mounts, job=name in jobs)
        workloads.append(_workload(name, raw, pod, env, target, job=name in jobs))
        service = _service(name, raw, target)
        if service is not None and name not in jobs:
            objs.append(service)
    objs.append(_meta("v1", "Secret", ENV_SECRET, target, type="Opaque", stringData=secret_data))
    objs.extend(claims.values())
    objs.extend(workloads)
    return objs


def _meta(api: str, kind: str, name: str, target: Target, service: str | None = None, **rest):
    obj: Obj = {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "labels": labels(target.user, service)},
    }
    if kind != "Namespace":
        obj["metadata"]["namespace"] = target.namespace
    obj.update(rest)
    return obj


def _namespace(target: Target) -> Obj:
    return _meta("v1", "Namespace", target.namespace, target)


def _limits(target: Target) -> list[Obj]:
    quota = _meta("v1", "ResourceQuota", "periph-dev", target, spec={"hard": dict(target.quota)})
    limits = _meta(
        "v1",
        "LimitRange",
        "periph-dev",
        target,
        spec={"limits": [{"type": "Container", "defaultRequest": dict(DEFAULT_REQUESTS)}]},
    )
    return [quota, limits]


def _ports(raw: Obj) -> list[int]:
    """Container ports: published ``ports`` targets and ``expose`` entries, in order."""
    found: list[int] = []
    for port in raw.get("ports") or []:
        if port.get("protocol", "tcp") == "tcp" and int(port["target"]) not in found:
            found.append(int(port["target"]))
    for entry in raw.get("expose") or []:
        port = int(str(entry).split("/")[0].split("-")[0])
        if port not in found:
            found.append(port)
    return found


def _service(name: str, raw: Obj, target: Target) -> Obj | None:
    ports = _ports(raw)
    if not ports:
        return None
    spec = {
        "selector": labels(target.user, name),
        "ports": [{"name": f"p{p}", "port": p, "targetPort": p, "protocol": "TCP"} for p in ports],
    }
    return _meta("v1", "Service", name, target, name, spec=spec)


def _probe(name: str, raw: Obj) -> Obj | None:
    health = raw.get("healthcheck") or {}
    test = health.get("test")
    if not test or health.get("disable") or test == ["NONE"]:
        return None
    if isinstance(test, str):
        command = ["/bin/sh", "-c", unescape(test)]
    elif test[0] == "CMD-SHELL":
        command = ["/bin/sh", "-c", unescape(" ".join(test[1:]))]
    elif test[0] == "CMD":
        command = [unescape(t) for t in test[1:]]
    else:
        raise TranslationError(f"service {name!r}: healthcheck test {test[0]!r} is not understood")
    return {
        "exec": {"command": command},
        "periodSeconds": max(1, math.ceil(seconds(health.get("interval"), 30))),
        "timeoutSeconds": max(1, math.ceil(seconds(health.get("timeout"), 30))),
        "failureThreshold": max(1, int(health.get("retries") or 3)),
    }


def _volumes(
    name: str, raw: Obj, target: Target, claims: dict[str, Obj]
) -> tuple[list[Obj], list[Obj]]:
    volumes: list[Obj] = []
    mounts: list[Obj] = []
    for index, vol in enumerate(raw.get("volumes") or []):
        kind, mount_at = vol.get("type"), vol.get("target")
        vol_name = f"v{index}"
        if kind == "volume" and vol.get("source"):
            source = str(vol["source"])
            if target.storage == "claim":
                claim = _claim_name(source)
                claims.setdefault(claim, _claim(claim, target))
                volumes.append({"name": vol_name, "persistentVolumeClaim": {"claimName": claim}})
            else:
                volumes.append({"name": vol_name, "emptyDir": {}})
        elif kind == "tmpfs" or kind == "volume":
            volumes.append({"name": vol_name, "emptyDir": {"medium": "Memory"}})
        else:
            raise TranslationError(
                f"service {name!r}: a {kind} mount of {vol.get('source')!r} cannot reach a cluster",
                hint="use a named volume, or a develop.watch sync rule for source files",
            )
        mount = {"name": vol_name, "mountPath": mount_at}
        if vol.get("read_only"):
            mount["readOnly"] = True
        mounts.append(mount)
    return volumes, mounts


def _claim_name(volume: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", volume.lower()).strip("-")
    return f"dev-{name}"[:63].rstrip("-")


def _claim(name: str, target: Target) -> Obj:
    spec: Obj = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": target.volume_size}},
    }
    if target.storage_class:
        spec["storageClassName"] = target.storage_class
    return _meta("v1", "PersistentVolumeClaim", name, target, spec=spec)


def _command(value: Any) -> list[str] | None:
    """A compose command/entrypoint as a container's: ``$(`` escaped (Kubernetes expands
    ``$(VAR)`` in command and args; the shell in the container must see it as written)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = ["/bin/sh", "-c", value]
    return [unescape(str(v)).replace("$(", "$$(") for v in value]


def _image(name: str, raw: Obj, target: Target) -> str:
    image = raw.get("image")
    if not image:
        raise TranslationError(
            f"service {name!r} names no image: a cluster pulls images by name",
            hint="give the service an `image:` in compose/compose.yaml",
        )
    if image not in target.images:
        raise TranslationError(
            f"service {name!r}: image {image} was not pushed for the cluster",
            hint="it needs a `build:` in compose.yaml, or an image the cluster can pull",
        )
    return target.images[image]


def _pod_spec(
    name: str,
    raw: Obj,
    env: dict[str, str],
    target: Target,
    volumes: list[Obj],
    mounts: list[Obj],
    *,
    job: bool,
) -> Obj:
    container: Obj = {
        "name": name,
        "image": _image(name, raw, target),
        "imagePullPolicy": "IfNotPresent",
        "env": [
            {
                "name": key,
                "valueFrom": {"secretKeyRef": {"name": ENV_SECRET, "key": f"{name}.{key}"}},
            }
            for key in env
        ],
    }
    for compose_key, kube_key in (("entrypoint", "command"), ("command", "args")):
        value = _command(raw.get(compose_key))
        if value is not None:
            container[kube_key] = value
    ports = _ports(raw)
    if ports:
        container["ports"] = [{"containerPort": p, "protocol": "TCP"} for p in ports]
    probe = None if job else _probe(name, raw)
    if probe is not None:
        container["readinessProbe"] = probe
    if raw.get("working_dir"):
        container["workingDir"] = raw["working_dir"]
    if raw.get("user"):
        user = str(raw["user"]).split(":")
        if all(part.isdigit() for part in user):
            container["securityContext"] = {"runAsUser": int(user[0])}
            if len(user) > 1:
                container["securityContext"]["runAsGroup"] = int(user[1])
    if mounts:
        container["volumeMounts"] = mounts
    spec: Obj = {
        "enableServiceLinks": False,
        "containers": [container],
        "terminationGracePeriodSeconds": 5,  # a dev server need not drain
    }
    if volumes:
        spec["volumes"] = volumes
    if job:
        spec["restartPolicy"] = "Never"
    if target.node_selector:
        spec["nodeSelector"] = dict(target.node_selector)
    if target.tolerations:
        spec["tolerations"] = [dict(t) for t in target.tolerations]
    if target.pull_secret:
        spec["imagePullSecrets"] = [{"name": target.pull_secret}]
    return spec


def _workload(name: str, raw: Obj, pod: Obj, env: dict[str, str], target: Target, *, job: bool):
    own = labels(target.user, name)
    annotations = {ENV_HASH_ANNOTATION: env_hash(env)}
    template = {"metadata": {"labels": own, "annotations": annotations}, "spec": pod}
    obj_annotations = {}
    if raw.get("depends_on"):
        obj_annotations[DEPENDS_ANNOTATION] = ",".join(sorted(raw["depends_on"]))
    if job:
        # A failed migration is retried a few times (a db that just became Ready may still
        # refuse a connection or two), then reported with its log.
        spec: Obj = {"backoffLimit": 3, "template": template}
        obj = _meta("batch/v1", "Job", name, target, name, spec=spec)
    else:
        spec = {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": own},
            "template": template,
        }
        obj = _meta("apps/v1", "Deployment", name, target, name, spec=spec)
    if obj_annotations:
        obj["metadata"]["annotations"] = obj_annotations
    return obj
