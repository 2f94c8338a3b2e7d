"""The deploy lock's Lease as data: who holds it, whether it lapsed, what to do (pure).

``periph_env.deploy.lock`` reads and writes the Lease; everything here takes objects and a
time and returns a decision or a sentence, so the takeover rules are tested without a cluster.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from periph_env.errors import UsageError

LEASE_NAME = "periph-deploy-lock"
DEFAULT_SECONDS = 30
SECONDS_VAR = "PERIPH_LOCK_SECONDS"
ANNOTATION = "periph.dev/lock-"  # + user, host, pid, commit, operation
VERBS = {"deploy": "deployed", "rollback": "rolled back", "verify": "verified"}

Obj = dict[str, Any]


# --- pure: who holds it, is it expired, what to do -------------------------------------------


@dataclass(frozen=True)
class Holder:
    """Who takes the lock, for what."""

    user: str
    host: str
    pid: int
    commit: str
    operation: str  # deploy | rollback | verify
    token: str  # random: two runs of one process are two holders

    @property
    def identity(self) -> str:
        """``spec.holderIdentity``: readable, and unique per run."""
        what = f"{self.operation}, {_commit(self.commit)}"
        return f"{self.user}@{self.host} pid {self.pid} ({what}) #{self.token}"

    def annotations(self) -> dict[str, str]:
        """The same facts, one annotation each, for ``describe`` on another machine."""
        fields = {"user": self.user, "host": self.host, "pid": str(self.pid)}
        fields |= {"commit": self.commit, "operation": self.operation}
        return {ANNOTATION + k: v for k, v in fields.items()}


def _commit(sha: str) -> str:
    return f"commit {sha[:7]}" if sha else "no commit"


def this_process(operation: str, commit: str = "") -> Holder:
    """The holder for a run of this process: login name, host name, pid, HEAD."""
    import getpass

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Holder(user, socket.gethostname(), os.getpid(), commit, operation, secrets.token_hex(3))


@dataclass(frozen=True)
class LeaseState:
    """The facts of a Lease that the decisions need (from its JSON)."""

    holder: str
    acquired: datetime | None
    renewed: datetime | None
    seconds: int
    resource_version: str
    annotations: dict[str, str]
    transitions: int = 0

    @classmethod
    def of(cls, lease: Obj) -> LeaseState:
        """A Lease object (as JSON) read from the API server."""
        spec = lease.get("spec") or {}
        meta = lease.get("metadata") or {}
        seconds, transitions = spec.get("leaseDurationSeconds"), spec.get("leaseTransitions")
        return cls(
            holder=str(spec.get("holderIdentity") or ""),
            acquired=parse_time(spec.get("acquireTime")),
            renewed=parse_time(spec.get("renewTime")),
            seconds=seconds if isinstance(seconds, int) and seconds > 0 else DEFAULT_SECONDS,
            resource_version=str(meta.get("resourceVersion") or ""),
            annotations={str(k): str(v) for k, v in (meta.get("annotations") or {}).items()},
            transitions=transitions if isinstance(transitions, int) else 0,
        )

    def expires(self) -> datetime | None:
        """When the lease lapses unless renewed (None: never renewed, so lapsed)."""
        last = self.renewed or self.acquired
        return last + timedelta(seconds=self.seconds) if last else None

    def expired(self, now: datetime) -> bool:
        """Whether the holder stopped renewing: ``renewTime + duration < now``."""
        expires = self.expires()
        return expires is None or expires < now


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 (Micro)Time as a UTC datetime; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def micro_time(moment: datetime) -> str:
    """A MicroTime as the API server parses it (RFC 3339, exactly six fraction digits)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# Decisions for one attempt to take the lock.
CREATE = "create"  # no lease: create one
TAKE_OVER = "take-over"  # a lease nobody renews (or released): replace it at its version
OURS = "ours"  # we hold it already
BUSY = "busy"  # someone holds it and renews it


def decide(lease: LeaseState | None, me: str, now: datetime) -> str:
    """What to do about the lease as read, for holder identity ``me`` at ``now``."""
    if lease is None:
        return CREATE
    if lease.holder == me:
        return OURS
    if not lease.holder or lease.expired(now):
        return TAKE_OVER
    return BUSY


def live_holder(lease: LeaseState | None, now: datetime) -> str | None:
    """The identity of whoever holds the lock and still renews it, if anyone."""
    if lease is None or not lease.holder or lease.expired(now):
        return None
    return lease.holder


def describe(lease: LeaseState) -> str:
    """``alice@host pid 123 (commit abc1234) since 12:01:03 UTC`` (its annotations, else
    its holderIdentity as written)."""
    notes = lease.annotations
    user, host = notes.get(ANNOTATION + "user"), notes.get(ANNOTATION + "host")
    if user and host:
        who = f"{user}@{host} pid {notes.get(ANNOTATION + 'pid', '?')}"
        who += f" ({_commit(notes.get(ANNOTATION + 'commit', ''))})"
    else:
        who = lease.holder or "(nobody)"
    since = lease.acquired or lease.renewed
    return who + (f" since {since.astimezone(UTC):%H:%M:%S} UTC" if since else "")


def operation_of(lease: LeaseState) -> str:
    """What the holder does: deploy, rollback or verify (deploy when unknown)."""
    return lease.annotations.get(ANNOTATION + "operation") or "deploy"


def busy_message(environment: str, lease: LeaseState) -> str:
    """``demo is being deployed by alice@host pid 123 (commit abc1234) since 12:01:03 UTC``."""
    verb = VERBS.get(operation_of(lease), operation_of(lease))
    return f"{environment} is being {verb} by {describe(lease)}"


def lease_body(holder: Holder, namespace: str, seconds: int, now: datetime, acquired: datetime,
               transitions: int = 0, resource_version: str = "") -> Obj:  # fmt: skip
    """The Lease this holder writes (create, take over, renew)."""
    metadata: Obj = {
        "name": LEASE_NAME,
        "namespace": namespace,
        "labels": {"owner": "periph"},
        "annotations": holder.annotations(),
    }
    if resource_version:
        metadata["resourceVersion"] = resource_version
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": {
            "holderIdentity": holder.identity,
            "leaseDurationSeconds": seconds,
            "acquireTime": micro_time(acquired),
            "renewTime": micro_time(now),
            "leaseTransitions": transitions,
        },
    }


def lease_seconds() -> int:
    """``$PERIPH_LOCK_SECONDS`` (2..300), else 30."""
    raw = os.environ.get(SECONDS_VAR, "")
    if not raw:
        return DEFAULT_SECONDS
    try:
        value = int(raw)
    except ValueError:
        raise UsageError(f"{SECONDS_VAR}={raw!r} is not a whole number of seconds") from None
    if not 2 <= value <= 300:
        raise UsageError(f"{SECONDS_VAR}={value}: use 2 to 300 seconds")
    return value
