"""Pure state of the Deploy area: deploy events and cluster snapshots folded together.

No Textual and no cluster I/O. ``DeployState.apply(event)`` takes the events of
``periph_env.deploy.events`` (by class name); ``pod_row`` / ``event_row`` turn the plain
dicts of a pod or event listing into what the rollout view shows. Unit-tested alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from periph_env.tui.formatting import uptime

# Reasons that make a pod a problem (kubectl's STATUS column words).
PROBLEM_REASONS = (
    "ImagePullBackOff",
    "ErrImagePull",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "InvalidImageName",
    "Error",
    "OOMKilled",
    "Failed",
)
RESULT_STYLES = {
    "succeeded": "green",
    "running": "cyan",
    "failed": "bold red",
    "rolled-back": "yellow",
    "refused": "bold red",
    "interrupted": "yellow",
    "abandoned": "yellow",
    "dry-run": "dim",
}


@dataclass
class PodRow:
    """One pod as the rollout view shows it."""

    name: str
    deployment: str
    status: str
    ready: str  # "1/1"
    restarts: int
    age: str
    problem: bool


@dataclass
class EventRow:
    """One Kubernetes event (newest last)."""

    when: str
    type: str
    object: str
    reason: str
    message: str


def _parse_time(value: Any) -> float | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _owner_deployment(pod: dict) -> str:
    """``backend-7d9f8c6b5-x2x9z`` belongs to ``backend`` (ReplicaSet name minus its hash)."""
    for owner in pod.get("metadata", {}).get("ownerReferences") or []:
        if owner.get("kind") == "ReplicaSet":
            return owner.get("name", "").rsplit("-", 1)[0]
    labels = pod.get("metadata", {}).get("labels") or {}
    return labels.get("app.kubernetes.io/name", "")


def pod_row(pod: dict, now: float) -> PodRow:
    """A pod dict (as the API serialises it) → status like ``kubectl get pods`` says it."""
    meta, status = pod.get("metadata", {}), pod.get("status") or {}
    containers = status.get("containerStatuses") or []
    restarts = sum(int(c.get("restartCount") or 0) for c in containers)
    ready = sum(1 for c in containers if c.get("ready"))
    total = len((pod.get("spec") or {}).get("containers") or containers) or len(containers)
    word = status.get("reason") or status.get("phase") or "Unknown"
    for container in containers:
        state = container.get("state") or {}
        waiting, terminated = state.get("waiting"), state.get("terminated")
        if waiting and waiting.get("reason"):
            word = waiting["reason"]
            break
        if terminated and terminated.get("reason"):
            word = terminated["reason"]
            break
    if meta.get("deletionTimestamp"):
        word = "Terminating"
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    if conditions.get("Ready", {}).get("status") == "True":
        ready = total  # the pod's Ready condition is what a rollout counts
    unready = word == "Running" and ready < total
    problem = word in PROBLEM_REASONS or restarts >= 3
    if unready:
        started = _parse_time(status.get("startTime"))
        # A pod that has run for a while without becoming Ready is a problem, not a wait.
        problem = problem or (started is not None and now - started > 30)
        word = "Running (unready)"
        if conditions.get("Ready", {}).get("reason"):
            word = f"Running ({conditions['Ready']['reason']})"
    created = _parse_time(meta.get("creationTimestamp"))
    return PodRow(
        name=meta.get("name", "?"),
        deployment=_owner_deployment(pod),
        status=word,
        ready=f"{ready}/{total}",
        restarts=restarts,
        age=uptime(created, now) if created else "-",
        problem=problem,
    )


def event_row(event: dict, now: float) -> EventRow:
    """An Event dict → a short row (``2m``, Warning, pod/x, BackOff, message)."""
    when = (
        _parse_time(event.get("lastTimestamp"))
        or _parse_time(event.get("eventTime"))
        or _parse_time((event.get("metadata") or {}).get("creationTimestamp"))
    )
    involved = event.get("involvedObject") or {}
    return EventRow(
        when=uptime(when, now) if when else "-",
        type=event.get("type") or "Normal",
        object=f"{(involved.get('kind') or '?').lower()}/{involved.get('name') or '?'}",
        reason=event.get("reason") or "",
        message=(event.get("message") or "").strip(),
    )


def event_sort_key(event: dict) -> float:
    """Sort events oldest first by their last time."""
    return (
        _parse_time(event.get("lastTimestamp"))
        or _parse_time(event.get("eventTime"))
        or _parse_time((event.get("metadata") or {}).get("creationTimestamp"))
        or 0.0
    )


def now_utc() -> float:
    """The current time (epoch seconds)."""
    return datetime.now(UTC).timestamp()


@dataclass
class Progress:
    """One Deployment's counts (from the deploy's events or the cluster listing)."""

    name: str
    desired: int = 0
    updated: int = 0
    ready: int = 0
    available: int = 0
    message: str = ""
    verdict: str = ""  # "", "ok" or the failure message
    problem: bool = False


@dataclass
class DeployState:
    """Everything the Deploy area shows for one environment."""

    env: str = "demo"
    operation: str = ""  # "", "check", "deploy", "rollback", "status"
    running: bool = False
    guards: list[Any] = field(default_factory=list)
    summary: Any = None
    steps: list[str] = field(default_factory=list)
    deployments: dict[str, Progress] = field(default_factory=dict)
    problems: dict[str, Any] = field(default_factory=dict)  # pod -> PodProblem
    # (title, log tail) of what failed: the migration Job, a crash-looping container
    failure_logs: list[tuple[str, str]] = field(default_factory=list)
    pods: list[PodRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    history: list[Any] = field(default_factory=list)
    finished: Any = None
    rolled_back: Any = None
    canary: Any = None  # the last CanarySample of a ``deploy --canary``
    cluster_error: str = ""
    history_error: str = ""
    history_loaded: bool = False
    version: int = 0

    def reset_for(self, operation: str) -> None:
        """A new operation starts: forget the previous one's outcome."""
        self.operation, self.running = operation, True
        self.finished = self.rolled_back = self.canary = None
        self.steps = []
        self.problems = {}
        self.failure_logs = []
        if operation in ("check", "deploy"):
            self.guards, self.summary = [], None
        for progress in self.deployments.values():
            progress.verdict, progress.problem = "", False
        self.version += 1

    @property
    def guards_ok(self) -> bool:
        """Every guard of the last check passed (and there was a check)."""
        return bool(self.guards) and all(g.ok for g in self.guards)

    def failing_guards(self) -> list[Any]:
        """The guards that refused."""
        return [g for g in self.guards if not g.ok]

    def apply(self, event: Any) -> None:
        """Fold one deploy engine event in."""
        kind = type(event).__name__
        if kind == "GuardResult":
            self.guards = [g for g in self.guards if g.name != event.name] + [event]
        elif kind == "Summary":
            self.summary = event
        elif kind == "Step":
            seconds = event.seconds
            word = event.name if seconds is None else f"{event.name} ({seconds:.1f}s)"
            self.steps.append(word)
        elif kind == "Note":
            self.steps.append(event.text)
        elif kind == "MigrationResult":
            word = "migration ok: " if event.ok else "migration FAILED: "
            self.steps.append(word + event.message)
            if event.logs:
                self.failure_logs.append(("migration log", event.logs))
        elif kind == "DeploymentProgress":
            progress = self.deployments.setdefault(event.name, Progress(event.name))
            progress.desired, progress.updated = event.desired, event.updated
            progress.ready, progress.available = event.ready, event.available
            progress.message = event.message
        elif kind == "PodProblem":
            self.problems[event.pod] = event
            self.deployments.setdefault(event.deployment, Progress(event.deployment)).problem = True
        elif kind == "RolloutVerdict":
            progress = self.deployments.setdefault(event.name, Progress(event.name))
            progress.verdict = "ok" if event.ok else event.message
            progress.problem = not event.ok
            if event.logs:
                self.failure_logs.append((f"{event.name}: last run's log", event.logs))
        elif kind == "RolledBack":
            self.rolled_back = event
            self.steps.append(event.message)
        elif kind == "CanarySample":
            self.canary = event
        elif kind == "Notified":
            self.steps.append(f"notified {event.channel}" + ("" if event.ok else " (failed)"))
        elif kind == "Finished":
            self.finished = event
            self.running = False
        self.version += 1

    def set_cluster(self, deployments: list[dict], pods: list[dict], events: list[dict]) -> None:
        """A fresh listing of the namespace (Deployments, pods, events)."""
        now = now_utc()
        before = (
            [(p.name, p.desired, p.updated, p.ready, p.available, p.problem)
             for p in self.deployments.values()],
            self.pods, self.events, self.cluster_error,
        )  # fmt: skip
        for item in deployments:
            name = item["metadata"]["name"]
            spec, status = item.get("spec") or {}, item.get("status") or {}
            progress = self.deployments.setdefault(name, Progress(name))
            progress.desired = int(spec.get("replicas") or 0)
            progress.updated = int(status.get("updatedReplicas") or 0)
            progress.ready = int(status.get("readyReplicas") or 0)
            progress.available = int(status.get("availableReplicas") or 0)
            for condition in status.get("conditions") or []:
                if condition.get("reason") == "ProgressDeadlineExceeded":
                    progress.problem = True
                    progress.message = condition.get("message") or "progress deadline exceeded"
        self.pods = sorted((pod_row(p, now) for p in pods), key=lambda p: (p.deployment, p.name))
        ordered = sorted(events, key=event_sort_key)[-12:]
        self.events = [event_row(e, now) for e in ordered]
        self.cluster_error = ""
        after = (
            [(p.name, p.desired, p.updated, p.ready, p.available, p.problem)
             for p in self.deployments.values()],
            self.pods, self.events, self.cluster_error,
        )  # fmt: skip
        if after != before:  # ages tick every second: redraws stay at about one a second
            self.version += 1

    def headline(self) -> tuple[str, str]:
        """(text, style) saying what happens or happened."""
        if self.running:
            return f"{self.env}: {self.operation} running…", "bold cyan"
        if self.finished is not None:
            finished = self.finished
            text = f"{self.env}: {self.operation} {finished.result}"
            if finished.revision:
                text += f" (#{finished.revision})"
            if finished.message:
                text += f" — {finished.message}"
            if getattr(finished, "hint", ""):  # a refusal's way on (--force-schema, a lease)
                text += f" ({finished.hint})"
            return text, RESULT_STYLES.get(finished.result, "")
        if self.cluster_error:
            return f"{self.env}: cluster not reachable", "bold red"
        return f"{self.env}: ready", "dim"
