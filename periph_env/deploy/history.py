"""Deploy history records and how they are stored in the cluster (pure encoding).

Like Helm's release Secrets, each deploy is one object in the environment's namespace, so
every maintainer sees the same history from any machine: a ConfigMap
``periph.deploy.<env>.v<N>`` labelled ``owner=periph``, ``periph.dev/environment``,
``periph.dev/revision`` and ``periph.dev/status``, holding the record as JSON. Records hold
no secret: who, when, git SHA, image digests, result, duration, Deployment revisions.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

OWNER_LABEL = "owner"
ENV_LABEL = "periph.dev/environment"
REVISION_LABEL = "periph.dev/revision"
STATUS_LABEL = "periph.dev/status"
DATA_KEY = "record.json"
KEEP = 20  # records kept per environment; older ones are deleted

RUNNING = "running"
INTERRUPTED = "interrupted"


@dataclass
class Record:
    """One deploy (or rollback) of one environment."""

    environment: str
    revision: int
    action: str  # deploy | rollback
    status: str  # running | succeeded | failed | rolled-back | interrupted
    user: str
    started: str  # ISO 8601, UTC
    git_sha: str = ""
    git_branch: str = ""
    images: dict[str, str] = field(default_factory=dict)  # image name -> digest reference
    deployments: dict[str, int] = field(default_factory=dict)  # name -> revision after
    previous: dict[str, int] = field(default_factory=dict)  # name -> revision before
    # name -> pod-template-hash after: survives `rollout undo`, which renumbers revisions
    templates: dict[str, str] = field(default_factory=dict)
    duration: float | None = None
    message: str = ""
    # smoke checks and error-rate watch (verify.Outcome.as_record()); empty: not verified
    verification: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The record as plain JSON-able data."""
        return asdict(self)


def object_name(environment: str, revision: int) -> str:
    """The ConfigMap holding one record."""
    return f"periph.deploy.{environment}.v{revision}"


def labels(record: Record) -> dict[str, str]:
    """Labels that let ``kubectl get cm -l`` find and filter records without reading them."""
    return {
        OWNER_LABEL: "periph",
        ENV_LABEL: record.environment,
        REVISION_LABEL: str(record.revision),
        STATUS_LABEL: record.status,
    }


def selector(environment: str) -> str:
    """The label selector for every record of ``environment``."""
    return f"{OWNER_LABEL}=periph,{ENV_LABEL}={environment}"


def encode(record: Record, namespace: str) -> dict[str, Any]:
    """The ConfigMap manifest storing ``record``."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": object_name(record.environment, record.revision),
            "namespace": namespace,
            "labels": labels(record),
        },
        "data": {DATA_KEY: json.dumps(record.as_dict(), sort_keys=True)},
    }


def decode(configmap: dict[str, Any]) -> Record:
    """The record a ConfigMap holds; unknown fields (a newer periph) are ignored."""
    data = json.loads((configmap.get("data") or {})[DATA_KEY])
    known = {k: v for k, v in data.items() if k in Record.__dataclass_fields__}
    return Record(**known)


def ordered(configmaps: list[dict[str, Any]]) -> list[Record]:
    """Records from a label query, newest first; unreadable ones are skipped."""
    records = []
    for cm in configmaps:
        try:
            records.append(decode(cm))
        except (KeyError, ValueError, TypeError):
            continue
    return sorted(records, key=lambda r: r.revision, reverse=True)


def next_revision(records: list[Record]) -> int:
    """One more than the newest revision (1 for the first deploy)."""
    return max((r.revision for r in records), default=0) + 1


def expired(records: list[Record], keep: int = KEEP) -> list[Record]:
    """Records beyond the newest ``keep`` (to delete)."""
    return sorted(records, key=lambda r: r.revision, reverse=True)[keep:]
