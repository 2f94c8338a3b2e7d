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
UNREADABLE = "unreadable"  # a stand-in for a ConfigMap whose record cannot be read


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
    # the schema check (schema.Difference.as_record): applied, left_applied, contract, ...
    schema: dict[str, Any] = field(default_factory=dict)
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


class UnreadableRecord(ValueError):
    """A history ConfigMap whose shape periph does not recognise; says why, never what."""


# Field -> the JSON types it may hold (bool is excluded from int separately).
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "environment": (str,),
    "revision": (int,),
    "action": (str,),
    "status": (str,),
    "user": (str,),
    "started": (str,),
    "git_sha": (str,),
    "git_branch": (str,),
    "images": (dict,),
    "deployments": (dict,),
    "previous": (dict,),
    "templates": (dict,),
    "duration": (int, float, type(None)),
    "message": (str,),
    "verification": (dict,),
    "schema": (dict,),
}
_REQUIRED = ("environment", "revision", "action", "status", "user", "started")
_MAPS = {"images": str, "deployments": int, "previous": int, "templates": str}
MAX_RECORD_BYTES = 256 * 1024  # periph writes ~2 KB; anything near 1 MiB is not its record


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")  # fmt: skip


def _check_shape(data: Any) -> None:
    """UnreadableRecord naming the first field of the wrong shape (never its value)."""
    if not isinstance(data, dict):
        raise UnreadableRecord(f"{DATA_KEY} holds {_type_name(data)}, expected an object")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise UnreadableRecord(f"{DATA_KEY} lacks {', '.join(missing)}")
    for name, types in _FIELD_TYPES.items():
        if name not in data:
            continue
        value = data[name]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise UnreadableRecord(f"{name} is {_type_name(value)}, of the wrong type")
        wanted = _MAPS.get(name)
        if wanted is not None:
            for item in value.values():
                if not isinstance(item, wanted) or isinstance(item, bool):
                    raise UnreadableRecord(f"{name} holds {_type_name(item)}, of the wrong type")


def decode(configmap: dict[str, Any]) -> Record:
    """The record a ConfigMap holds; unknown fields (a newer periph) are ignored.

    Raises ``UnreadableRecord`` (why, never the content) for any other shape: no data,
    data that is not JSON, missing or mistyped fields, an implausibly large record.
    """
    if not isinstance(configmap, dict):
        raise UnreadableRecord("not an object")
    data = configmap.get("data")
    if not isinstance(data, dict) or DATA_KEY not in data:
        raise UnreadableRecord(f"no {DATA_KEY} in its data")
    raw = data[DATA_KEY]
    if not isinstance(raw, str):
        raise UnreadableRecord(f"{DATA_KEY} is {_type_name(raw)}, expected text")
    if len(raw) > MAX_RECORD_BYTES:
        raise UnreadableRecord(f"{DATA_KEY} is {len(raw) // 1024} KiB, larger than any record")
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if hasattr(exc, "lineno") else ""
        raise UnreadableRecord(f"{DATA_KEY} is not JSON{where}") from None
    except RecursionError:
        raise UnreadableRecord(f"{DATA_KEY} is nested too deeply") from None
    _check_shape(parsed)
    known = {k: v for k, v in parsed.items() if k in Record.__dataclass_fields__}
    record = Record(**known)
    named = _revision_in_name(configmap)
    if named is not None and named != record.revision:
        raise UnreadableRecord(f"its name says revision {named}, its record {record.revision}")
    return record


def configmap_name(configmap: Any) -> str:
    """The ConfigMap's name, or ``(unnamed)``."""
    meta = configmap.get("metadata") if isinstance(configmap, dict) else None
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) and name else "(unnamed)"


def _revision_in_name(configmap: Any) -> int | None:
    """N of ``periph.deploy.<env>.v<N>``, None when the name has another shape."""
    _, _, tail = configmap_name(configmap).rpartition(".v")
    return int(tail) if tail.isdigit() and len(tail) < 10 else None


def unreadable(configmap: Any, environment: str, why: str) -> Record:
    """A stand-in for a record that cannot be read: its name and why, never its content.

    Its revision comes from the ConfigMap's name (0 when that is odd too), so the next
    deploy still counts past it and ``history`` shows it in its place.
    """
    name = configmap_name(configmap)
    return Record(
        environment=environment,
        revision=_revision_in_name(configmap) or 0,
        action="-",
        status=UNREADABLE,
        user="-",
        started="-",
        message=f"unreadable record {name}: {why}",
    )


def ordered(configmaps: list[dict[str, Any]], environment: str = "") -> list[Record]:
    """Records from a label query, newest first; one that cannot be read stays in the list
    as an ``unreadable`` stand-in naming the ConfigMap and why."""
    records = []
    for cm in configmaps if isinstance(configmaps, list) else []:
        try:
            records.append(decode(cm))
        except UnreadableRecord as exc:
            records.append(unreadable(cm, environment or _label_environment(cm), str(exc)))
    return sorted(records, key=lambda r: r.revision, reverse=True)


def _label_environment(configmap: Any) -> str:
    meta = configmap.get("metadata") if isinstance(configmap, dict) else None
    labels = meta.get("labels") if isinstance(meta, dict) else None
    env = labels.get(ENV_LABEL) if isinstance(labels, dict) else None
    return env if isinstance(env, str) else ""


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
