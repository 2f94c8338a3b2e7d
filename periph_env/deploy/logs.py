"""Logs of an environment's services: every replica, following pods as they are replaced.

Without ``follow``: the tail of every container of every pod of each service, read
through the API (no process). With ``follow``: the pods are listed every
``POLL_SECONDS``; ``kubectl logs -f`` starts for each pod as it starts running (new
replicas of a rollout included) and ends when the pod goes (still a process per pod:
issue 22 moves it to the API's streams). Lines carry ``[pod/<name>/<container>]``.
Secret values are masked in every line.

When the API server cannot be reached, ``follow`` says so once, retries with a growing
pause (``BACKOFF``) and says when it retries, and resumes when the server answers again:
each pod's stream restarts from the moment it was cut (``--since-time``), so the lines of
the outage are not lost (a line at the cut may show twice). A stream that ends by itself
(a container ended, a dropped connection) restarts at once if it was giving lines, else
when the pod changes or after a pause that grows to a minute: a log that cannot be read
yet shows its error once in a while, not every poll.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from periph_env.deploy.kube import Kube
from periph_env.deploy.kube_reach import NOT_KUBERNETES, ClusterUnreachable
from periph_env.deploy.migrate import mask
from periph_env.errors import PeriphError

SERVICE_LABEL = "app.kubernetes.io/name"
POLL_SECONDS = 2.0  # how soon a new replica's log is followed
BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)  # pauses between retries of a lost API server
SILENT_RESTART, SILENT_RESTART_MAX = 2.5, 60.0  # a pod's stream that keeps ending empty
END_GRACE = 3.0  # how long an ended stream's kubectl and reader get to finish


def selector(services: list[str]) -> str:
    """Label selector for the pods of ``services`` (all managed services when empty)."""
    if not services:
        return "app.kubernetes.io/part-of=peripheral"
    return f"{SERVICE_LABEL} in ({','.join(services)})"


def tail(kube: Kube, services: list[str], out: Callable[[str], None], lines: int = 200) -> int:
    """Print the last ``lines`` of every container of every matching pod, each line as
    ``kubectl logs --all-containers --prefix`` shows it; the number of pods read.

    Through the API (one request per container, no process); a container whose log cannot
    be read (not started yet) gets one line saying why. A lost API server raises."""
    pods = kube.list("Pod", selector(services))
    for pod in pods:
        name = pod["metadata"]["name"]
        for container in _containers(pod):
            prefix = f"[pod/{name}/{container}]"
            try:
                text = kube.rest.text(
                    kube.rest.path("v1", "Pod", name) + "/log",
                    {"container": container, "tailLines": str(lines)},
                )
            except ClusterUnreachable:
                raise
            except PeriphError as exc:
                out(mask(f"{prefix} (no log: {exc.message})", kube.secrets))
                continue
            for line in text.splitlines():
                out(mask(f"{prefix} {line}", kube.secrets))
    return len(pods)


def _containers(pod: dict) -> list[str]:
    """Container names in kubectl's ``--all-containers`` order: init, regular, ephemeral."""
    spec = pod.get("spec") or {}
    kinds = ("initContainers", "containers", "ephemeralContainers")
    return [c["name"] for kind in kinds for c in spec.get(kind) or [] if c.get("name")]


def _running(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and not pod["metadata"].get(
        "deletionTimestamp"
    )


@dataclass
class _Stream:
    """One pod's ``kubectl logs -f``: the process and when it was cut (for --since-time)."""

    proc: subprocess.Popen | None = None
    pump: threading.Thread | None = None  # reads proc's output; ends when the pipe closes
    cut_at: str = ""  # RFC 3339, UTC: where a restarted stream picks up
    lines: int = 0  # lines the current process has given
    # A stream that ended by itself (a container ended, a dropped connection, a log not
    # available yet) restarts when the pod changes, or after a pause that grows while its
    # restarts give nothing (an error line once a minute at most, not every poll).
    ended_at_version: str | None = None
    silent_ends: int = 0
    retry_at: float = 0.0


def _now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Follower:
    """Follows every matching pod's log until ``stop`` is set; see the module docstring."""

    clock = staticmethod(time.monotonic)  # when a silent stream may restart

    def __init__(
        self,
        kube: Kube,
        services: list[str],
        out: Callable[[str], None],
        notice: Callable[[str], None],
        stop: threading.Event,
    ) -> None:
        self.kube, self.out, self.notice, self.stop = kube, out, notice, stop
        self.wanted = selector(services)
        self.streams: dict[str, _Stream] = {}
        self.lock = threading.Lock()
        self.lost_since: float | None = None
        self.retries = 0

    def pods(self) -> list[dict]:
        """The matching pods, through the client (bounded; errors are PeriphErrors)."""
        from kubernetes import client

        core = client.CoreV1Api(self.kube.client())
        resp = core.list_namespaced_pod(
            self.kube.namespace, label_selector=self.wanted, _preload_content=False
        )
        try:
            items = json.loads(resp.data).get("items", [])
        except (ValueError, AttributeError):
            raise self.kube.unreachable(NOT_KUBERNETES) from None
        # Only well-formed pods: the loop must not trip over a lying answer.
        return [
            p for p in items if isinstance(p, dict) and isinstance(p.get("metadata"), dict)
            and isinstance(p["metadata"].get("name"), str)
        ] if isinstance(items, list) else []  # fmt: skip

    def run(self) -> None:
        """The follow loop."""
        try:
            while not self.stop.is_set():
                try:
                    pods = self.pods()
                except PeriphError as exc:
                    self.lost(exc)
                    continue
                self.back()
                self.sync(pods)
                self.stop.wait(POLL_SECONDS)
        finally:
            for stream in self.streams.values():
                self.end(stream)

    def lost(self, exc: PeriphError) -> None:
        """Say the API server is lost (once, then at each retry), cut the streams, pause."""
        pause = BACKOFF[min(self.retries, len(BACKOFF) - 1)]
        self.retries += 1
        if self.lost_since is None:
            self.lost_since = time.monotonic()
            self.notice(f"lost the connection: {exc.message}")
            for stream in self.streams.values():
                self.end(stream)
        self.notice(f"retrying in {pause:.0f} s (attempt {self.retries}); ctrl+c to stop")
        self.stop.wait(pause)

    def back(self) -> None:
        """Say the API server answers again, after an outage."""
        if self.lost_since is not None:
            down = time.monotonic() - self.lost_since
            self.notice(
                f"{self.kube.endpoint.describe()} answers again after {down:.0f} s; "
                "following the logs again"
            )
            self.lost_since, self.retries = None, 0

    def sync(self, pods: list[dict]) -> None:
        """Start streams of running pods, end those of pods gone, restart cut ones."""
        running = {p["metadata"]["name"]: p for p in pods if _running(p)}
        for name in list(self.streams):
            if name not in running:
                self.end(self.streams.pop(name))
        now = self.clock()
        for name, pod in sorted(running.items()):
            version = str(pod["metadata"].get("resourceVersion", ""))
            stream = self.streams.setdefault(name, _Stream())
            if stream.proc is not None and stream.proc.poll() is not None:
                gave_nothing = stream.lines <= 1  # at most an error line
                stream.silent_ends = stream.silent_ends + 1 if gave_nothing else 0
                pause = min(SILENT_RESTART_MAX, SILENT_RESTART * 2**stream.silent_ends)
                stream.retry_at = now + (pause if gave_nothing else 0.0)
                stream.ended_at_version = version
                self.end(stream)
            changed = stream.ended_at_version != version
            if stream.proc is None and (changed or now >= stream.retry_at):
                stream.ended_at_version = None
                self.start(name, stream)

    def start(self, name: str, stream: _Stream) -> None:
        """``kubectl logs -f`` of pod ``name``, from where its last stream was cut."""
        args = ["logs", "-f", f"pod/{name}", "--all-containers", "--prefix"]
        if stream.cut_at:
            args.append(f"--since-time={stream.cut_at}")
        stream.proc = subprocess.Popen(
            self.kube.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        stream.lines = 0
        stream.pump = threading.Thread(
            target=self.pump, args=(stream, stream.proc), name=f"periph-logs-{name}", daemon=True
        )
        stream.pump.start()

    def end(self, stream: _Stream) -> None:
        """Stop a stream (if running), reap its process and its reader, and remember where
        it was cut: the follower leaves no process or thread of its own behind."""
        proc, pump = stream.proc, stream.pump
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(END_GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if pump is not None and pump is not threading.current_thread():
            pump.join(END_GRACE)  # the pipe is closed: the reader ends at once
        stream.proc, stream.pump, stream.cut_at = None, None, _now_rfc3339()

    def pump(self, stream: _Stream, proc: subprocess.Popen) -> None:
        """Hand each line of ``proc`` to ``out``, masked."""
        assert proc.stdout is not None
        for line in proc.stdout:
            stream.lines += 1
            with self.lock:
                self.out(mask(line.rstrip("\n"), self.kube.secrets))


def follow(
    kube: Kube,
    services: list[str],
    out: Callable[[str], None],
    stop: threading.Event | None = None,
    notice: Callable[[str], None] | None = None,
) -> None:
    """Stream every matching pod's log until ``stop`` is set (or Ctrl-C); a lost API server
    is reported on ``notice`` (default: a ``[periph]`` line on ``out``) and retried, never
    fatal."""
    notice = notice or (lambda text: out(f"[periph] {text}"))
    Follower(kube, services, out, notice, stop or threading.Event()).run()
