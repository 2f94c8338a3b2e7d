"""Typed events a deploy yields, in order; the CLI prints them, the TUI's Deploy screen shows them.

Every text field is safe to show: the engine masks before it builds an event, and each
event passes its text fields through the one masker again when it is built (every secret
the process knows, in any form, and control characters escaped), so no printer of events
(CLI text or JSON, the TUI, notifications) can show a raw one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from periph_env.common.redact import redact


@dataclass(frozen=True)
class Event:
    """Base class: ``as_dict`` gives the JSON form (``{"event": "<kind>", ...}``)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, str):
                object.__setattr__(self, f.name, redact(value))
            elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
                object.__setattr__(self, f.name, type(value)(redact(v) for v in value))

    def as_dict(self) -> dict[str, Any]:
        """The event as plain data, tagged with its kind (``guard``, ``progress``, ...)."""
        return {"event": _KINDS[type(self)], **asdict(self)}


@dataclass(frozen=True)
class Step(Event):
    """A phase started (``seconds`` None) or finished (with its duration)."""

    name: str
    seconds: float | None = None


@dataclass(frozen=True)
class Note(Event):
    """A line worth telling the user (a skipped step, a notice)."""

    text: str


@dataclass(frozen=True)
class GuardResult(Event):
    """One guard: ``ok`` or why it refuses, with a hint how to fix it."""

    name: str
    ok: bool
    message: str
    hint: str | None = None


@dataclass(frozen=True)
class ImageChange:
    """A container image before and after this deploy (``old`` None: new workload)."""

    workload: str
    container: str
    old: str | None
    new: str


@dataclass(frozen=True)
class ObjectChange:
    """An object the deploy adds, changes or removes (``fields``: top-level paths changed)."""

    kind: str
    name: str
    action: str  # added | changed | removed | unchanged
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Summary(Event):
    """What the deploy will change, from a server-side dry-run."""

    images: tuple[ImageChange, ...]
    objects: tuple[ObjectChange, ...]


@dataclass(frozen=True)
class MigrationResult(Event):
    """The migration Job finished; ``logs`` is its tail (masked) when it failed."""

    ok: bool
    message: str
    logs: str = ""


@dataclass(frozen=True)
class DeploymentProgress(Event):
    """One Deployment's replica counts, as the watch sees them change."""

    name: str
    desired: int
    updated: int
    ready: int
    available: int
    old_replicas: int
    message: str


@dataclass(frozen=True)
class PodProblem(Event):
    """A pod of a rolling Deployment in trouble (ImagePullBackOff, CrashLoopBackOff, ...)."""

    deployment: str
    pod: str
    reason: str
    message: str


@dataclass(frozen=True)
class RolloutVerdict(Event):
    """A Deployment's rollout finished (``ok``) or failed, in ``kubectl rollout status`` terms.

    ``logs``: for a crash loop, the crashed container's last lines (masked).
    """

    name: str
    ok: bool
    message: str
    logs: str = ""


@dataclass(frozen=True)
class RolledBack(Event):
    """Deployments returned to an earlier revision (name -> revision)."""

    revisions: dict[str, int]
    ok: bool
    message: str


@dataclass(frozen=True)
class Notified(Event):
    """A notification was sent (or failed: ``error``, masked)."""

    channel: str
    ok: bool
    error: str | None = None


@dataclass(frozen=True)
class VerifyCheck(Event):
    """A post-deploy smoke check: GET ``target`` (service:port/path) answered ``status``."""

    name: str
    target: str
    ok: bool
    status: int | None
    message: str
    seconds: float


@dataclass(frozen=True)
class ErrorRateSample(Event):
    """One round of the error-rate watch over the new backend pods' ``/metrics``.

    ``ratio`` is None while no request was handled; ``failed`` ends the watch early.
    """

    elapsed: float
    window: float
    pods: int
    requests: float
    errors: float
    ratio: float | None
    threshold: float
    restarts: int
    failed: bool = False
    message: str = ""


@dataclass(frozen=True)
class CanarySample(Event):
    """One round of a canary's watch (``deploy --canary``): the canary pod's 5xx ratio
    beside the old pods' over the same window (``None``: no request handled yet)."""

    elapsed: float
    window: float
    canary_requests: float
    canary_errors: float
    canary_ratio: float | None
    baseline_requests: float
    baseline_errors: float
    baseline_ratio: float | None
    threshold: float
    restarts: int
    failed: bool = False
    message: str = ""


@dataclass(frozen=True)
class VerifyVerdict(Event):
    """Verification finished: ``ok``, or the reason the release is judged bad."""

    ok: bool
    message: str


@dataclass(frozen=True)
class Finished(Event):
    """The end of an operation: ``result`` and the exit code the CLI returns."""

    result: str  # succeeded | failed | rolled-back | refused | dry-run
    exit_code: int
    seconds: float
    revision: int | None = None
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    hint: str = ""  # what to do next (a refusal's ``kubectl get lease ...``): its own line
    error: str = ""  # the error that ended the operation, when one did (masked)


_KINDS: dict[type, str] = {
    Step: "step",
    Note: "note",
    GuardResult: "guard",
    Summary: "summary",
    MigrationResult: "migration",
    DeploymentProgress: "progress",
    PodProblem: "pod-problem",
    RolloutVerdict: "verdict",
    RolledBack: "rolled-back",
    Notified: "notified",
    VerifyCheck: "verify-check",
    ErrorRateSample: "error-rate",
    CanarySample: "canary",
    VerifyVerdict: "verify-verdict",
    Finished: "finished",
}
