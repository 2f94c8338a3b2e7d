"""The dev database of a cluster stack: ``periph db ... --cluster`` and the Stack area's
``m`` on a namespace.

Locally ``periph_env.data`` runs psql in the db container (``docker exec``) and the
migrate one-shot with ``compose run``. Here the same psql runs in the db pod through
``kubectl exec -i`` (one process for a whole snapshot or restore, as locally: the
``Postgres`` session is unchanged), and the one-shot is the ``migrate`` Job run again.
Snapshots are databases of the pod's own Postgres (``CREATE DATABASE ... TEMPLATE``),
so they live as long as the db pod's storage: with ``storage = "ephemeral"`` a new db
pod starts empty, as a local ``docker compose down -v`` would.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from periph_env.data.pg import DbNotRunning, Postgres
from periph_env.errors import EngineError, PeriphError

# Labels and annotations the Job controller writes; a Job made again must not carry
# them (its selector is generated anew, and the API refuses a template whose labels
# name another Job's uid).
_GENERATED = ("controller-uid", "job-name")
_GENERATED_PREFIXES = ("batch.kubernetes.io/", "kubectl.kubernetes.io/")


class PodPostgres(Postgres):
    """The Postgres of a cluster stack's db pod (psql through ``kubectl exec``)."""

    tool = "kubectl"
    where = "pod"

    def __init__(self, cluster: Any, service: str = "db") -> None:
        super().__init__(cluster.stack, service)
        self.cluster = cluster
        name = getattr(cluster.settings, "name", None)
        self.cli_flag = f" --cluster {name}" if name else " --cluster"

    @property
    def container(self) -> str:
        """The newest Ready db pod (a clear error when there is none)."""
        if self._container is None:
            pod = self.cluster.ready_pod(self.service)
            if pod is None:
                raise DbNotRunning(
                    f"no Ready {self.service} pod in namespace {self.cluster.namespace}",
                    hint="`periph up --cluster` starts the stack; `periph ps --cluster` shows it",
                )
            self._container = pod
        return self._container

    def exec_argv(self, stdin: bool = False) -> list[str]:
        """``kubectl exec`` into the db pod's container (named like the service)."""
        flags = ["-i"] if stdin else []
        return self.cluster.kube.argv("exec", *flags, self.container, "-c", self.service, "--")

    def _env(self) -> dict[str, str]:
        return dict(os.environ)  # kubectl reads KUBECONFIG as periph's own client does


def _generated(key: str) -> bool:
    return key in _GENERATED or key.startswith(_GENERATED_PREFIXES)


def fresh_job(job: dict[str, Any]) -> dict[str, Any]:
    """A Job like ``job`` that the API takes as new: its spec and own labels, without
    the selector and the labels the Job controller added."""
    meta = job.get("metadata") or {}
    spec = copy.deepcopy(job.get("spec") or {})
    spec.pop("selector", None)
    spec.pop("manualSelector", None)
    template = spec.setdefault("template", {}).setdefault("metadata", {})
    labels = template.get("labels") or {}
    template["labels"] = {k: v for k, v in labels.items() if not _generated(k)}
    keep = {
        "name": meta.get("name"),
        "labels": {k: v for k, v in (meta.get("labels") or {}).items() if not _generated(k)},
        "annotations": {
            k: v for k, v in (meta.get("annotations") or {}).items() if not _generated(k)
        },
    }
    if meta.get("namespace"):
        keep["namespace"] = meta["namespace"]
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": keep, "spec": spec}


class ClusterOneShots:
    """What ``periph_env.data`` asks of a stack, on the cluster: the project (root,
    compose file, masking) and ``run_one_shot`` (the migrate Job again)."""

    def __init__(self, cluster: Any, progress: Any = None) -> None:
        self.cluster = cluster
        self.stack = cluster.stack
        self.progress = progress or (lambda _line: None)

    @property
    def compose_path(self) -> Path:
        return self.stack.compose_path

    @property
    def root(self) -> Path:
        return Path(self.stack.root)

    def mask(self, text: str) -> str:
        """The local stack's masking (the env file's secrets are the pods' secrets)."""
        return self.stack.mask(text)

    def run_one_shot(self, service: str) -> None:
        """Run ``service``'s Job once more, with the image and spec it has, and wait
        until it completed; a failure raises with the pod's last lines, masked."""
        kube = self.cluster.kube
        job = kube.get("Job", service)
        if job is None:
            raise EngineError(
                f"no Job {service} in namespace {self.cluster.namespace}",
                hint="`periph up --cluster` creates it",
            )
        fresh = fresh_job(job)
        self.cluster.delete_job(service)
        self.progress(f"{service}: running the Job again")
        kube.rest.apply([fresh])
        try:
            self.cluster.wait_rolled([service], self.progress, kind="Job")
        except PeriphError as exc:
            raise PeriphError(
                exc.message, hint=f"`periph logs --cluster {service}`; a migration may be broken"
            ) from None


def cluster_database(cluster: Any, progress: Any = None) -> tuple[ClusterOneShots, PodPostgres]:
    """The (stack, postgres) pair ``periph_env.data``'s functions take, for ``cluster``."""
    return ClusterOneShots(cluster, progress), PodPostgres(cluster)
