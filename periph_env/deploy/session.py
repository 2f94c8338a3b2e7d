"""What every deploy operation shares: the opened environment, its history record's ending,
the notifications, the rollout watch. The deploy, rollback, rollout-status and verify runs
(``periph_env.deploy.runs``) build on these; nothing here knows which operation it serves.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from periph_env.common.runs import Run
from periph_env.deploy import guards, history, history_store, notify, rollback
from periph_env.deploy.events import Event, Note, Notified
from periph_env.deploy.kube import Kube
from periph_env.deploy.migrate import mask
from periph_env.deploy.sources import SecretSource, read_source
from periph_env.deploy.target import Target, resolve
from periph_env.deploy.watch import RolloutWatch
from periph_env.errors import PeriphError

ROLLOUT_MARGIN = 60.0  # seconds past the longest progress deadline before giving up
DEFAULT_PROGRESS_DEADLINE = 600  # a Deployment's progressDeadlineSeconds when unset
# The rollout watch's queue item that only wakes it (its loop then sees the stop request).
_WAKE = ("Stop", "SYNCED", {})


@dataclass
class Session:
    """An environment opened for an operation: its target, secrets source and cluster.

    ``source_error`` is kept, not raised: the deploy's env-check guard reports it among the
    other guards; operations that need no secrets run without them.
    """

    target: Target
    source: SecretSource | None
    source_error: PeriphError | None
    kube: Kube
    _git: guards.GitState | None = field(default=None, repr=False)

    def git(self) -> guards.GitState:
        """The work tree's commit, branch and changes, read once per session."""
        if self._git is None:
            self._git = guards.read_git(self.target.root)
        return self._git


def kube_for(target: Target, secrets: Iterable[str] | None = None) -> Kube:
    """The one way a ``Kube`` is built from a target: its context and namespace, masking
    ``secrets`` (default: the secret values of its source, none when it cannot be read)."""
    if secrets is None:
        try:
            secrets = read_source(target).secret_values()
        except PeriphError:
            secrets = []
    return Kube(target.context, target.namespace, secrets)


def open_session(root: str | Path, environment: str) -> Session:
    """Resolve ``environment`` of the project at ``root`` and bind kubectl to its context."""
    target = resolve(root, environment)
    source, error = None, None
    try:
        source = read_source(target)
    except PeriphError as exc:
        error = exc
    kube = kube_for(target, source.secret_values() if source else [])
    return Session(target, source, error, kube)


def git_info(root: Path) -> tuple[str, str]:
    """The commit and branch at ``root`` (branch "" when detached)."""
    state = guards.read_git(root)
    return state.sha, state.branch


def rollout_timeout(deployments: Iterable[dict]) -> float:
    """How long a rollout of ``deployments`` may take: their longest
    ``progressDeadlineSeconds`` (default 600) plus ``ROLLOUT_MARGIN``."""
    deadlines = [
        (d.get("spec") or {}).get("progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE)
        for d in deployments
    ]
    return max(deadlines, default=DEFAULT_PROGRESS_DEADLINE) + ROLLOUT_MARGIN


def new_record(
    session: Session,
    action: str,
    previous: dict[str, int],
    *,
    holder: str = "",
    images: dict[str, str] | None = None,
    message: str = "",
) -> tuple[history.Record, list[history.Record]]:
    """The "running" record of a new deploy or rollback (the next free revision, who, when,
    the commit) and the records already stored (read once for both)."""
    existing = history_store.records(session.kube, session.target.name)
    git = session.git()
    record = history.Record(
        environment=session.target.name,
        revision=history.next_revision(existing),
        action=action,
        status=history.RUNNING,
        user=history_store.who(),
        started=history_store.now(),
        git_sha=git.sha,
        git_branch=git.branch,
        images=dict(images or {}),
        previous=previous,
        message=message,
        holder=holder,
    )
    return record, existing


def finish_record(
    kube: Kube, record: history.Record, status: str, started: float, message: str = ""
) -> None:
    """Write ``record``'s ending (status, duration, message, revisions) to the cluster."""
    record.status = status
    record.duration = round(time.monotonic() - started, 1)
    record.message = mask(message, kube.secrets)
    try:
        record.deployments = rollback.revisions(kube, list(record.previous) or None)
        record.templates = rollback.template_hashes(kube, list(record.deployments))
    except PeriphError:
        pass  # the revisions are a help for rollback --to-revision, not the record itself
    history_store.save(kube, record)
    if record.revision > history.KEEP:
        history_store.prune(kube, record.environment)


def notifications(record: history.Record, source: SecretSource | None, kube: Kube) -> list[Event]:
    """Send ``record``'s result to every configured channel; one event per channel tried."""
    if source is None:
        return []
    return [
        Notified(channel, error is None, error)
        for channel, error in notify.send(record, source.values, kube.secrets)
    ]


def watch(
    kube: Kube,
    names: list[str],
    timeout: float,
    *,
    after_change: bool = True,
    run: Run | None = None,
    **judged: Any,
) -> Iterator[Event]:
    """Watch ``names`` roll out; ``after_change`` when periph has just changed them.

    With ``run``, a stop request ends the watch at once (``Stopped`` is raised).
    ``judged``: the StatefulSets, Jobs and claims judged too (``stateful.judged``).
    """
    rollout = RolloutWatch(
        kube.client(), kube.namespace, names, timeout,
        after_change=after_change, secrets=kube.secrets,
        stop=run.stop_event if run is not None else None, **judged,
    )  # fmt: skip
    if run is not None:
        run.on_stop(lambda: rollout.queue.put(_WAKE))
    yield from rollout.events()
    if run is not None:
        run.check()
    if rollout.reconnects:
        yield Note(f"watch resumed {rollout.reconnects} time(s) after a dropped connection")
