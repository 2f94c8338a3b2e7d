"""The migration Job: run it with the new backend image and wait, before any Deployment moves.

Jobs are immutable, so a finished Job of the same name is deleted first. The Job's result
is read from its conditions (Complete / Failed, which includes its activeDeadlineSeconds);
on failure the tail of its pods' logs comes back, masked.

The wait speaks: no pod created, a pod Pending and why, the API server away and back
(``outage``) are told as Note events; an API server away for good ends it with an
EngineError naming the endpoint.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from periph_env.common.redact import redact
from periph_env.deploy import verdict as v
from periph_env.deploy.events import Event, Note
from periph_env.deploy.kube import Kube
from periph_env.deploy.kube_rest import namespaced, open_get
from periph_env.deploy.manifests import Obj
from periph_env.deploy.outage import (
    CALL_TIMEOUT,
    Outage,
    describe,
    is_transient,
    quick_client,
)
from periph_env.errors import EngineError

POLL_SECONDS = 0.25  # a cheap GET through the client, not a kubectl process
DELETE_WAIT = 60.0  # seconds a deleted Job may take to go (kubectl delete --wait waits too)
POD_POLL_SECONDS = 1.0  # the Job's pods are listed less often than the Job is read
NO_POD_SECONDS = 10.0  # no pod after this long: say which controller should have made one
UNSCHEDULED_SECONDS = 10.0


@dataclass(frozen=True)
class MigrationOutcome:
    """How the Job ended: ``ok``, a one-line reason and (on failure) its logs' tail."""

    ok: bool
    message: str
    logs: str = ""


def _condition(job: Obj, kind: str) -> Obj | None:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind and cond.get("status") == "True":
            return cond
    return None


def job_state(job: Obj) -> tuple[bool | None, str]:
    """(True: complete, False: failed, None: running) and why."""
    failed = _condition(job, "Failed")
    if failed:
        return False, f"{failed.get('reason', 'Failed')}: {failed.get('message', '')}".strip(": ")
    if _condition(job, "Complete"):
        return True, "complete"
    return None, "running"


def mask(text: str, secrets: list[str]) -> str:
    """``text`` safe to show: every known secret in any form (base64, URL, JSON) replaced
    by ****, control characters escaped (the one masker, ``periph_env.common.redact``)."""
    return redact(text, secrets)


@dataclass
class JobWait:
    """What a Job's wait has said so far, so each reason is told once."""

    job: str
    started: float
    said: set[str] = field(default_factory=set)
    unscheduled_since: dict[str, float] = field(default_factory=dict)

    def notes(self, pods: list[Obj], now: float) -> list[str]:
        """Lines worth telling about the Job's ``pods`` at ``now`` (each reason once)."""
        out: list[str] = []
        if not pods and now - self.started >= NO_POD_SECONDS:
            out.append(
                f"no pod created for job {self.job} after {now - self.started:.0f}s "
                "(is kube-controller-manager running?)"
            )
        for pod in pods:
            name = pod.get("metadata", {}).get("name", "?")
            status, spec = pod.get("status") or {}, pod.get("spec") or {}
            phase = status.get("phase") or "Pending"
            for reason, message in v.pod_problems(pod):
                out.append(f"pod {name} {phase}: {message} ({reason})")
            conditions = {c.get("type") for c in status.get("conditions") or []}
            if phase == "Pending" and not spec.get("nodeName") and "PodScheduled" not in conditions:
                since = self.unscheduled_since.setdefault(name, now)
                if now - since >= UNSCHEDULED_SECONDS:
                    out.append(
                        f"pod {name} not scheduled after {now - since:.0f}s "
                        "(is kube-scheduler running?)"
                    )
        fresh = [line for line in out if _key(line) not in self.said]
        self.said.update(_key(line) for line in fresh)
        return fresh


def _key(line: str) -> str:
    """A note without its changing seconds, so "after 10s" and "after 11s" are one reason."""
    return " ".join(word for word in line.split() if not word.rstrip("s").isdigit())


def run_migration(
    kube: Kube,
    objs: list[Obj],
    timeout: float | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Generator[Event, None, MigrationOutcome]:
    """Apply the migrate kustomization's objects and wait for its Job to finish.

    Yields Note events while it waits (see ``JobWait``); returns how the Job ended.
    ``sleep`` waits between polls (a run's ``sleep`` ends the wait on a stop request).
    """
    jobs = [o for o in objs if o.get("kind") == "Job"]
    if not jobs:
        return MigrationOutcome(True, "no migration Job in the migrate overlay")
    name = jobs[0]["metadata"]["name"]
    _delete_job(kube, name, sleep)
    kube.apply(objs)
    deadline_s = jobs[0].get("spec", {}).get("activeDeadlineSeconds") or 600
    started = time.monotonic()
    deadline = started + (timeout if timeout is not None else deadline_s + 60)
    api = quick_client(kube.client())  # plain REST (kube_rest.open_get): no API classes
    outage = Outage(getattr(api.configuration, "host", "") or kube.context)
    wait = JobWait(name, started)
    pods_read = 0.0
    while True:
        try:
            path = namespaced("batch/v1", "jobs", kube.namespace, name)
            job = json.loads(open_get(api, path, timeout=CALL_TIMEOUT).data)
            pods = None
            if time.monotonic() - pods_read >= POD_POLL_SECONDS:
                pods, pods_read = _job_pods(api, kube.namespace, job), time.monotonic()
        except Exception as exc:
            if not is_transient(exc):
                reason = mask(describe(exc), kube.secrets)
                raise EngineError(f"cannot read job/{name}: {reason}") from None
            said = outage.failure(describe(exc))  # raises once the server is gone for good
            if said:
                yield Note(said)
            sleep(POLL_SECONDS * 4)
            continue
        said = outage.success()
        if said:
            yield Note(said)
        ok, why = job_state(job)
        if ok:
            return MigrationOutcome(True, f"job/{name} {why}")
        if ok is False or time.monotonic() > deadline:
            why = why if ok is False else "did not finish in time"
            return MigrationOutcome(False, f"job/{name} failed: {why}", job_logs(kube, job))
        if pods is not None:
            for line in wait.notes(pods, time.monotonic()):
                yield Note(mask(line, kube.secrets))
        sleep(POLL_SECONDS)


def _delete_job(kube: Kube, name: str, sleep: Callable[[float], None]) -> None:
    """Delete the previous run's Job (its pods in the background) and wait until it is gone,
    as ``kubectl delete --wait`` does: the apply must create a new Job, not patch the old."""
    if not kube.delete("Job", name):
        return
    deadline = time.monotonic() + DELETE_WAIT
    while kube.get("Job", name) is not None:
        if time.monotonic() > deadline:
            raise EngineError(f"job/{name} was still there {DELETE_WAIT:.0f} s after its delete")
        sleep(POLL_SECONDS)


def _job_pods(api: Any, namespace: str, job: Obj) -> list[Obj]:
    """The Job's pods, by the controller-uid label the Job controller puts on them."""
    uid = job.get("metadata", {}).get("uid", "")
    query = {"labelSelector": f"batch.kubernetes.io/controller-uid={uid}"}
    raw = open_get(api, namespaced("v1", "pods", namespace), query, CALL_TIMEOUT)
    return json.loads(raw.data).get("items", [])


def job_logs(kube: Kube, job: Obj, lines: int = 40) -> str:
    """The last ``lines`` of the Job's pods' logs (masked), or why they are unavailable."""
    uid = job["metadata"].get("uid", "")
    proc = kube.run(
        "logs",
        "-l",
        f"batch.kubernetes.io/controller-uid={uid}",
        "--all-containers",
        "--prefix",
        f"--tail={lines}",
        check=False,
        timeout=30,
    )
    text = (proc.stdout or proc.stderr).strip() or "(no logs)"
    return mask(text, kube.secrets)
