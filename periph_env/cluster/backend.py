"""The cluster dev stack as a ``StackBackend`` (``periph --cluster``, ``watch --cluster``).

An adapter over this package: rows are ``ClusterStack.ps()`` mapped onto the local
``ServiceStatus`` (``status_of``, pure), so the Stack area draws them as it draws
containers; logs are ``logs.Follower`` / ``logs.read`` (masked there); hot reload is a
``ClusterWatcher`` over ``ClusterStack.pod_sync()`` (the same ``ReloadEvent``s); the
actions are ``up`` (build, push, apply, wait Ready), ``down`` (delete by label),
``restart`` (rollout restart), and ``stop``/``start``/``rebuild`` of services
(``periph_env.cluster.scale``: scaled to 0 and back; build, push, roll one Deployment).
CPU and memory per service: ``stats_model()`` (``periph_env.cluster.stats``).

Statuses are polled (``StatusPoller``, every ``POLL_SECONDS``): the API server's watch
would save a request a second, the poll is what ``ps --cluster`` does already and it
notices an unreachable cluster by itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from periph_env.cluster.engine import ServiceState
from periph_env.cluster.forward import ForwardState
from periph_env.errors import EngineError, PeriphError, UsageError
from periph_env.stack.backend import Progress, refuse
from periph_env.stack.models import LogLine, ReloadEvent, ServiceStatus

POLL_SECONDS = 2.0
ACTIONS = frozenset({"up", "down", "restart", "start", "stop", "rebuild"})


class ClusterStackDown(EngineError):
    """The dev stack is not (or no longer) in its namespace."""


def status_of(state: ServiceState, forward: ForwardState | None = None) -> ServiceStatus:
    """One ``ps --cluster`` row as the Stack area's row: a Ready pod is ``running``
    and ``healthy``; a crash loop ``restarting`` and ``unhealthy``; a finished Job a
    one-shot that exited 0 (a failed one exited 1, so its log tail is shown)."""
    status = state.status
    ports = [f"127.0.0.1:{forward.local}->{forward.remote}/tcp"] if forward else []
    row = ServiceStatus(
        state.service,
        image=state.image,
        restart_count=state.restarts,
        started_at=state.started_at,
        one_shot=state.kind == "Job",
        ports=ports,
        # The pod stands for the container: a restart of it is the alerts' crash signal,
        # a replaced pod (a new name, count from 0) is not.
        container_id=state.pod,
        oom_killed=state.oom_killed,
    )
    if state.kind == "Job" and status in ("Completed", "Failed"):
        row.state, row.exit_code = "exited", 0 if status == "Completed" else 1
        row.started_at = None
    elif state.ready or status == "Ready":
        row.state, row.health = "running", None if state.kind == "Job" else "healthy"
    elif status == "Running, not ready":
        row.state, row.health = "running", "starting"
    elif status == "Waiting: CrashLoopBackOff":
        row.state, row.health = "restarting", "unhealthy"
    elif status.startswith("Waiting") or status == "Pending":
        row.state = "created"  # scheduled or pulling: not running yet
    elif status == "Terminating":
        row.state = "removing"
    elif status == "Stopped":
        row.state = "exited"  # scaled to 0 by `stop`: what a stopped container shows
    else:  # "no pod" and anything else: nothing runs
        row.state = "missing"
    return row


class ClusterBackend:
    """``StackBackend`` over a ``ClusterStack`` (see the module docstring)."""

    kind = "cluster"
    actions = ACTIONS

    def __init__(self, cluster: Any, notice: Callable[[str], None] | None = None) -> None:
        self.cluster = cluster
        self.notice = notice or (lambda _line: None)
        self._states: dict[str, ServiceState] = {}

    @classmethod
    def open(
        cls, root: Path | None, name: str | None, notice: Callable[[str], None] | None = None
    ) -> ClusterBackend:
        """The cluster ``name`` (None: ``[dev.cluster]``) of the project at ``root``."""
        from periph_env.cluster.config import load
        from periph_env.cluster.engine import ClusterStack
        from periph_env.stack import Stack

        stack = Stack(root)
        return cls(ClusterStack(stack, load(stack.root, name or None), notice=notice), notice)

    @property
    def namespace(self) -> str:
        """``peripheral-dev-<user>``."""
        return str(self.cluster.namespace)

    @property
    def label(self) -> str:
        """``cluster <namespace> (<context>)``."""
        return f"cluster {self.namespace} ({self.cluster.settings.context})"

    @property
    def empty_text(self) -> str:
        """No workload of the dev stack in the namespace."""
        return f"No dev stack in namespace {self.namespace}: `{self.command('up')}` starts it."

    def command(self, verb: str) -> str:
        """``periph <verb> --cluster [NAME]`` for this cluster (what hints name)."""
        name = self.cluster.settings.name
        return f"periph {verb} --cluster" + (f" {name}" if name else "")

    # -- status ---------------------------------------------------------------------------

    def statuses(self) -> list[ServiceStatus]:
        """One row per service ``up --cluster`` made, with its forward's port."""
        from periph_env.cluster.forward import read_states

        states = self.cluster.ps()
        self._states = {s.service: s for s in states}
        forwards = {f.service: f for f in read_states(self.namespace)}
        return [status_of(s, forwards.get(s.service)) for s in states]

    def details(self, service: str) -> list[str]:
        """Lines for the detail panel: the pod, its state in the cluster's words, the
        port-forward's state (whichever process forwards)."""
        from periph_env.cluster.forward import read_states

        state = self._states.get(service)
        if state is None:
            return []
        lines = [f"{state.kind.lower()} {service}: {state.status}, pod {state.pod or '-'}"]
        for forward in read_states(self.namespace):
            if forward.service == service:
                lines.append(
                    f"forward 127.0.0.1:{forward.local} -> {forward.remote}: {forward.state}"
                )
        return lines

    def shell(self, service: str) -> str:
        """kubectl's command for a shell in ``service``'s pod (what a hint names)."""
        import shlex

        return shlex.join(["kubectl", *self.shell_argv(service)[1:]])

    def shell_argv(self, service: str) -> list[str]:
        """The argv of an interactive session in ``service``'s pod: psql for db, redis-cli
        for cache, sh otherwise, with the defaults read inside the pod (as ``periph exec``
        does in a container: no password on a command line)."""
        from periph_env.data.shell import DEFAULTS

        state = self._states.get(service)
        pod = state.pod if state is not None and state.pod else f"deploy/{service}"
        default, prelude = DEFAULTS.get(service, (["sh"], ""))
        return self.cluster.kube.argv(
            "exec", "-it", pod, "-c", service, "--",
            "sh", "-c", prelude + 'exec "$@"', "sh", *default,
        )  # fmt: skip

    def forward_feed(self) -> Any:
        """The stack's port-forwards for the TUI (a ``Forwarder``, not started), or None
        when another process (an ``up --cluster``) forwards them already: its forwards
        keep working and their states show in the rows either way."""
        from periph_env.cluster import translate as t
        from periph_env.cluster.forward import Forwarder, local_ports, read_states

        if read_states(self.namespace):
            return None
        forwards = local_ports(t.forwards(self.cluster.stack.config()))
        return Forwarder(self.cluster.kube, self.namespace, forwards)

    def stats_model(self) -> Any:
        """CPU and memory of the stack's pods for the Stack area (a ``PodStatsModel``,
        ``StatsModel``'s interface; it polls once a service runs, until ``stop()``)."""
        from periph_env.cluster.stats import PodStatsModel

        return PodStatsModel(self.stats_reader())

    def stats_reader(self, one_off: bool = False) -> Any:
        """The ``PodReader`` of this stack's pods. ``one_off`` (``ps --cluster --stats``):
        the client's usual timeouts, as the rest of ``ps`` (a poll every 2 s keeps its
        requests shorter than that)."""
        from periph_env.cluster import stats
        from periph_env.cluster import translate as t

        timeout = None if one_off else stats.TIMEOUT
        selector = t.selector(self.cluster.user)
        return stats.PodReader(self.cluster.kube, self.namespace, selector, self.notice, timeout)

    def status_feed(self, on_change: Callable[[list[ServiceStatus]], None]) -> StatusPoller:
        """A ``StatusPoller`` (not started)."""
        return StatusPoller(self.statuses, on_change, self.cluster.kube.mask)

    def ensure_up(self) -> list[ServiceState]:
        """The stack's services; ``ClusterStackDown`` (exit 1) when it has none."""
        states = self.cluster.ps()
        if not any(s.kind == "Deployment" for s in states):
            raise ClusterStackDown(
                f"no dev stack in namespace {self.namespace} ({self.cluster.settings.context})",
                hint=f"start it with `{self.command('up')}`",
            )
        return states

    # -- logs -----------------------------------------------------------------------------

    def log_feed(self, on_lines: Callable[[list[LogLine]], None]) -> Any:
        """Every pod's log, followed across pod replacements (``logs.Follower``)."""
        from periph_env.cluster import logs

        return logs.Follower(self.cluster, [], on_lines, self.notice)

    def read_logs(self, services: list[str], tail: int) -> list[LogLine]:
        """The last ``tail`` lines of each pod of ``services``."""
        from periph_env.cluster import logs

        return logs.read(self.cluster, services, lines=tail)

    # -- hot reload -----------------------------------------------------------------------

    def watcher(
        self,
        on_event: Callable[[ReloadEvent], None],
        services: list[str] | None = None,
        status: Any = None,
    ) -> Any:
        """A ``ClusterWatcher`` (not started) over the develop.watch rules of
        ``services`` (None: every service that has some); ``UsageError`` when none has."""
        from periph_env.cluster import logs
        from periph_env.cluster.watch import ClusterWatcher

        wanted = logs.check_services(self.cluster, services or [])
        pod_sync = self.cluster.pod_sync()
        if wanted:
            pod_sync.rules = [r for r in pod_sync.rules if r.rule.service in wanted]
        if not pod_sync.rules:
            raise UsageError(
                f"no develop.watch rules for {', '.join(wanted) or 'any service'} "
                "in compose/compose.yaml",
                hint="add develop.watch rules to the service in the compose file",
            )
        lock = (self.namespace, Path(self.cluster.stack.compose_path))
        return ClusterWatcher(pod_sync, on_event, self.notice, lock=lock)

    # -- actions --------------------------------------------------------------------------

    def act(self, verb: str, services: list[str] | None, progress: Progress) -> None:
        """``up`` (the whole stack), ``down``, ``restart`` (a rollout restart), ``stop``,
        ``start`` or ``rebuild`` (``periph_env.cluster.scale``)."""
        from periph_env.cluster import logs, scale

        refuse(self, verb)
        mask = self.cluster.kube.mask

        def say(line: str) -> None:  # a pod's words reach the screen: masked first
            progress(mask(line))

        try:
            if verb == "up":
                self.cluster.up(progress=say)
            elif verb == "down":
                self.cluster.down(progress=say)
            elif verb in ("stop", "start", "rebuild"):
                wanted = scale.deployments(self.cluster, services)
                getattr(scale, verb)(self.cluster, wanted, say)
            else:
                every = [s.service for s in self.cluster.ps() if s.kind == "Deployment"]
                wanted = logs.check_services(self.cluster, services or every, restartable=True)
                logs.restart(self.cluster, wanted, say)
        except PeriphError as exc:
            exc.message = mask(exc.message)
            raise

    def remedy(self, error: BaseException) -> list[str]:
        """The error's hint, else how to look at the namespace."""
        hint = getattr(error, "hint", None)
        if hint:
            return [f"→ {hint}"]
        return [
            f"→ `{self.command('ps')}` shows the stack; "
            f"`kubectl --context {self.cluster.settings.context} -n {self.namespace} get pods`"
        ]


class StatusPoller:
    """Calls ``on_change(read())`` every ``every`` seconds while it changes, in one
    thread until ``stop()``. A failed read sets ``connected`` False and ``error`` (masked)
    and hands the last rows again (the TUI then shows the engine as down); the next good
    read sets it back."""

    def __init__(
        self,
        read: Callable[[], list[ServiceStatus]],
        on_change: Callable[[list[ServiceStatus]], None],
        mask: Callable[[str], str] = str,
        every: float = POLL_SECONDS,
    ) -> None:
        self.read, self.on_change, self.mask, self.every = read, on_change, mask, every
        self.connected = True
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: list[ServiceStatus] | None = None

    def start(self) -> StatusPoller:
        """Start polling (the first read is at once)."""
        self._thread = threading.Thread(target=self._run, name="cluster-status", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop and join the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def poll(self) -> None:
        """One read, and ``on_change`` when the rows or the reachability changed."""
        try:
            rows = self.read()
        except PeriphError as exc:
            if self.connected:
                self.connected, self.error = False, self.mask(exc.message)
                self.on_change(list(self._last or []))
            return
        changed = rows != self._last or not self.connected
        self.connected, self.error, self._last = True, None, rows
        if changed:
            self.on_change(list(rows))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(self.every)
