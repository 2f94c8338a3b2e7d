"""What the rollout watch judges besides Deployments: StatefulSets, Jobs, claims, HPA floors.

``RolloutWatch`` (``periph_env.deploy.watch``) owns the threads and the queue; this keeps
the state of the other workloads a deploy changed and turns the objects the watch streams
into events, with the verdicts of ``periph_env.deploy.stateful``. Keys are
``statefulset/<name>`` and ``job/<name>`` (a Deployment keeps its plain name, as before),
so a verdict names the kind of what failed.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

from periph_env.deploy import stateful as st
from periph_env.deploy.events import DeploymentProgress, Event, Note
from periph_env.deploy.kube_rest import namespaced, open_get
from periph_env.deploy.verdict import Verdict

Obj = dict[str, Any]
CLAIM_EVENTS_KEPT = 5  # per claim: the newest explain why it is unbound
READ_TIMEOUT = (5, 10)  # the one-off reads (StorageClasses, HPAs): connect, read


class OneRead(threading.Thread):
    """``Workloads.read`` once, off the watch's thread; the answer goes on the queue as
    ``("Cluster", "READ", found)``. Same interface as the watch's other threads."""

    def __init__(self, work: Workloads, api_client: Any, namespace: str, deployments: list[str],
                 out: queue.Queue) -> None:  # fmt: skip
        super().__init__(daemon=True, name="periph-watch-read")
        self.args = (work, api_client, namespace, deployments)
        self.out = out
        self.reconnects = 0

    def stop(self) -> None:
        """Nothing to stop: the read ends by itself (bounded by ``READ_TIMEOUT``)."""

    def drop(self) -> None:
        """Nothing to drop."""

    def run(self) -> None:
        work, api_client, namespace, deployments = self.args
        self.out.put(("Cluster", "READ", work.read(api_client, namespace, deployments)))


def key(kind: str, name: str) -> str:
    """``statefulset/db``: how the watch names a non-Deployment workload."""
    return f"{kind.lower()}/{name}"


class Workloads:
    """StatefulSets and Jobs being judged, the claims they need and the HPAs' floors."""

    def __init__(
        self, statefulsets: list[str], jobs: list[str], claims: dict[str, list[str]]
    ) -> None:
        self.keys = [key("StatefulSet", n) for n in statefulsets] + [key("Job", n) for n in jobs]
        self.objects: dict[str, Obj] = {}
        # Claims each workload needs, by key (Deployments' claim volumes under their name);
        # a StatefulSet's come from its templates once it is seen.
        self.needs: dict[str, list[str]] = {k: list(c) for k, c in claims.items()}
        self.claims: dict[str, Obj] = {}
        self.claim_events: dict[str, list[Obj]] = {}
        self.classes: list[Obj] | None = None  # None: not read (or not readable)
        self.floors: dict[str, tuple[str, int]] = {}  # deployment -> (hpa, minReplicas)
        self._shown: dict[str, tuple] = {}
        self._floor_said: set[str] = set()
        # Until the HPAs are read, a Deployment is not judged done (its floor is unknown).
        self.read_done = False

    # -- what arrives -----------------------------------------------------------------------

    def on_object(self, kind: str, obj: Obj) -> Iterator[Event | tuple[str, Verdict]]:
        """A StatefulSet or Job changed: its progress, and ``(key, verdict)`` once it ends."""
        name = key(kind, obj["metadata"]["name"])
        if name not in self.keys:
            return
        self.objects[name] = obj
        if kind == "StatefulSet":
            self.needs[name] = st.claims_needed(obj, kind)
            result, counts = st.statefulset_verdict(obj), st.statefulset_counts(obj)
        else:
            result = st.job_verdict(obj)
            status = obj.get("status") or {}
            done = status.get("succeeded", 0)
            counts = {
                "desired": (obj.get("spec") or {}).get("completions", 1) or 1,
                "updated": done,
                "ready": status.get("ready", 0),
                "available": done,
                "old_replicas": 0,
            }
        shown = (tuple(counts.values()), result.message)
        if self._shown.get(name) != shown:
            self._shown[name] = shown
            yield DeploymentProgress(name, message=result.message, **counts)
        if result.done or result.failed:
            yield (name, result)
        else:
            yield from self.claim_verdicts(name)

    def on_claim(self, obj: Obj) -> Iterator[tuple[str, Verdict]]:
        """A claim changed: a workload that needs it fails if it can no longer bind."""
        self.claims[obj["metadata"]["name"]] = obj
        yield from self._owners_of(obj["metadata"]["name"])

    def on_claim_event(self, event: Obj) -> Iterator[tuple[str, Verdict]]:
        """An event about a claim (ProvisioningFailed, FailedBinding, ...)."""
        involved = event.get("involvedObject") or event.get("regarding") or {}
        if involved.get("kind") != "PersistentVolumeClaim":
            return
        claim = involved.get("name", "")
        kept = self.claim_events.setdefault(claim, [])
        kept.append(event)
        del kept[:-CLAIM_EVENTS_KEPT]
        yield from self._owners_of(claim)

    def _owners_of(self, claim: str) -> Iterator[tuple[str, Verdict]]:
        for owner, needed in list(self.needs.items()):
            if claim in needed:
                yield from self.claim_verdicts(owner)

    def claim_verdicts(self, owner: str) -> Iterator[tuple[str, Verdict]]:
        """``(owner, failed verdict)`` when a claim ``owner`` needs will not bind."""
        for problem in self.problems(owner):
            if problem.hopeless:
                kind, _, name = owner.rpartition("/")
                what = f'{kind or "deployment"} "{name}"'
                yield owner, Verdict(False, True, f"{what} will not roll out: {problem.describe()}")
                return

    def read(self, api_client: Any, namespace: str, deployments: list[str]) -> Obj:
        """Read once what the watch does not stream: the StorageClasses (only when a claim
        is to be judged) and the HPAs (only with Deployments). Unreadable: left out (None),
        judged without them. Runs in the ``OneRead`` thread; ``take`` applies the answer."""
        found: Obj = {"classes": None, "hpas": []}
        if any(self.needs.values()) or any(k.startswith("statefulset/") for k in self.keys):
            with contextlib.suppress(Exception):  # RBAC may forbid cluster-scoped reads
                found["classes"] = _items(api_client, "/apis/storage.k8s.io/v1/storageclasses")
        if deployments:
            with contextlib.suppress(Exception):  # no HPA API: no floors to wait for
                path = namespaced("autoscaling/v1", "horizontalpodautoscalers", namespace)
                found["hpas"] = _items(api_client, path)
        return found

    def take(self, found: Obj, deployments: list[str]) -> None:
        """Apply ``read``'s answer: from now on Deployments may be judged done."""
        self.classes = found.get("classes")
        self.set_floors(found.get("hpas") or [], deployments)
        self.read_done = True

    # -- what is asked ----------------------------------------------------------------------

    def problems(self, owner: str) -> list[st.ClaimProblem]:
        """Why the claims ``owner`` needs are unbound (claims not created yet are skipped)."""
        found = []
        for claim in self.needs.get(owner, []):
            obj = self.claims.get(claim)
            if obj is None:
                continue
            problem = st.claim_problem(obj, self.classes, self.claim_events.get(claim, []))
            if problem is not None:
                found.append(problem)
        return found

    def owner_of(self, pod: Obj) -> str | None:
        """The StatefulSet or Job (key) a pod belongs to, by its owner reference."""
        for ref in pod.get("metadata", {}).get("ownerReferences") or []:
            name = key(ref.get("kind", ""), ref.get("name", ""))
            if name in self.keys:
                return name
        return None

    def template(self, owner: str) -> Obj:
        """The object (StatefulSet / Job) with the pod template its pods should run."""
        return self.objects.get(owner, {})

    def set_floors(self, hpas: list[Obj], deployments: list[str]) -> None:
        """Remember each HPA's minReplicas for the Deployments it scales."""
        for hpa in hpas:
            target = st.hpa_target(hpa)
            if target in deployments:
                floor = (hpa.get("spec") or {}).get("minReplicas", 1)
                self.floors[target] = (hpa["metadata"]["name"], floor)

    def below_floor(self, deployment: Obj) -> Iterator[Note]:
        """A Note (once) when an HPA will raise ``deployment``'s replicas; nothing when it
        need not wait. The caller holds the verdict while ``waiting_for_hpa`` says so."""
        name = deployment["metadata"]["name"]
        if self.waiting_for_hpa(deployment) and name not in self._floor_said:
            self._floor_said.add(name)
            hpa, floor = self.floors[name]
            yield Note(f"waiting for the HPA {hpa} to raise replicas to {floor}")

    def waiting_for_hpa(self, deployment: Obj) -> bool:
        """Whether an HPA's floor is above the Deployment's replicas (it will raise them)."""
        name = deployment["metadata"]["name"]
        if name not in self.floors:
            return False
        fake = {"spec": {"minReplicas": self.floors[name][1]}}
        return st.hpa_floor(fake, deployment) is not None

    def progress(self, name: str) -> str:
        """The last progress message of a StatefulSet or Job ("not observed yet")."""
        return self._shown.get(name, ((), "not observed yet"))[1]

    def timeout_message(self, name: str, progress: str) -> str:
        """What the timeout of ``name`` says: its progress, and its unbound claims."""
        claims = "; ".join(p.describe() for p in self.problems(name))
        return f"timed out: {progress}" + (f" ({claims})" if claims else "")

    def stuck_reasons(self, done: set[str]) -> Iterator[tuple[tuple[str, str], str]]:
        """Unbound claims of workloads still waiting, for the watch's stuck notes."""
        for owner in list(self.needs):
            if owner in done:
                continue
            for problem in self.problems(owner):
                reason = problem.reason.replace("{", "{{").replace("}", "}}")
                yield (
                    ("PersistentVolumeClaim", problem.claim),
                    f"claim {problem.claim} not bound after {{seconds}}: {reason}",
                )


def _items(api_client: Any, path: str) -> list[Obj]:
    """The items of a list at ``path``, as the API's plain JSON (no model classes)."""
    items = json.loads(open_get(api_client, path, timeout=READ_TIMEOUT).data).get("items")
    return [i for i in items or [] if isinstance(i, dict)]
