"""Engine JSON → ``ServiceStatus`` (pure; tested against recorded inspect output)."""

from __future__ import annotations

import re
from datetime import datetime

from periph_env.stack.models import ServiceStatus

SERVICE_LABEL = "com.docker.compose.service"
ONEOFF_LABEL = "com.docker.compose.oneoff"
_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$")


def parse_time(value: str | None) -> float | None:
    """Engine RFC 3339 time (nanoseconds, ``Z``) → epoch seconds; None for the zero time."""
    if not value or value.startswith("0001-"):
        return None
    match = _TIME.match(value)
    if match is None:
        return None
    zone = match[3] if match[3] and match[3] != "Z" else "+00:00"
    base = datetime.fromisoformat(match[1] + zone).timestamp()
    return base + (float("0." + match[2]) if match[2] else 0.0)


def ports(inspect: dict) -> list[str]:
    """Published ports as ``127.0.0.1:5058->5058/tcp``, sorted and de-duplicated."""
    out: set[str] = set()
    bindings = (inspect.get("NetworkSettings") or {}).get("Ports") or {}
    for container_port, hosts in bindings.items():
        for host in hosts or ():
            ip = host.get("HostIp") or "0.0.0.0"
            out.add(f"{ip}:{host.get('HostPort')}->{container_port}")
    if not bindings:  # a stopped container: show what it would publish
        for container_port, hosts in (
            (inspect.get("HostConfig") or {}).get("PortBindings") or {}
        ).items():
            for host in hosts or ():
                out.add(
                    f"{host.get('HostIp') or '0.0.0.0'}:{host.get('HostPort')}->{container_port}"
                )
    return sorted(out)


def status_from_inspect(inspect: dict, one_shot: bool = False) -> ServiceStatus:
    """One container's ``docker inspect`` JSON as the service's status."""
    state = inspect.get("State") or {}
    labels = (inspect.get("Config") or {}).get("Labels") or {}
    health = (state.get("Health") or {}).get("Status")
    status = state.get("Status") or "missing"
    return ServiceStatus(
        service=labels.get(SERVICE_LABEL, inspect.get("Name", "").lstrip("/")),
        state=status,
        health=health if status == "running" else None,
        ports=ports(inspect),
        started_at=parse_time(state.get("StartedAt")) if status == "running" else None,
        image=(inspect.get("Config") or {}).get("Image"),
        restart_count=int(inspect.get("RestartCount") or 0),
        exit_code=state.get("ExitCode") if status in ("exited", "dead") else None,
        # Reset by the engine when the container starts again; a restart policy's
        # "restarting" state between two runs still carries it.
        oom_killed=bool(state.get("OOMKilled")) and status != "running",
        memory_limit=int((inspect.get("HostConfig") or {}).get("Memory") or 0) or None,
        one_shot=one_shot,
        container_id=inspect.get("Id"),
    )


def statuses(
    containers: list[dict], order: list[str], one_shots: set[str], watched: set[str] = frozenset()
) -> list[ServiceStatus]:
    """A status per service in ``order`` (``missing`` when it has no container), plus any
    container of a service the file no longer declares. One-off ``run`` containers are left
    out; with several containers for one service, the newest wins."""
    newest: dict[str, dict] = {}
    for c in containers:
        labels = (c.get("Config") or {}).get("Labels") or {}
        if labels.get(ONEOFF_LABEL) == "True" or SERVICE_LABEL not in labels:
            continue
        name = labels[SERVICE_LABEL]
        if name not in newest or (c.get("Created") or "") > (newest[name].get("Created") or ""):
            newest[name] = c
    out = []
    for name in [*order, *sorted(set(newest) - set(order))]:
        if name in newest:
            status = status_from_inspect(newest[name], one_shot=name in one_shots)
        else:
            status = ServiceStatus(service=name, one_shot=name in one_shots)
        status.hot_reload = name in watched
        out.append(status)
    return out
