"""The stack engine's data: what the CLI prints and the TUI draws.

Plain dataclasses, no engine imports, so front ends and tests can build them freely.
Times are wall-clock epoch seconds (``time.time()``) so they can be shown and compared
across threads and processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Container states as the Engine API reports them, plus "missing" (no container yet).
STATES = ("created", "running", "paused", "restarting", "removing", "exited", "dead", "missing")
# Reload kinds, as compose's develop.watch actions name them.
RELOAD_KINDS = ("sync", "sync+restart", "sync+exec", "rebuild")


@dataclass(slots=True)
class ReloadEvent:
    """One hot reload of one service, from the change being seen to new code serving.

    ``serving_at`` is set when the new code is observably running: the service's reload
    marker in its log (in-process reloads), or the container healthy/running again after a
    restart or rebuild. ``error`` is set (and ``ok`` False) when the reload failed; after a
    failed rebuild the old container keeps serving.
    """

    service: str
    kind: str
    files: list[str]
    seen_at: float
    synced_at: float | None = None
    restarted_at: float | None = None
    serving_at: float | None = None
    trigger: str | None = None  # the file that forced a rebuild (kind == "rebuild")
    ok: bool = True
    error: str | None = None
    done: bool = False  # the last update of this reload (serving, failed or abandoned)
    note: str | None = None  # e.g. synced, but the service printed no reload marker

    @property
    def latency(self) -> float | None:
        """Seconds from change seen to new code serving (None while unfinished)."""
        return None if self.serving_at is None else self.serving_at - self.seen_at

    def breakdown(self) -> str:
        """``seen → synced +0.05s → restarted +0.4s → serving +1.1s`` (what the UI shows)."""
        parts = ["seen"]
        for name, at in (
            ("synced", self.synced_at),
            ("rebuilt" if self.kind == "rebuild" else "restarted", self.restarted_at),
            ("serving", self.serving_at),
        ):
            if at is not None:
                parts.append(f"{name} +{at - self.seen_at:.2f}s")
        return " → ".join(parts)


@dataclass(slots=True)
class ServiceStatus:
    """The live state of one compose service (its single container)."""

    service: str
    state: str = "missing"
    health: str | None = None  # "healthy" | "unhealthy" | "starting" | None (no healthcheck)
    ports: list[str] = field(default_factory=list)  # "127.0.0.1:5058->5058/tcp"
    started_at: float | None = None
    image: str | None = None
    restart_count: int = 0
    exit_code: int | None = None
    # The kernel killed it for going past its memory limit (the engine's State.OOMKilled);
    # exit code 137 then is not a `docker stop`.
    oom_killed: bool = False
    memory_limit: int | None = None  # bytes (HostConfig.Memory); None: no limit set
    one_shot: bool = False  # e.g. migrate: runs to completion, never restarted by reloads
    container_id: str | None = None
    hot_reload: bool = False  # the service has develop.watch rules and watching is on
    last_reload: ReloadEvent | None = None

    def to_json(self) -> dict:
        """The ``periph ps --format json`` object for this service."""
        reload = self.last_reload
        return {
            "service": self.service,
            "state": self.state,
            "health": self.health,
            "ports": list(self.ports),
            "started_at": self.started_at,
            "image": self.image,
            "restart_count": self.restart_count,
            "exit_code": self.exit_code,
            "oom_killed": self.oom_killed,
            "memory_limit": self.memory_limit,
            "one_shot": self.one_shot,
            "hot_reload": self.hot_reload,
            "last_reload": None
            if reload is None
            else {
                "kind": reload.kind,
                "files": reload.files,
                "trigger": reload.trigger,
                "latency": reload.latency,
                "ok": reload.ok,
                "error": reload.error,
                "done": reload.done,
                "note": reload.note,
            },
        }


@dataclass(slots=True, frozen=True)
class LogLine:
    """One log line of one service, as the engine timestamped it."""

    service: str
    timestamp: float
    text: str
    stream: str = "stdout"  # "stdout" | "stderr"
    container_id: str = ""
    # The engine's stamp as integer epoch nanoseconds: what lines are ordered and
    # de-duplicated by. ``timestamp`` (a float) cannot tell apart lines less than ~240 ns
    # apart at today's epoch, so two services' lines could swap places. 0: not read from
    # an engine stamp (``order`` falls back to ``timestamp``).
    ns: int = 0

    @property
    def order(self) -> int:
        """The line's place in time, in nanoseconds (``ns``, or ``timestamp`` rounded)."""
        return self.ns or round(self.timestamp * 1e9)
