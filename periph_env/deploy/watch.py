"""Watch Deployments roll out through the watch API, surviving dropped connections.

One thread per resource (Deployments, Pods, Events) lists once, then watches from the
list's resourceVersion; when a connection drops (an API server restart, a proxy timeout)
it resumes from the last resourceVersion it saw, and re-lists only when the server says
that version is gone (410). Verdicts come from ``verdict.deployment_verdict`` (kubectl's
rules), so the watch only decides *when* to look, never *what* success means.

A probe thread asks the API server for its version every few seconds: a stalled server
(it accepts connections and never answers) is noticed, said, and the watches resume when
it is back; one away for ``outage.GIVE_UP_SECONDS`` ends the watch with an EngineError
naming the endpoint. A rollout that makes no progress says why it waits (no controller
picked the Deployment up, a pod nobody schedules) instead of waiting in silence.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from periph_env.deploy import verdict as v
from periph_env.deploy.events import (
    DeploymentProgress,
    Event,
    Note,
    PodProblem,
    RolloutVerdict,
)
from periph_env.deploy.kube_rest import namespaced, open_get
from periph_env.deploy.migrate import mask
from periph_env.deploy.outage import Outage
from periph_env.deploy.watch_streams import ApiProbe, ResourceWatch, lister
from periph_env.deploy.watch_workloads import OneRead, Workloads

Obj = dict[str, Any]
PROBE_GRACE_SECONDS = 20.0
CRASH_LOG_LINES = 15
STUCK_SECONDS = 10.0  # no controller / scheduler acting for this long is worth saying


def _title(key: str) -> str:
    """``deployment "backend"`` / ``statefulset "db"`` for a watch key."""
    kind, _, name = key.rpartition("/")
    return f'{kind or "deployment"} "{name}"'


def _waits_for_claim(message: str) -> bool:
    """Whether a scheduling message says the pod waits for its claims to bind."""
    return "unbound" in message and "PersistentVolumeClaim" in message


def _ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _matches(selector: Obj, labels: dict[str, str]) -> bool:
    wanted = (selector or {}).get("matchLabels") or {}
    return bool(wanted) and all(labels.get(k) == val for k, val in wanted.items())


class RolloutWatch:
    """Follow ``names`` (Deployments in ``namespace``) until all roll out or one fails.

    ``after_change``: the caller has just changed these Deployments (a deploy, a rollback),
    so a progress-deadline condition already there when the watch starts belongs to the
    earlier rollout and is not this one's verdict. ``secrets`` are masked in the log tail of
    a crash-looping container. Once ``stop`` is set, ``events`` ends without a verdict.
    """

    def __init__(
        self,
        api_client: Any,
        namespace: str,
        names: list[str],
        timeout: float,
        *,
        after_change: bool = False,
        secrets: list[str] | None = None,
        stop: threading.Event | None = None,
        statefulsets: list[str] | None = None,
        jobs: list[str] | None = None,
        claims: dict[str, list[str]] | None = None,
    ) -> None:
        self.stop = stop or threading.Event()  # set: ``events`` ends early (the caller's stop)
        # StatefulSets, Jobs, the claims they need (``claims``: a Deployment's claim
        # volumes, by Deployment) and the HPAs' floors (watch_workloads).
        self.work = Workloads(list(statefulsets or []), list(jobs or []), claims or {})
        self.names, self.timeout = list(names) + self.work.keys, timeout
        self.namespace, self.after_change, self.secrets = namespace, after_change, secrets or []
        self.queue: queue.Queue = queue.Queue()
        self.api_client = api_client  # plain REST (kube_rest): no generated API classes
        kinds = ["Deployment", "Pod", "Event"]
        kinds += ["StatefulSet"] if statefulsets else []
        kinds += ["Job"] if jobs else []
        kinds += ["PersistentVolumeClaim"] if statefulsets or any((claims or {}).values()) else []
        self.watches: list[Any] = [
            ResourceWatch(kind, lister(api_client, kind), namespace, self.queue) for kind in kinds
        ]
        self.watches.append(ApiProbe(api_client, self.queue))
        deployments = list(names)
        self.watches.append(OneRead(self.work, api_client, namespace, deployments, self.queue))
        self.outage = Outage(getattr(api_client.configuration, "host", "") or "(unknown)")
        # What has been waiting since when, and what was said about it: (kind, name) -> t
        self._waiting: dict[tuple[str, str], float] = {}
        self._said: set[tuple[str, str]] = set()
        self.deployments: dict[str, Obj] = {}
        self.pods: dict[str, Obj] = {}
        self.results: dict[str, v.Verdict] = {}
        self._shown: dict[str, tuple] = {}
        self._problems: set[tuple[str, str]] = set()
        self._stale: dict[str, str | None] = {}
        # Probe failures wait PROBE_GRACE_SECONDS: most belong to a container still starting
        # and vanish when the pod turns Ready. (pod, message) -> (first seen, event)
        self._held: dict[tuple[str, str], tuple[float, PodProblem]] = {}
        self._started = time.monotonic()

    @property
    def reconnects(self) -> int:
        """How many times a watch connection dropped and was resumed."""
        return sum(w.reconnects for w in self.watches)

    def drop_connections(self) -> None:
        """Close every open watch connection, as an API server restart would."""
        for w in self.watches:
            w.drop()

    def _deployment_of(self, pod: Obj) -> str | None:
        owner = self.work.owner_of(pod)  # a StatefulSet's or a Job's (by owner reference)
        if owner is not None:
            return owner
        labels = pod.get("metadata", {}).get("labels") or {}
        for name, dep in self.deployments.items():
            if _matches(dep.get("spec", {}).get("selector"), labels):
                return name
        return None

    def _on_deployment(self, obj: Obj) -> Iterator[Event]:
        name = obj["metadata"]["name"]
        if name not in self.names:
            return
        self.deployments[name] = obj
        if name not in self._stale:
            self._stale[name] = v.deadline_stamp(obj) if self.after_change else None
        result = v.deployment_verdict(obj, self._stale[name])
        if result.done and not self.work.read_done:
            result = v.Verdict(False, False, "reading the HPAs' floors...")
        elif result.done and self.work.waiting_for_hpa(obj):
            # A first deploy creates the Deployment at one replica; its HPA raises it to the
            # floor (within its sync period) and those pods are part of this rollout.
            yield from self.work.below_floor(obj)
            hpa, floor = self.work.floors[name]
            result = v.Verdict(
                False, False, f"waiting for the HPA {hpa} to raise replicas to {floor}"
            )
        c = v.counts(obj)
        shown = (tuple(c.values()), result.message)
        if self._shown.get(name) != shown:
            self._shown[name] = shown
            yield DeploymentProgress(name, message=result.message, **c)
        if (result.done or result.failed) and name not in self.results:
            yield from self._verdict(name, result)
        elif name not in self.results:
            yield from self._judged(self.work.claim_verdicts(name))

    def _judged(self, items: Iterator[Any]) -> Iterator[Event]:
        """Events from ``Workloads``, turning its ``(key, verdict)`` pairs into verdicts."""
        for item in items:
            if isinstance(item, tuple):
                if item[0] not in self.results:
                    yield from self._verdict(*item)
            else:
                yield item

    def _object(self, key: str) -> Obj:
        """The Deployment, StatefulSet or Job whose pod template ``key``'s pods should run."""
        return self.deployments.get(key) or self.work.template(key)

    def _verdict(self, name: str, result: v.Verdict, logs: str = "") -> Iterator[Event]:
        if name in self.results:
            return
        self.results[name] = result
        if not result.done:
            yield from self._release_held(lambda problem: problem.deployment == name)
        yield RolloutVerdict(name, result.done, result.message, logs)

    def _on_pod(self, kind: str, obj: Obj) -> Iterator[Event]:
        name = obj["metadata"]["name"]
        if kind == "DELETED":
            self.pods.pop(name, None)
            return
        self.pods[name] = obj
        deployment = self._deployment_of(obj)
        if deployment is None or deployment in self.results or not self._current(obj, deployment):
            return
        for reason, message in v.pod_problems(obj):
            if _waits_for_claim(message):
                continue  # the claim's own verdict names it, with its reason
            if (name, reason) not in self._problems:
                self._problems.add((name, reason))
                yield PodProblem(deployment, name, reason, message)
        if _ready(obj):
            for key in [k for k in self._held if k[0] == name]:
                del self._held[key]
        crash = v.crash_loop(obj, v.template_images(self._object(deployment)))
        if crash is not None:
            message = f"{_title(deployment)} will not roll out: {crash.describe()}"
            logs = self._crash_logs(crash)
            yield from self._verdict(deployment, v.Verdict(False, True, message), logs)

    def _current(self, pod: Obj, deployment: str) -> bool:
        """Whether ``pod`` runs the Deployment's template (by images); the pods of an older
        template are being replaced, and their troubles are not this rollout's."""
        wanted = v.template_images(self._object(deployment))
        running = v.pod_spec_images(pod.get("spec") or {})
        return all(wanted.get(name, image) == image for name, image in running.items())

    def pod_log(self, pod: str, container: str) -> str:
        """The last ``CRASH_LOG_LINES`` of ``container``'s previous run in ``pod``."""
        path = namespaced("v1", "pods", self.namespace, pod) + "/log"
        query = {"container": container, "previous": "true", "tailLines": str(CRASH_LOG_LINES)}
        response = open_get(self.api_client, path, query, (5, 10), "text/plain, */*")
        return response.data.decode(errors="replace")

    def _crash_logs(self, crash: v.CrashLoop) -> str:
        """The crashed container's last lines (its previous run), masked."""
        try:
            text = self.pod_log(crash.pod, crash.container)
        except Exception as exc:  # the log is a help, not the verdict
            return f"(no log of the crashed run: {type(exc).__name__})"
        return mask(str(text).rstrip("\n"), self.secrets) or "(the crashed run wrote no log)"

    def _on_event(self, obj: Obj) -> Iterator[Event]:
        yield from self._judged(self.work.on_claim_event(obj))
        found = v.event_problem(obj)
        if not found:
            return
        pod, reason, message = found
        known = self.pods.get(pod, {"metadata": {}})
        deployment = self._deployment_of(known)
        if not deployment or deployment in self.results or not self._current(known, deployment):
            return
        if (pod, message) not in self._problems:
            self._problems.add((pod, message))
            problem = PodProblem(deployment, pod, reason, message)
            # A pod waiting for its claims is normal for the second a provisioner takes;
            # held like a starting pod's probe failures (an unbindable claim fails the
            # rollout by itself, named).
            waiting = reason == "Unhealthy" or _waits_for_claim(message)
            if waiting and not _ready(known):
                self._held[(pod, message)] = (time.monotonic(), problem)
            else:
                yield problem

    def _release_held(self, which: Callable[[PodProblem], bool]) -> Iterator[Event]:
        for key, (_, problem) in list(self._held.items()):
            if which(problem):
                del self._held[key]
                yield problem

    def _due_held(self) -> Iterator[Event]:
        """Probe failures of pods still not Ready after the grace period."""
        now = time.monotonic()
        due = {k for k, (seen, _) in self._held.items() if now - seen >= PROBE_GRACE_SECONDS}
        yield from self._release_held(lambda p: (p.pod, p.message) in due)

    def _on_api(self, state: str, info: Obj) -> Iterator[Event]:
        """The probe's news: say when the API server stops and starts answering."""
        if state == "DOWN":
            said = self.outage.failure(info.get("reason", "no answer"))  # raises at give-up
            if said:
                # A stalled server may never finish the open requests: start them afresh.
                self.drop_connections()
                yield Note(said)
        else:
            said = self.outage.success()
            if said:
                # The watches reconnect on their own (from their last resourceVersion).
                yield Note(said.replace("; resuming", "; watch resumed"))

    def _stuck(self, now: float) -> Iterator[Event]:
        """Say, once each, what a rollout waiting in silence waits for."""
        if self.outage.away:
            return  # nothing moves while the API server is away; that is said already
        for key, text in self._stuck_reasons():
            since = self._waiting.setdefault(key, now)
            if now - since >= STUCK_SECONDS and key not in self._said:
                self._said.add(key)
                yield Note(text.format(seconds=f"{now - since:.0f}s"))
        current = dict(self._stuck_reasons())
        for key in [k for k in self._waiting if k not in current]:
            del self._waiting[key]

    def _stuck_reasons(self) -> Iterator[tuple[tuple[str, str], str]]:
        for name, dep in self.deployments.items():
            if name in self.results:
                continue
            generation = dep.get("metadata", {}).get("generation", 0)
            observed = (dep.get("status") or {}).get("observedGeneration", 0)
            if observed < generation:
                yield (("Deployment", name), f"deployment/{name} not picked up by a controller "
                       "after {seconds} (is kube-controller-manager running?)")  # fmt: skip
        for name, pod in self.pods.items():
            deployment = self._deployment_of(pod)
            if deployment is None or deployment in self.results:
                continue
            status, spec = pod.get("status") or {}, pod.get("spec") or {}
            scheduled = any(c.get("type") == "PodScheduled" for c in status.get("conditions") or [])
            if status.get("phase") == "Pending" and not spec.get("nodeName") and not scheduled:
                yield (("Pod", name), f"pod {name} not scheduled after {{seconds}} "
                       "(is kube-scheduler running?)")  # fmt: skip
        yield from self.work.stuck_reasons(set(self.results))

    def failed(self) -> list[str]:
        """Deployments whose rollout failed."""
        return [n for n, r in self.results.items() if r.failed]

    def finished(self) -> bool:
        """All Deployments done, or one failed."""
        return bool(self.failed()) or all(
            n in self.results and self.results[n].done for n in self.names
        )

    def events(self) -> Iterator[Event]:
        """Run the watch, yielding progress, pod problems and verdicts; stops at the end."""
        for w in self.watches:
            w.start()
        try:
            while not self.finished() and not self.stop.is_set():
                remaining = self.timeout - (time.monotonic() - self._started)
                if remaining <= 0:
                    for name in self.names:
                        if name not in self.results:
                            msg = self._shown.get(name, ((), self.work.progress(name)))[1]
                            said = self.work.timeout_message(name, msg)
                            timed_out = v.Verdict(False, True, said)
                            yield from self._verdict(name, timed_out)
                    return
                yield from self._due_held()
                yield from self._stuck(time.monotonic())
                try:
                    kind, kind_of_change, obj = self.queue.get(timeout=min(remaining, 1.0))
                except queue.Empty:
                    continue
                if kind_of_change == "SYNCED":
                    continue
                if kind == "Api":
                    yield from self._on_api(kind_of_change, obj)
                elif kind == "Deployment" and kind_of_change != "DELETED":
                    yield from self._on_deployment(obj)
                elif kind == "Pod":
                    yield from self._on_pod(kind_of_change, obj)
                elif kind == "Event":
                    yield from self._on_event(obj)
                elif kind == "Cluster":
                    self.work.take(obj, [n for n in self.names if "/" not in n])
                    for known in list(self.deployments.values()):
                        yield from self._on_deployment(known)
                elif kind in ("StatefulSet", "Job") and kind_of_change != "DELETED":
                    yield from self._judged(self.work.on_object(kind, obj))
                elif kind == "PersistentVolumeClaim" and kind_of_change != "DELETED":
                    yield from self._judged(self.work.on_claim(obj))
        finally:
            for w in self.watches:
                w.stop()
            # Threads still reading a socket at interpreter exit can abort the process.
            for w in self.watches:
                w.join(timeout=5)
