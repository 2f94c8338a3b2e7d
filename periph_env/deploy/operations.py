"""Operations on a running environment: rollout status, rollback (owned runs), history."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from periph_env.deploy import guards, history, history_store, manifests, rollback, schema_read
from periph_env.deploy.events import Event, Note, RolledBack, RolloutVerdict, Step
from periph_env.deploy.kube import Kube
from periph_env.deploy.runs import Ending, OperationRun, Work
from periph_env.deploy.session import new_record, open_session, rollout_timeout, watch
from periph_env.errors import UsageError


def deployments(kube: Kube, environment: str) -> list[str]:
    """Deployments periph manages for ``environment`` (else all of the namespace's)."""
    selector = f"{manifests.MANAGED_BY}=periph,{manifests.ENV_LABEL}={environment}"
    names = [d["metadata"]["name"] for d in kube.list("Deployment", selector)]
    return names or [d["metadata"]["name"] for d in kube.list("Deployment")]


def _timeout(kube: Kube, names: list[str]) -> float:
    return rollout_timeout(d for d in kube.list("Deployment") if d["metadata"]["name"] in names)


class RolloutStatusRun(OperationRun):
    """``periph rollout status``: watch the Deployments until each rolled out or one failed."""

    action = "rollout status"

    def __init__(self, root: str | Path, environment: str, timeout: float | None = None) -> None:
        super().__init__(root, environment)
        self.timeout = timeout

    def work(self) -> Work:
        """The context guard, then the watch (nothing is changed, nothing recorded)."""
        session = self.open()
        target, kube = session.target, session.kube
        context = guards.safely("context", lambda: guards.context_guard(target, kube))
        yield context
        if not context.ok:
            return Ending("refused", "refused by context")
        names = deployments(kube, self.environment)
        if not names:
            return nothing_deployed(target.namespace, self.environment)
        yield Step("rollout")
        timeout = self.timeout or _timeout(kube, names)
        failed = []
        for event in watch(kube, names, timeout, after_change=False, run=self):
            if isinstance(event, RolloutVerdict) and not event.ok:
                failed.append(event)
            yield event
        if failed:
            return Ending("failed", failed[0].message)
        return Ending("succeeded", "all rolled out")


def rollout_status(
    root: str | Path, environment: str, timeout: float | None = None
) -> Iterator[Event]:
    """Watch the environment's Deployments until each is rolled out or one fails."""
    return RolloutStatusRun(root, environment, timeout).events()


def targets_for(
    kube: Kube, environment: str, names: list[str], to_revision: int | None
) -> dict[str, int]:
    """Deployment -> the revision a rollback returns it to (the previous one, or deploy
    #``to_revision``'s); only those that move. ``UsageError`` when #N cannot be returned to."""
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


def nothing_deployed(namespace: str, environment: str) -> Ending:
    """The ending of a rollback or rollout status with nothing there: a failure (exit 1),
    never a success a script would trust."""
    return Ending(
        "failed",
        f"nothing deployed: no Deployments in {namespace}",
        hint=f"periph deploy {environment}",
    )


class RollbackRun(OperationRun):
    """``periph rollback``: the Deployments back to their previous revision (or deploy #N),
    recorded in the history like a deploy."""

    action = "rollback"
    changes_cluster = True

    def __init__(
        self,
        root: str | Path,
        environment: str,
        to_revision: int | None = None,
        *,
        wait: bool = False,
        force_schema: bool = False,
    ) -> None:
        super().__init__(root, environment)
        self.to_revision, self.wait = to_revision, wait
        self.force_schema = force_schema  # go ahead across contract migrations

    def work(self) -> Work:
        """Context guard, the revisions to return to, the record, the undo, the watch."""
        session = self.open()
        target, kube, environment = session.target, session.kube, self.environment
        context = guards.safely("context", lambda: guards.context_guard(target, kube))
        yield context
        if not context.ok:
            return Ending("refused", "refused by context")
        yield from self.hold_lock("rollback", wait=self.wait, create_namespace=False)
        names = deployments(kube, environment)
        if not names:
            return nothing_deployed(kube.namespace, environment)
        targets = targets_for(kube, environment, names, self.to_revision)
        if not targets:
            yield Note("every Deployment already runs that revision; nothing to roll back")
            return Ending("succeeded")
        to = self.to_revision
        check = yield from schema_read.check(
            kube,
            target.root,
            f"rolling back to deploy #{to}" if to else "rolling back to the previous revisions",
            schema_read.deployment_images(kube, names, targets),
            schema_read.deployment_images(kube, names, {}),
            force=self.force_schema,
            sleep=self.sleep,
        )
        if not check.ok:
            return Ending("refused", check.message, hint=check.hint)
        record, _ = new_record(
            session,
            "rollback",
            rollback.revisions(kube, names),
            holder=self.lock.identity if self.lock is not None else "",
            message=f"to deploy #{to}" if to else "to previous revisions",
        )
        record.schema = check.record
        history_store.save(kube, record)
        self.record = record  # from here on, every ending is written to it
        yield Step("rollback")
        for name, revision in targets.items():
            rollback.undo(kube, name, revision)
        failed = []
        for event in watch(kube, list(targets), _timeout(kube, list(targets)), run=self):
            if isinstance(event, RolloutVerdict) and not event.ok:
                failed.append(event)
            yield event
        ok = not failed
        moved = ", ".join(f"{n} to revision {r}" for n, r in targets.items())
        yield RolledBack(targets, ok, f"rolled back {moved}")
        if ok:
            return Ending("succeeded", f"rolled back {moved}")
        return Ending("failed", f"{record.message}: {failed[0].message}")


def rollback_environment(
    root: str | Path,
    environment: str,
    to_revision: int | None = None,
    *,
    wait: bool = False,
    force_schema: bool = False,
) -> Iterator[Event]:
    """Return the environment's Deployments to their previous revision (or to deploy #N),
    holding the environment's lock (refused, exit 2, while another run holds it; ``wait``).
    Refused (exit 2) across a contract migration the database has applied, unless
    ``force_schema`` (``periph_env.deploy.schema_read``)."""
    run = RollbackRun(root, environment, to_revision, wait=wait, force_schema=force_schema)
    return run.events()


def read_history(root: str | Path, environment: str) -> list[history.Record]:
    """The environment's deploy history, newest first, as stored in the cluster."""
    session = open_session(root, environment)
    target, kube = session.target, session.kube
    context = guards.context_guard(target, kube)
    if not context.ok:
        raise UsageError(context.message, hint=context.hint)
    return history_store.shown_records(kube, environment)
