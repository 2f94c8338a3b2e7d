"""Reading and writing deploy history records in the cluster (see ``history`` for the format)."""

from __future__ import annotations

import getpass
import json
import os
import socket
from datetime import UTC, datetime

from periph_env.deploy import history as h
from periph_env.deploy.kube import Kube
from periph_env.errors import EngineError


def who() -> str:
    """Who deploys: the CI actor, else git's user.email, else user@host."""
    from periph_env.common.process import run

    for var in ("GITHUB_ACTOR", "GITLAB_USER_LOGIN", "PERIPH_DEPLOYER"):
        if os.environ.get(var):
            return os.environ[var]
    email = run(["git", "config", "user.email"], check=False).stdout.strip()
    if email:
        return email
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def now() -> str:
    """The current time, ISO 8601 in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def records(kube: Kube, environment: str) -> list[h.Record]:
    """Every stored record of ``environment``, newest first (none if the namespace is new)."""
    proc = kube.run("get", "configmaps", "-l", h.selector(environment), "-o", "json", check=False)
    if proc.returncode != 0:
        if "NotFound" in proc.stderr or "not found" in proc.stderr:
            return []
        raise EngineError(
            f"cannot read the deploy history in {kube.namespace}: {proc.stderr.strip()[-300:]}"
        )
    return h.ordered(json.loads(proc.stdout).get("items", []))


def save(kube: Kube, record: h.Record) -> None:
    """Create or update ``record``'s ConfigMap, then drop records beyond the newest KEEP."""
    kube.apply([h.encode(record, kube.namespace)])


def prune(kube: Kube, environment: str) -> None:
    """Delete records beyond the newest ``history.KEEP``."""
    old = h.expired(records(kube, environment))
    if old:
        names = [h.object_name(environment, r.revision) for r in old]
        kube.run("delete", "configmap", "--ignore-not-found", *names, check=False)


def mark_interrupted(kube: Kube, existing: list[h.Record]) -> None:
    """Records left ``running`` by a deploy that was killed become ``interrupted``."""
    for record in existing:
        if record.status == h.RUNNING:
            record.status = h.INTERRUPTED
            record.message = "the deploy stopped before recording a result (killed?)"
            save(kube, record)
