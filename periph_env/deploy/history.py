"""Deploy history records and how they are stored in the cluster (pure encoding).

Like Helm's release Secrets, each deploy is one object in the environment's namespace, so
every maintainer sees the same history from any machine: a ConfigMap
``periph.deploy.<env>.v<N>`` labelled ``owner=periph``, ``periph.dev/environment``,
``periph.dev/revision`` and ``periph.dev/status``, holding the record as JSON. Records hold
no secret: who, when, git SHA, image digests, result, duration, Deployment revisions.

A revision is created, never overwritten (``history_store.save``): the first write is a
``create`` that moves to the next revision on a name clash, and later writes of the same
record replace it at the resourceVersion last written. A record says which run wrote it
(``holder``, the run's deploy-lock identity), so a ``running`` record whose run no longer
holds the environment's lock is shown as ``abandoned`` (``shown``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

OWNER_LABEL = "owner"
ENV_LABEL = "periph.dev/environment"
REVISION_LABEL = "periph.dev/revision"
STATUS_LABEL = "periph.dev/status"
DATA_KEY = "record.json"
KEEP = 20  # records kept per environment; older ones are deleted

RUNNING = "running"
INTERRUPTED = "interrupted"
ABANDONED = "abandoned"  # shown, never stored: "running", but its run holds no live lock


@dataclass
class Record:
    """One deploy (or rollback) of one environment."""

    environment: str
    revision: int
    action: str  # deploy | rollback
    status: str  # running | succeeded | failed | rolled-back | interrupted (| abandoned, shown)
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
    # the deploy-lock identity of the run that wrote it (empty: written before the lock)
    holder: str = ""
    # of the stored ConfigMap, for updates at the version last written; never stored or shown
    resource_version: str = field(default="", compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """The record as plain JSON-able data (what is stored, and what ``--format json``
        shows)."""
        data = asdict(self)
        del data["resource_version"]
        return data


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
    metadata: dict[str, Any] = {
        "name": object_name(record.environment, record.revision),
        "namespace": namespace,
        "labels": labels(record),
    }
    if record.resource_version:  # an update: refused (409) if someone wrote it since
        metadata["resourceVersion"] = record.resource_version
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
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


def shown(record: Record, live_holder: str | None) -> Record:
    """The record as history shows it: ``running`` only while the run that wrote it still
    holds the environment's lock (``live_holder``: who renews the lock now, None: nobody);
    otherwise its process is gone and it is ``abandoned``."""
    if record.status != RUNNING or (record.holder and record.holder == live_holder):
        return record
    gone = "its run is gone (it holds no live deploy lock) and never recorded a result"
    message = f"{record.message}; {gone}" if record.message else gone
    return replace(record, status=ABANDONED, message=message)


def expired(records: list[Record], keep: int = KEEP) -> list[Record]:
    """Records beyond the newest ``keep`` (to delete)."""
    return sorted(records, key=lambda r: r.revision, reverse=True)[keep:]
