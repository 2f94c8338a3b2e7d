"""The migration Job: run it with the new backend image and wait, before any Deployment moves.

Jobs are immutable, so a finished Job of the same name is deleted first. The Job's result
is read from its conditions (Complete / Failed, which includes its activeDeadlineSeconds);
on failure the tail of its pods' logs comes back, masked.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from periph_env.common.redact import redact
from periph_env.deploy.kube import Kube
from periph_env.deploy.manifests import Obj

POLL_SECONDS = 0.25  # a cheap GET through the client, not a kubectl process


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


def run_migration(kube: Kube, objs: list[Obj], timeout: float | None = None) -> MigrationOutcome:
    """Apply the migrate kustomization's objects and wait for its Job to finish."""
    jobs = [o for o in objs if o.get("kind") == "Job"]
    if not jobs:
        return MigrationOutcome(True, "no migration Job in the migrate overlay")
    name = jobs[0]["metadata"]["name"]
    kube.run("delete", "job", name, "--ignore-not-found", "--wait=true", "--cascade=background")
    kube.apply(objs)
    deadline_s = jobs[0].get("spec", {}).get("activeDeadlineSeconds") or 600
    deadline = time.monotonic() + (timeout if timeout is not None else deadline_s + 60)
    from kubernetes import client

    batch = client.BatchV1Api(kube.client())
    while True:
        raw = batch.read_namespaced_job(name, kube.namespace, _preload_content=False)
        job = json.loads(raw.data)
        ok, why = job_state(job)
        if ok:
            return MigrationOutcome(True, f"job/{name} {why}")
        if ok is False or time.monotonic() > deadline:
            why = why if ok is False else "did not finish in time"
            return MigrationOutcome(False, f"job/{name} failed: {why}", job_logs(kube, job))
        time.sleep(POLL_SECONDS)


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
