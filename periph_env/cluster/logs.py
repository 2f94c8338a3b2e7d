"""``periph logs --cluster`` and ``periph restart --cluster``: the dev stack's pods.

Logs are the local ``LogLine``s (service, the runtime's timestamp, text), so the CLI
prints them exactly as ``periph logs`` does for the compose stack (health-check lines
folded, ``--grep``, ``--since``, ``--format json``). Every text is masked with the
cluster stack's secrets (the .env's and the registry password) before it leaves here.

Reading: through the API with ``timestamps=true`` (one request per pod). Following: one
thread per pod streaming its log (``follow=true``), the pods listed every
``POLL_SECONDS`` so a replaced pod (a rollout, a rebuild, a deleted pod) is followed as
soon as it runs, from the moment the old stream ended. A stream that ends (the pod went)
is dropped; a failed listing is said once and retried on the next poll.

Restart: kubectl's ``rollout restart`` (a pod-template annotation with the time), then
the same wait as ``up`` (kubectl's rollout verdict, fatal pod states fail at once).
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from periph_env.cluster import translate as t
from periph_env.cluster.sync import log_timestamp
from periph_env.errors import EngineError, UsageError
from periph_env.stack.models import LogLine

POLL_SECONDS = 2.0
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
SMP = "application/strategic-merge-patch+json"
Out = Callable[[list[LogLine]], None]


def check_services(
    cluster: Any, services: Iterable[str], *, restartable: bool = False
) -> list[str]:
    """``services`` if each is a service of the stack (a Deployment when ``restartable``);
    a ``UsageError`` naming the unknown one and the known ones otherwise."""
    config = cluster.stack.config()
    every = t.services(config)
    known = sorted(every)
    if restartable:
        jobs = t.one_shots(config)
        known = [s for s in known if s not in jobs]
    wanted = list(services)
    for name in wanted:
        if name not in known:
            why = " that can be restarted (a one-shot runs again with `up --cluster`)"
            raise UsageError(
                f"no service {name!r} in the dev stack" + (why if name in every else ""),
                hint=f"known: {', '.join(known)}",
            )
    return wanted


def pods(cluster: Any, services: list[str]) -> list[dict[str, Any]]:
    """The stack's pods of ``services`` (all when empty), oldest first."""
    sel = t.selector(cluster.user)
    if services:
        sel += f",{t.SERVICE_LABEL} in ({','.join(services)})"
    found = cluster.kube.list("Pod", sel)
    return sorted(found, key=lambda p: p["metadata"].get("creationTimestamp") or "")


def parse(cluster: Any, service: str, text: str) -> list[LogLine]:
    """A pod log read with ``timestamps=true`` as masked ``LogLine``s."""
    out = []
    for raw in text.splitlines():
        stamp, _, rest = raw.partition(" ")
        at = log_timestamp(stamp)
        if at is None:  # a continuation without a stamp (should not happen): keep it
            at, rest = time.time(), raw
        out.append(LogLine(service, at, cluster.kube.mask(rest)))
    return out


def _service(pod: dict[str, Any]) -> str:
    return (pod["metadata"].get("labels") or {}).get(t.SERVICE_LABEL, "?")


def read(
    cluster: Any,
    services: list[str],
    since: float | None = None,
    grep: str | None = None,
    lines: int = 200,
) -> list[LogLine]:
    """The last ``lines`` of every pod of ``services`` (``since``: seconds back), merged
    in time order; ``grep``: only lines matching the regex."""
    pattern = re.compile(grep) if grep else None
    path = cluster.kube.rest.path
    out: list[LogLine] = []
    for pod in pods(cluster, services):
        name, service = pod["metadata"]["name"], _service(pod)
        query = {"container": service, "timestamps": "true", "tailLines": str(lines)}
        if since is not None:
            query["sinceSeconds"] = str(max(1, int(since)))
        try:
            text = cluster.kube.rest.text(path("v1", "Pod", name) + "/log", query)
        except EngineError:  # not started yet, or gone meanwhile: nothing to show
            continue
        out.extend(parse(cluster, service, text))
    out.sort(key=lambda line: line.timestamp)
    return [line for line in out if pattern is None or pattern.search(line.text)]


class Follower:
    """Follows the pods of ``services`` until ``stop()``; see the module docstring."""

    def __init__(
        self,
        cluster: Any,
        services: list[str],
        out: Out,
        notice: Callable[[str], None],
        since: float | None = None,
        grep: str | None = None,
    ) -> None:
        self.cluster, self.services, self.out, self.notice = cluster, services, out, notice
        self.pattern = re.compile(grep) if grep else None
        self.since = since
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._streams: dict[str, threading.Thread] = {}
        self._threads: list[threading.Thread] = []
        self._responses: dict[str, Any] = {}
        self._last: dict[str, float] = {}  # pod -> stamp of the last line shown
        self._failing = False

    def start(self) -> Follower:
        """Start the pod listing thread (it starts a stream per running pod)."""
        thread = threading.Thread(target=self._run, name="cluster-logs", daemon=True)
        self._threads.append(thread)
        thread.start()
        return self

    def stop(self) -> None:
        """Close every stream and join every thread."""
        self._stop.set()
        with self._lock:
            responses = list(self._responses.values())
        for response in responses:
            _shutdown(response)
        for thread in list(self._threads):
            thread.join(timeout=10)

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                found = pods(self.cluster, self.services)
                if self._failing:
                    self.notice("the cluster answers again: following the logs")
                self._failing = False
            except EngineError as exc:
                if not self._failing:
                    self.notice(f"cannot list the pods ({exc.message}); retrying")
                self._failing = True
                found = []
            for pod in found:
                name = pod["metadata"]["name"]
                running = (pod.get("status") or {}).get("phase") == "Running"
                with self._lock:
                    followed = name in self._streams
                if running and not followed:
                    # Pods there at the start: from ``since`` (or the last lines); pods
                    # that appear later: from their beginning.
                    self._follow(name, _service(pod), tail=first)
            first = False
            self._stop.wait(POLL_SECONDS)

    def _follow(self, pod: str, service: str, tail: bool) -> None:
        thread = threading.Thread(
            target=self._pump, args=(pod, service, tail), name=f"logs-{pod}", daemon=True
        )
        with self._lock:
            self._streams[pod] = thread
        self._threads.append(thread)
        thread.start()

    def _pump(self, pod: str, service: str, tail: bool) -> None:
        from kubernetes.client import ApiClient, CoreV1Api

        kwargs: dict[str, Any] = {"container": service, "follow": True, "timestamps": True}
        with self._lock:
            last = self._last.get(pod)
        if last is not None:  # a stream of this pod ended (container restarted): resume
            kwargs["since_seconds"] = max(1, int(time.time() - last) + 1)
        elif tail and self.since is not None:
            kwargs["since_seconds"] = max(1, int(self.since))
        elif tail:
            kwargs["tail_lines"] = 50
        api = CoreV1Api(ApiClient(self.cluster.kube.client().configuration))
        try:
            response = api.read_namespaced_pod_log(
                pod, self.cluster.namespace, _preload_content=False, **kwargs
            )
            with self._lock:
                self._responses[pod] = response
            if self._stop.is_set():  # stop() ran while this stream was being opened
                _shutdown(response)
            pending = b""
            for chunk in response.stream(amt=None, decode_content=True):
                if self._stop.is_set():
                    break
                # A chunk can end mid-line: only whole lines are parsed.
                pending += chunk
                whole, _, pending = pending.rpartition(b"\n")
                if whole:
                    self._emit(pod, service, whole.decode(errors="replace"), last)
        except Exception:  # the stream was cut (pod deleted, stop()): the listing decides
            pass
        finally:
            with self._lock:
                self._responses.pop(pod, None)
                self._streams.pop(pod, None)  # the next listing resumes it if it runs

    def _emit(self, pod: str, service: str, text: str, after: float | None) -> None:
        lines = [
            ln
            for ln in parse(self.cluster, service, text)
            if (after is None or ln.timestamp > after)
            and (self.pattern is None or self.pattern.search(ln.text))
        ]
        with self._lock:
            self._last[pod] = max([self._last.get(pod) or 0.0, *(ln.timestamp for ln in lines)])
        if lines:
            self.out(lines)


def _shutdown(response: Any) -> None:
    """Wake the thread blocked reading ``response`` (as ``deploy.watch_streams`` does):
    urllib3's ``shutdown()`` shuts only the read side, which leaves a blocked TLS read
    waiting, and ``close()`` alone does not wake it either; so the socket, then close."""
    with contextlib.suppress(Exception):
        response._fp.fp.raw._sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(Exception):
        response.close()


def restart(cluster: Any, services: list[str], progress: Callable[[str], None]) -> None:
    """``rollout restart`` each Deployment of ``services``, then wait until all are Ready."""
    from periph_env.deploy.kube_rest import FIELD_MANAGER

    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
    rest = cluster.kube.rest
    for service in services:
        path = rest.path("apps/v1", "Deployment", service)
        rest.request("PATCH", path, {"fieldManager": FIELD_MANAGER}, patch, SMP)
        progress(f"{service}: restarting (rollout restart)")
    cluster.wait_rolled(services, progress)
