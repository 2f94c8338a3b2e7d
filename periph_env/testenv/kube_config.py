"""What the kwok test cluster is made of: versions, paths, kwokctl's config and the fake nodes.

Pure functions only (no processes), so the unit tier can check every document periph hands
to kwokctl. ``periph_env.testenv.kube`` runs them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from periph_env.testenv.state import CACHE_DIR

# Must match the defaults of scripts/build-kube.sh (it receives them explicitly too).
KUBE_VERSION = "v1.36.3"
KWOK_VERSION = "v0.8.0"

DEFAULT_CLUSTER_NAME = "periph-test"
# PERIPH_KUBE_CLUSTER names another, independent cluster (its own kwokctl dir, periph dir,
# kubeconfig and state; kwokctl picks free ports), e.g. to try a config change while the
# default cluster serves other test runs.
CLUSTER_NAME = os.environ.get("PERIPH_KUBE_CLUSTER") or DEFAULT_CLUSTER_NAME
CONTEXT_NAME = CLUSTER_NAME


@contextlib.contextmanager
def use_cluster(name: str) -> Iterator[None]:
    """Point this module (and so ``kube``'s ensure/stop/component_pid) at cluster ``name``.

    For a test that needs a cluster of its own in the same process (the chaos tier pauses
    and kills its control plane, never the shared one's). Not thread-safe: pytest runs
    serially.
    """
    global CLUSTER_NAME, CONTEXT_NAME
    saved = CLUSTER_NAME, CONTEXT_NAME
    CLUSTER_NAME = CONTEXT_NAME = name
    try:
        yield
    finally:
        CLUSTER_NAME, CONTEXT_NAME = saved


# Whether a new cluster's control plane makes room for the real node of the node tier (kwok
# restricted to its own nodes, the apiserver advertising the node IP): see
# node_config.control_plane_patches. A cluster created without them keeps serving the k8s
# tier (reusable_config); the node tier recreates it once.
REAL_NODE_CONTROL_PLANE = True
NODE_NAMES = ("periph-node-0", "periph-node-1")
# Each fake node offers a laptop-sized slice so resource requests in manifests schedule.
NODE_CAPACITY = {"cpu": "32", "memory": "64Gi", "pods": "110"}

# Labels a test puts on a pod template to steer kwok (see kwok/stages.yaml).
READY_LABEL = "periph.dev/test-ready"  # value "never": pods run but never become Ready
PHASE_LABEL = "periph.dev/test-phase"  # value "failed": pods crash-loop (or fail, for Jobs)

# What `kubectl logs` returns for every container in the cluster.
POD_LOG_LINES = (
    "periph-kwok: fake container started",
    "periph-kwok: listening on :8080",
    "periph-kwok: ready",
)

# Binaries scripts/build-kube.sh leaves in the cache, by kwokctl config field.
BINARY_FIELDS = {
    "etcdBinary": "etcd",
    "kubeApiserverBinary": "kube-apiserver",
    "kubeControllerManagerBinary": "kube-controller-manager",
    "kubeSchedulerBinary": "kube-scheduler",
    "kubectlBinary": "kubectl",
    "kwokControllerBinary": "kwok",
}
BINARIES = (*BINARY_FIELDS.values(), "kwokctl")


def kube_dir() -> Path:
    """Root of everything Kubernetes under the periph cache."""
    return CACHE_DIR / "kube"


def bin_dir() -> Path:
    """Where scripts/build-kube.sh puts the binaries, keyed by version."""
    return kube_dir() / f"{KUBE_VERSION}-kwok{KWOK_VERSION}" / "bin"


def kwok_workdir() -> Path:
    """kwokctl's KWOK_WORKDIR: kept in the cache so ~/.kwok is never touched."""
    return kube_dir() / "kwok"


def cluster_dir() -> Path:
    """kwokctl's directory for the test cluster (pids, logs, pki, etcd data)."""
    return kwok_workdir() / "clusters" / CLUSTER_NAME


def periph_dir() -> Path:
    """periph's own files for the cluster: config handed to kwokctl, kubeconfig, pod log."""
    return kube_dir() / CLUSTER_NAME


def missing_binaries(directory: Path) -> list[str]:
    """Names of the cached binaries that are absent or not executable."""
    return [b for b in BINARIES if not (directory / b).is_file()]


def stage_documents() -> list[dict[str, Any]]:
    """kwok Stage objects shipped in periph_env/testenv/kwok/stages.yaml."""
    text = resources.files("periph_env.testenv.kwok").joinpath("stages.yaml").read_text()
    return [doc for doc in yaml.safe_load_all(text) if doc]


def kwokctl_configuration(binaries: Path, real_node: bool = False) -> dict[str, Any]:
    """The KwokctlConfiguration: binary runtime, every binary from the cache, nothing extra.

    kwokctl downloads any binary left unset, so every component it may start gets a path.
    ``real_node`` adds the patches the node tier needs (``node_config.control_plane_patches``).
    """
    options: dict[str, Any] = {
        "runtime": "binary",
        # Tests talk only to loopback; kwokctl would otherwise listen on every interface.
        "bindAddress": "127.0.0.1",
        "kubeVersion": KUBE_VERSION,
        "cacheDir": str(kwok_workdir() / "cache"),
        "quietPull": True,
        "components": [
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "kwok-controller",
        ],
    }
    options.update({field: str(binaries / name) for field, name in BINARY_FIELDS.items()})
    configuration: dict[str, Any] = {
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        "kind": "KwokctlConfiguration",
        "options": options,
    }
    if real_node:
        from periph_env.testenv import node_config  # imports this module: import here

        options["kubeApiserverCertSANs"] = node_config.apiserver_cert_sans()
        configuration["componentsPatches"] = node_config.control_plane_patches()
    return configuration


def cluster_logs(log_file: Path) -> dict[str, Any]:
    """A ClusterLogs object serving ``log_file`` as every container's log."""
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "ClusterLogs",
        "metadata": {"name": "periph-pod-logs"},
        "spec": {"logs": [{"logsFile": str(log_file), "follow": True}]},
    }


def pod_log_text(lines: Sequence[str] = POD_LOG_LINES, when: datetime | None = None) -> str:
    """``lines`` in the CRI log format kwok reads (``<RFC3339Nano> stdout F <line>``)."""
    stamp = (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return "".join(f"{stamp} stdout F {line}\n" for line in lines)


def config_documents(
    binaries: Path, log_file: Path, real_node: bool = False
) -> list[dict[str, Any]]:
    """Everything passed to ``kwokctl create cluster --config``."""
    return [
        kwokctl_configuration(binaries, real_node),
        *stage_documents(),
        cluster_logs(log_file),
    ]


def reusable_config(
    recorded: str | None, fingerprint: str, without_node: str, require_real_node: bool
) -> bool:
    """Whether a cluster created with the ``recorded`` config fingerprint can be reused.

    One created before the real node's patches existed (``without_node``) still serves the
    k8s tier; only the node tier (``require_real_node``) needs it recreated.
    """
    if recorded == fingerprint:
        return True
    return recorded == without_node and not require_real_node


def valid_cluster_name(name: str) -> bool:
    """Whether ``name`` can name a cluster (a DNS label: kwokctl uses it in paths and names)."""
    return re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?", name) is not None


def dump_documents(documents: Sequence[Mapping[str, Any]]) -> str:
    """Multi-document YAML for kwokctl or kubectl."""
    return yaml.safe_dump_all(list(documents), sort_keys=False)


def fingerprint(documents: Sequence[Mapping[str, Any]]) -> str:
    """Stable digest of the config, so a changed stage file recreates the cluster."""
    raw = json.dumps(list(documents), sort_keys=True).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def node_documents(names: Sequence[str] = NODE_NAMES) -> list[dict[str, Any]]:
    """Fake Node objects; kwok-controller (``--manage-all-nodes``) plays their kubelets.

    No taints: workloads schedule onto them without kwok-specific tolerations.
    """
    return [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "type": "kwok",
                },
            },
            "status": {"allocatable": dict(NODE_CAPACITY), "capacity": dict(NODE_CAPACITY)},
        }
        for name in names
    ]


def kwokctl_env(base: Mapping[str, str]) -> dict[str, str]:
    """Environment for kwokctl: our workdir, and no stray ``KWOK_*`` settings.

    kwokctl lets ``KWOK_*`` variables override config fields (a user's KWOK_KUBE_VERSION or
    KWOK_RUNTIME would silently change the cluster), so all of them are dropped.
    """
    env = {k: v for k, v in base.items() if not k.startswith("KWOK_")}
    env["KWOK_WORKDIR"] = str(kwok_workdir())
    return env


def kwokctl_argv(kwokctl: Path, *args: str) -> list[str]:
    """argv for kwokctl acting on the test cluster."""
    return [str(kwokctl), "--name", CLUSTER_NAME, *args]


def create_args(config_file: Path) -> list[str]:
    """kwokctl arguments creating (or resuming) the cluster, touching no kubeconfig file.

    ``--kubeconfig ""`` stops kwokctl from adding a context to ~/.kube/config.
    """
    return [
        "create",
        "cluster",
        "--config",
        str(config_file),
        "--kubeconfig",
        "",
        "--timeout",
        "5m",
    ]


def delete_args(scratch_kubeconfig: Path) -> list[str]:
    """kwokctl arguments deleting the cluster.

    ``delete`` insists on a kubeconfig to remove its context from (an empty path is an
    error), so it gets a scratch file instead of ~/.kube/config.
    """
    return ["delete", "cluster", "--kubeconfig", str(scratch_kubeconfig)]


def log_lines(text: str) -> list[str]:
    """The message part of CRI log lines (inverse of ``pod_log_text``)."""
    return [line.split(" ", 3)[3] for line in text.splitlines() if line.count(" ") >= 3]


def periph_kubeconfig(kwok_kubeconfig: Mapping[str, Any]) -> dict[str, Any]:
    """kwokctl's kubeconfig with cluster, user and context renamed to ``CONTEXT_NAME``.

    periph hands this file out instead of editing ~/.kube/config, so a test run can never
    switch the user's current context.
    """
    cluster = dict(kwok_kubeconfig["clusters"][0]["cluster"])
    user = dict(kwok_kubeconfig["users"][0]["user"])
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT_NAME, "cluster": cluster}],
        "users": [{"name": CONTEXT_NAME, "user": user}],
        "contexts": [
            {"name": CONTEXT_NAME, "context": {"cluster": CONTEXT_NAME, "user": CONTEXT_NAME}}
        ],
        "current-context": CONTEXT_NAME,
        "preferences": {},
    }
