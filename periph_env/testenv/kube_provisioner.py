"""The test cluster's default StorageClass and the smallest provisioner that makes it bind.

kwok runs no volume plugin and no provisioner, so a claim of the cluster stayed Pending
forever, and so did every pod that needs one (db-0 and cache-0 of a demo deploy). This
process owns a default StorageClass (``periph-kwok``, Immediate binding) and, for each
Pending claim of that class, creates a PersistentVolume bound to it (``claimRef``), as an
external provisioner does; the PV controller of kube-controller-manager then binds the
pair. The volume is a hostPath (``DirectoryOrCreate``) that kwok's simulated pods never
mount; a pod on the real node would get a directory on that node (the node tier names its
own ``periph-local`` class of local PVs, see node_config.storage_documents). A Released
volume of the class is deleted (reclaim policy Delete), as a provisioner would.

``kube.ensure`` starts one per cluster in its own session (``python -m
periph_env.testenv.kube_provisioner NAME``) and ``kube.stop`` stops it; it exits by itself
once the cluster's directory is gone. Claims of another class, or naming a class that does
not exist, are left alone: a test that makes a claim unbindable on purpose relies on it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

STORAGE_CLASS = "periph-kwok"
PROVISIONER = "periph.dev/kwok-hostpath"
VOLUME_ROOT = "/tmp/periph-kwok-volumes"
MODULE = "periph_env.testenv.kube_provisioner"
WATCH_SECONDS = 30  # one watch request; then the volumes are swept and the watch resumed
RETRY_SECONDS = 1.0

Obj = dict[str, Any]


def storage_class() -> Obj:
    """The cluster's default StorageClass, provisioned by this module."""
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": STORAGE_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": PROVISIONER,
        "volumeBindingMode": "Immediate",
        "reclaimPolicy": "Delete",
    }


def volume_for(claim: Obj) -> Obj | None:
    """The PersistentVolume to create for ``claim``, or None when it is not this
    provisioner's to serve (another class, already bound, being deleted)."""
    meta, spec = claim.get("metadata", {}), claim.get("spec", {})
    if spec.get("storageClassName") != STORAGE_CLASS or spec.get("volumeName"):
        return None
    if (claim.get("status") or {}).get("phase", "Pending") != "Pending":
        return None
    if meta.get("deletionTimestamp"):
        return None
    name = f"pvc-{meta['uid']}"
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": name,
            "labels": {"periph.dev/kwok-volume": "true"},
            "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER},
        },
        "spec": {
            "capacity": {"storage": (spec.get("resources") or {}).get("requests", {}).get(
                "storage", "1Gi"
            )},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "volumeMode": spec.get("volumeMode") or "Filesystem",
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": STORAGE_CLASS,
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": meta.get("namespace", ""),
                "name": meta.get("name", ""),
                "uid": meta["uid"],
            },
            "hostPath": {"path": f"{VOLUME_ROOT}/{name}", "type": "DirectoryOrCreate"},
        },
    }  # fmt: skip


def released(volume: Obj) -> bool:
    """Whether a volume of this class lost its claim (and is to be deleted)."""
    return volume.get("spec", {}).get("storageClassName") == STORAGE_CLASS and (
        volume.get("status") or {}
    ).get("phase") in ("Released", "Failed")


class Provisioner:
    """Serve the claims of ``STORAGE_CLASS`` through the Kubernetes API (``api_client``)."""

    def __init__(self, api_client: Any, log: Any = print) -> None:
        from kubernetes import client

        self.core = client.CoreV1Api(api_client)
        self.storage = client.StorageV1Api(api_client)
        self.serialize = client.ApiClient().sanitize_for_serialization
        self.log = log

    def ensure_class(self) -> None:
        """Create the StorageClass (an existing one is kept as it is)."""
        from kubernetes.client.exceptions import ApiException

        try:
            self.storage.create_storage_class(storage_class())
            self.log(f"created the default StorageClass {STORAGE_CLASS}")
        except ApiException as exc:
            if exc.status != 409:
                raise

    def serve(self, claim: Obj) -> None:
        """Create the claim's volume if it needs one (a volume already there is fine)."""
        from kubernetes.client.exceptions import ApiException

        volume = volume_for(claim)
        if volume is None:
            return
        try:
            self.core.create_persistent_volume(volume)
        except ApiException as exc:
            if exc.status != 409:
                raise
            return
        meta = claim["metadata"]
        self.log(f"provisioned {volume['metadata']['name']} for {meta['namespace']}/{meta['name']}")

    def sweep(self) -> str:
        """Serve every Pending claim, delete Released volumes; the claims' resourceVersion."""
        for volume in self.serialize(self.core.list_persistent_volume()).get("items") or []:
            if released(volume):
                name = volume["metadata"]["name"]
                self.core.delete_persistent_volume(name)
                self.log(f"deleted released volume {name}")
        claims = self.serialize(self.core.list_persistent_volume_claim_for_all_namespaces())
        for claim in claims.get("items") or []:
            self.serve(claim)
        return claims.get("metadata", {}).get("resourceVersion", "")

    def follow(self, resource_version: str) -> None:
        """Serve claims as they arrive, for one watch request."""
        from kubernetes import watch

        stream = watch.Watch().stream(
            self.core.list_persistent_volume_claim_for_all_namespaces,
            resource_version=resource_version,
            timeout_seconds=WATCH_SECONDS,
            _request_timeout=WATCH_SECONDS + 15,
        )
        for event in stream:
            if event["type"] in ("ADDED", "MODIFIED"):
                self.serve(self.serialize(event["object"]))


def run(name: str) -> int:
    """Provision for cluster ``name`` until its directory disappears; the exit code."""
    from kubernetes import config

    from periph_env.testenv import kube
    from periph_env.testenv import kube_config as cfg

    with cfg.use_cluster(name):
        _stamp(f"provisioning {STORAGE_CLASS} claims of cluster {name}")
        api = config.new_client_from_config(config_file=str(kube.kubeconfig_file()))
        provisioner = Provisioner(api, _stamp)
        while (cfg.cluster_dir() / "kwok.yaml").is_file():
            try:
                provisioner.ensure_class()
                provisioner.follow(provisioner.sweep())
            except Exception as exc:  # the API server restarting: try again shortly
                _stamp(f"retrying after {type(exc).__name__}: {str(exc).splitlines()[:1]}")
                time.sleep(RETRY_SECONDS)
        _stamp(f"cluster {name} deleted; exiting")
    return 0


def _stamp(line: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}", flush=True)


# --- the process, started and stopped with the cluster (kube.ensure / kube.stop) ------------


def pid_file() -> Path:
    """Where this cluster's provisioner pid is kept."""
    from periph_env.testenv import kube_config as cfg

    return cfg.periph_dir() / "provisioner.pid"


def log_file() -> Path:
    """The provisioner's log."""
    from periph_env.testenv import kube_config as cfg

    return cfg.periph_dir() / "provisioner.log"


def running_pid() -> int | None:
    """Pid of this cluster's provisioner, if it runs (checked by its command line)."""
    from periph_env.testenv import kube_config as cfg
    from periph_env.testenv.state import pid_alive

    try:
        pid = int(pid_file().read_text().strip())
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    ours = MODULE.encode() in argv and cfg.CLUSTER_NAME.encode() in argv
    return pid if ours and pid_alive(pid) else None


def ensure_running(log: Any) -> None:
    """Start the provisioner of the current cluster unless it runs."""
    from periph_env.testenv import kube_config as cfg
    from periph_env.testenv.state import spawn

    if running_pid() is not None:
        return
    proc = spawn([sys.executable, "-m", MODULE, cfg.CLUSTER_NAME], log_file())
    pid_file().write_text(f"{proc.pid}\n")
    log(f"kube: provisioner (pid {proc.pid}) binds claims of the default class {STORAGE_CLASS}")


def stop(log: Any) -> None:
    """Stop the current cluster's provisioner (``kube.stop``)."""
    from periph_env.testenv.state import terminate

    pid = running_pid()
    if pid is not None:
        terminate(pid, timeout=5)
        log(f"kube: provisioner (pid {pid}) stopped")
    pid_file().unlink(missing_ok=True)


def main(argv: Sequence[str]) -> int:
    """Entry point: ``python -m periph_env.testenv.kube_provisioner CLUSTER``."""
    if len(argv) != 1:
        print(f"usage: python -m {MODULE} CLUSTER", file=sys.stderr)
        return 2
    return run(argv[0])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
