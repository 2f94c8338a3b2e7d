"""Operations on a running environment: rollout status, rollback, history, logs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from periph_env.deploy import guards, history, history_store, manifests, rollback
from periph_env.deploy.engine import _finish_record, _git_info, _notify, _open, _watch
from periph_env.deploy.events import Event, Finished, Note, RolledBack, RolloutVerdict, Step
from periph_env.deploy.kube import Kube
from periph_env.deploy.lock import DeployLock, locked
from periph_env.deploy.sources import SecretSource
from periph_env.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError

DEFAULT_TIMEOUT = 660.0


def deployments(kube: Kube, environment: str) -> list[str]:
    """Deployments periph manages for ``environment`` (else all of the namespace's)."""
    selector = f"{manifests.MANAGED_BY}=periph,{manifests.ENV_LABEL}={environment}"
    names = [d["metadata"]["name"] for d in kube.items("get", "deployments", "-l", selector)]
    return names or [d["metadata"]["name"] for d in kube.items("get", "deployments")]


def _timeout(kube: Kube, names: list[str]) -> float:
    deadlines = [
        d.get("spec", {}).get("progressDeadlineSeconds", 600)
        for d in kube.items("get", "deployments")
        if d["metadata"]["name"] in names
    ]
    return max(deadlines, default=600) + 60.0


def rollout_status(
    root: str | Path, environment: str, timeout: float | None = None
) -> Iterator[Event]:
    """Watch the environment's Deployments until each is rolled out or one fails."""
    started = time.monotonic()
    target, _, _, kube = _open(root, environment)
    context = guards.safely("context", lambda: guards.context_guard(target, kube))
    yield context
    if not context.ok:
        yield Finished("refused", EXIT_USAGE, 0.0, message="refused by context")
        return
    names = deployments(kube, environment)
    if not names:
        yield Finished("failed", EXIT_FAILURE, 0.0, message=f"no Deployments in {target.namespace}")
        return
    failed = []
    for event in _watch(kube, names, timeout or _timeout(kube, names), after_change=False):
        if isinstance(event, RolloutVerdict) and not event.ok:
            failed.append(event)
        yield event
    if failed:
        yield Finished(
            "failed", EXIT_FAILURE, time.monotonic() - started, message=failed[0].message
        )
    else:
        yield Finished("succeeded", EXIT_OK, time.monotonic() - started, message="all rolled out")


def _targets_for(
    kube: Kube, environment: str, names: list[str], to_revision: int | None
) -> dict[str, int]:
    if to_revision is None:
        out = {}
        for name in names:
            previous = rollback.previous_revision(kube, name)
            if previous:
                out[name] = previous
        return out
    records = {r.revision: r for r in history_store.records(kube, environment)}
    record = records.get(to_revision)
    if record is None:
        known = ", ".join(str(r) for r in sorted(records)) or "none"
        raise UsageError(
            f"no deploy #{to_revision} in the history of {environment} (recorded: {known})",
            hint=f"periph history {environment}",
        )
    if record.status == history.UNREADABLE:
        raise UsageError(
            f"cannot return to deploy #{to_revision}: {record.message}",
            hint=f"periph history {environment}",
        )
    out = {}
    current = rollback.revisions(kube, names)
    for name in names:
        template = record.templates.get(name)
        revision = rollback.revision_of_template(kube, name, template) if template else None
        if revision is None:
            raise UsageError(
                f"deployment {name}: the ReplicaSet of deploy #{to_revision} is no longer kept",
                hint="revisionHistoryLimit keeps only the newest ReplicaSets",
            )
        if revision != current.get(name):
            out[name] = revision
    return out


def rollback_environment(
    root: str | Path, environment: str, to_revision: int | None = None, *, wait: bool = False
) -> Iterator[Event]:
    """Return the environment's Deployments to their previous revision (or to deploy #N),
    holding the environment's lock (refused, exit 2, while another run holds it; ``wait``)."""
    started = time.monotonic()
    target, source, _, kube = _open(root, environment)
    context = guards.safely("context", lambda: guards.context_guard(target, kube))
    yield context
    if not context.ok:
        yield Finished("refused", EXIT_USAGE, 0.0, message="refused by context")
        return
    lock = DeployLock(
        kube, environment, "rollback", _git_info(target.root)[0], create_namespace=False
    )
    run = _rollback(target.root, source, kube, environment, to_revision, started, lock.identity)
    yield from locked(lock, run, wait=wait, started=started)


def _rollback(
    root: Path, source: SecretSource | None, kube: Kube, environment: str,
    to_revision: int | None, started: float, holder: str,
) -> Iterator[Event]:  # fmt: skip
    names = deployments(kube, environment)
    if not names:
        yield Finished("failed", EXIT_FAILURE, 0.0, message=f"no Deployments in {kube.namespace}")
        return
    targets = _targets_for(kube, environment, names, to_revision)
    if not targets:
        yield Note("every Deployment already runs that revision; nothing to roll back")
        yield Finished("succeeded", EXIT_OK, time.monotonic() - started)
        return
    existing = history_store.records(kube, environment)
    sha, branch = _git_info(root)
    before = rollback.revisions(kube, names)
    record = history.Record(
        environment=environment,
        revision=history.next_revision(existing),
        action="rollback",
        status=history.RUNNING,
        user=history_store.who(),
        started=history_store.now(),
        git_sha=sha,
        git_branch=branch,
        previous=before,
        message=f"to deploy #{to_revision}" if to_revision else "to previous revisions",
        holder=holder,
    )
    history_store.save(kube, record)
    yield Step("rollback")
    for name, revision in targets.items():
        rollback.undo(kube, name, revision)
    failed = []
    for event in _watch(kube, list(targets), _timeout(kube, list(targets))):
        if isinstance(event, RolloutVerdict) and not event.ok:
            failed.append(event)
        yield event
    ok = not failed
    message = ", ".join(f"{n} to revision {r}" for n, r in targets.items())
    yield RolledBack(targets, ok, f"rolled back {message}")
    _finish_record(kube, record, "succeeded" if ok else "failed", started, record.message)
    yield from _notify(record, source, kube)
    yield Finished(
        "succeeded" if ok else "failed",
        EXIT_OK if ok else EXIT_FAILURE,
        time.monotonic() - started,
        record.revision,
        message=f"rolled back {message}" if ok else failed[0].message,
    )


def read_history(root: str | Path, environment: str) -> list[history.Record]:
    """The environment's deploy history, newest first, as stored in the cluster."""
    target, _, _, kube = _open(root, environment)
    context = guards.context_guard(target, kube)
    if not context.ok:
        raise UsageError(context.message, hint=context.hint)
    return history_store.shown_records(kube, environment)
