"""CPU and memory of the cluster dev stack's pods, without needing a metrics server.

``PodStatsModel`` has exactly ``periph_env.stack.stats.StatsModel``'s interface
(``update(statuses)``, ``latest()``, ``history(service)``, ``followed()``, ``stop()``,
the same ``Sample``), so the Stack area reads it unchanged. It owns ONE polling thread,
started by the first ``update`` with a running service, that reads every ``EVERY``
seconds until ``stop()`` (which wakes it at once and joins it).

One reading (``read``, also what ``periph ps --cluster --stats`` prints):

1. the stack's pods (one list by the stack's label: each pod's service label, node and
   container memory limits);
2. their usage from the metrics API (``metrics.k8s.io/v1beta1`` pods of the namespace)
   when the cluster serves it; once it answers 404 or 403 it is not asked again;
3. else from the kubelet's Summary API through the API server's node proxy
   (``/api/v1/nodes/<node>/proxy/stats/summary``), one request per node that hosts a
   pod of the stack: ``usageNanoCores`` becomes percent of one core (the local stack's
   unit: 100 = one core busy), ``workingSetBytes`` the memory (what the kubelet evicts
   by and ``kubectl top`` shows, as the local stack shows usage without page cache).

A service's pods are summed (a rollout's two pods count both). A service any of whose
pods cannot be read has no sample (its cells show ``-``): a node proxy the user may not
use (RBAC 403), a node that does not answer (bounded by ``TIMEOUT``, kept under the
``Kube``'s own "waiting for" notice), a pod the kubelet has not measured yet. Each
problem is said once on ``notice`` per model (not every 2 s), never as a traceback.

Transport: the cluster's ``Kube`` (its ``rest`` client: bounded, masked, errors as
``PeriphError``), the one the status poller uses.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from periph_env.cluster import translate as t
from periph_env.errors import PeriphError
from periph_env.stack.stats import HISTORY, Sample, SampleHistory

if TYPE_CHECKING:
    from periph_env.deploy.kube import Kube
    from periph_env.stack.models import ServiceStatus

Obj = dict[str, Any]
EVERY = 2.0  # seconds between readings (the kubelet refreshes its numbers every ~10 s)
# (connect, read) seconds per stats request: the sum stays under Kube's NOTICE_AFTER (2 s)
# so a slow node is said once by this model, not as "waiting for..." on every reading.
TIMEOUT = (0.8, 1.2)
JOIN_LIMIT = 10.0  # stop(): a reading in flight has at most a few TIMEOUT-bounded requests
METRICS = "/apis/metrics.k8s.io/v1beta1"


def quantity(text: Any) -> Decimal | None:
    """A Kubernetes quantity (``250m``, ``512Mi``, ``1.5G``, ``12345n``, ``1e3``) as a
    number (the client's own parser); None when it is not one."""
    # Imported here: the kubernetes package costs ~0.3 s to load, and only a cluster has it.
    from kubernetes.utils.quantity import parse_quantity

    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    try:
        return parse_quantity(text.strip() if isinstance(text, str) else text)
    except (ValueError, TypeError):
        return None


def memory_limit(pod: Obj) -> int | None:
    """The sum of the pod's containers' ``resources.limits.memory`` in bytes; None when
    a container has none (the pod may then use the node's memory)."""
    total = 0
    for container in (pod.get("spec") or {}).get("containers") or []:
        limit = quantity(((container.get("resources") or {}).get("limits") or {}).get("memory"))
        if limit is None:
            return None
        total += int(limit)
    return total or None


def summary_usage(summary: Any) -> dict[tuple[str, str], tuple[float | None, int]]:
    """(namespace, pod) -> (CPU percent of one core or None, working set bytes) from a
    kubelet Summary API answer. Containers are summed (the pod-level figures lag behind
    the containers' by up to a collection period); a pod without a container memory
    figure is left out (measured next time)."""
    out: dict[tuple[str, str], tuple[float | None, int]] = {}
    pods = summary.get("pods") if isinstance(summary, dict) else None
    for pod in pods if isinstance(pods, list) else []:
        if not isinstance(pod, dict):
            continue
        ref = pod.get("podRef") or {}
        cpu: float | None = None
        mem: int | None = None
        for container in pod.get("containers") or []:
            nanos = (container.get("cpu") or {}).get("usageNanoCores")
            if isinstance(nanos, int | float):
                cpu = (cpu or 0.0) + nanos / 1e7  # 1e9 ns of CPU a second = 100 %
            working = (container.get("memory") or {}).get("workingSetBytes")
            if isinstance(working, int | float):
                mem = (mem or 0) + int(working)
        if mem is not None and ref.get("name"):
            out[(str(ref.get("namespace") or ""), str(ref["name"]))] = (cpu, mem)
    return out


def metrics_usage(listing: Any) -> dict[tuple[str, str], tuple[float | None, int]]:
    """The same from a ``metrics.k8s.io/v1beta1`` PodMetricsList (its memory is the
    working set too)."""
    out: dict[tuple[str, str], tuple[float | None, int]] = {}
    items = listing.get("items") if isinstance(listing, dict) else None
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        meta = item.get("metadata") or {}
        cpu, mem = Decimal(0), Decimal(0)
        for container in item.get("containers") or []:
            usage = container.get("usage") or {}
            cpu += quantity(usage.get("cpu")) or 0
            mem += quantity(usage.get("memory")) or 0
        if meta.get("name"):
            out[(str(meta.get("namespace") or ""), str(meta["name"]))] = (
                float(cpu * 100),
                int(mem),
            )
    return out


class PodReader:
    """One reading of the stack's pods' usage (see the module docstring); remembers
    whether the metrics API is served and which problems it has said."""

    def __init__(
        self,
        kube: Kube,
        namespace: str,
        selector: str,
        notice: Callable[[str], None] | None = None,
        timeout: tuple[float, float] | None = TIMEOUT,
    ) -> None:
        self.kube, self.namespace, self.selector = kube, namespace, selector
        self.notice = notice or (lambda _line: None)
        # None: the client's defaults (a one-off reading such as `ps --stats` can wait).
        self.timeout = timeout
        self.metrics: bool | None = None  # None: not asked yet
        self._said: set[str] = set()

    def say_once(self, key: str, line: str) -> None:
        """``notice(line)`` the first time ``key`` comes up."""
        if key not in self._said:
            self._said.add(key)
            self.notice(line)

    def read(self, services: Iterable[str] | None = None) -> dict[str, Sample]:
        """service -> ``Sample`` (summed over its running pods) for ``services`` (None:
        every service with a running pod); a service with an unread pod is left out.
        A failed pod listing raises its ``PeriphError`` (the cluster does not answer)."""
        wanted = None if services is None else set(services)
        by_service: dict[str, list[Obj]] = {}
        for pod in self._pods():
            meta, status = pod.get("metadata") or {}, pod.get("status") or {}
            service = (meta.get("labels") or {}).get(t.SERVICE_LABEL)
            if not service or (wanted is not None and service not in wanted):
                continue
            if status.get("phase") != "Running" or meta.get("deletionTimestamp"):
                continue  # a pod going away is the one its replacement takes over from
            by_service.setdefault(service, []).append(pod)
        if not by_service:
            return {}
        usage = self._usage([p for pods in by_service.values() for p in pods])
        now = time.time()
        samples = {}
        for service, pods in by_service.items():
            read = [usage.get((self.namespace, p["metadata"]["name"])) for p in pods]
            if any(r is None for r in read):
                continue
            cpus = [r[0] for r in read if r is not None]
            limits = [memory_limit(p) for p in pods]
            samples[service] = Sample(
                None if any(c is None for c in cpus) else sum(c or 0.0 for c in cpus),
                sum(r[1] for r in read if r is not None),
                None if any(lim is None for lim in limits) else sum(lim or 0 for lim in limits),
                now,
            )
        return samples

    def _pods(self) -> list[Obj]:
        """The stack's pods (the namespace's, by the stack's label), within ``timeout``."""
        path = self.kube.rest.path("v1", "Pod", namespace=self.namespace)
        answer = self.kube.rest.request(
            "GET", path, {"labelSelector": self.selector}, timeout=self.timeout
        )
        items = answer.get("items") if isinstance(answer, dict) else None
        return [i for i in items or [] if isinstance(i, dict) and (i.get("metadata") or {})]

    def _usage(self, pods: list[Obj]) -> dict[tuple[str, str], tuple[float | None, int]]:
        if self.metrics is not False:
            found = self._from_metrics()
            if found is not None:
                return found
        usage: dict[tuple[str, str], tuple[float | None, int]] = {}
        nodes = sorted({str((p.get("spec") or {}).get("nodeName") or "") for p in pods} - {""})
        for node in nodes:
            usage.update(self._from_node(node))
        return usage

    def _from_metrics(self) -> dict[tuple[str, str], tuple[float | None, int]] | None:
        """The metrics API's reading; None when it is not served (404), not allowed
        (403: both remembered) or failed this time."""
        path = f"{METRICS}/namespaces/{self.namespace}/pods"
        try:
            listing = self.kube.rest.request(
                "GET", path, {"labelSelector": self.selector}, timeout=self.timeout
            )
        except PeriphError as exc:
            if getattr(exc, "status", None) in (403, 404):
                self.metrics = False  # the Summary API from now on
            return None
        self.metrics = True
        return metrics_usage(listing)

    def _from_node(self, node: str) -> dict[tuple[str, str], tuple[float | None, int]]:
        """The kubelet Summary API of ``node`` through the API server's proxy; {} (and a
        notice, once) when it is forbidden or does not answer."""
        try:
            summary = self.kube.rest.request(
                "GET", f"/api/v1/nodes/{node}/proxy/stats/summary", timeout=self.timeout
            )
        except PeriphError as exc:
            status = getattr(exc, "status", None)
            if status == 403:
                self.say_once(
                    f"403 {node}",
                    f"CPU/MEM of the pods on node {node} show -: the user of context "
                    f"{self.kube.context} may not read its kubelet stats (RBAC: get "
                    "nodes/proxy) and the cluster serves no metrics API",
                )
            else:
                self.say_once(
                    f"down {node}",
                    f"CPU/MEM of the pods on node {node} show -: its kubelet stats "
                    f"did not come ({self.kube.mask(exc.message)})",
                )
            return {}
        return summary_usage(summary)


class PodStatsModel(SampleHistory):
    """The latest sample and recent history of every running service of a cluster dev
    stack (``StatsModel``'s interface; see the module docstring)."""

    def __init__(
        self,
        reader: PodReader,
        every: float = EVERY,
        history: int = HISTORY,
        autostart: bool = True,
    ) -> None:
        """``autostart`` False: no thread, ``poll()`` reads (tests, a one-off reader)."""
        super().__init__(history)
        self.reader = reader
        self.autostart = autostart
        self.every = every
        self._wake = threading.Event()
        self._running: set[str] = set()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def update(self, statuses: Iterable[ServiceStatus]) -> None:
        """Follow exactly the running services of ``statuses`` (the others lose their
        samples); the first running one starts the polling thread."""
        running = {
            s.service for s in statuses if s.state == "running" and s.container_id is not None
        }
        with self._lock:
            if self._stopped:
                return
            self._running = running
            for service in set(self._samples) - running:
                del self._samples[service]
            if running and self._thread is None and self.autostart:
                self._thread = threading.Thread(
                    target=self._run, name="periph-pod-stats", daemon=True
                )
                self._thread.start()

    def poll(self) -> None:
        """One reading into the history (what the thread does every ``every`` s). A
        service not read this time loses its samples (its cells show ``-``, not an old
        figure); a cluster that does not answer changes nothing (the status poller
        shows that)."""
        with self._lock:
            wanted = set(self._running)
        if not wanted:
            return
        try:
            samples = self.reader.read(wanted)
        except PeriphError:
            return
        with self._lock:
            if self._stopped:
                return
            for service in set(self._samples) - set(samples):
                del self._samples[service]
            for service, sample in samples.items():
                if service in self._running:
                    self._keep(service, sample)

    def _run(self) -> None:
        while not self._wake.is_set():
            try:
                self.poll()
            except Exception as exc:  # a bug must not end the stats silently in a thread
                stopped = self.reader.kube.mask(repr(exc))  # pods' words: masked first
                self.reader.say_once("bug", f"CPU/MEM of the pods stopped: {stopped}")
                return
            self._wake.wait(self.every)

    def followed(self) -> set[str]:
        """The services the model reads now."""
        with self._lock:
            return set(self._running)

    def stop(self) -> None:
        """Stop reading: the thread wakes at once and is joined (a request in flight
        ends within ``TIMEOUT``)."""
        with self._lock:
            self._stopped = True
            self._running = set()
            thread = self._thread
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(JOIN_LIMIT)
