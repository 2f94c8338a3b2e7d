"""A real node for the test cluster: containerd, kubelet, kube-proxy and CoreDNS run real pods.

The kwok cluster of the k8s tier stays as it is for simulated workloads; this tier joins one
real node, ``periph-real-0``, tainted so that only pods tolerating ``periph.dev/real-node``
(see ``node_config.real_pod_spec``) land on it. Binaries are built once per machine by
``build-node.sh`` (kubelet and kube-proxy from the same wrapper module as the control
plane, a small CoreDNS, the pause binary); images come from the test registry.

Processes (each recorded in the state dir, so ``down`` stops only what periph started):
containerd (periph's own instance, never dockerd's), CoreDNS on the node IP, a relay from the
apiserver's advertised address to its loopback port, the kubelet, kube-proxy (iptables) and
kube-router's firewall, which enforces NetworkPolicies (``node_netpol``).
``ensure`` is idempotent: a Ready node with the same config is reused; a changed config or a
recreated cluster (new CA) restarts the processes. ``stop`` undoes every host change
(``node_host``).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from periph_env.common.process import run_streamed
from periph_env.errors import EngineError
from periph_env.testenv import kube, node_certs, node_host, node_netpol, node_volumes
from periph_env.testenv import kube_config as kcfg
from periph_env.testenv import node_config as ncfg
from periph_env.testenv.debian_host import ensure_packages
from periph_env.testenv.node_pause import image_archive
from periph_env.testenv.state import (
    Log,
    clear_started,
    mark_started,
    run,
    spawn,
    started_pid,
    terminate,
)

BUILD_SCRIPT = Path(__file__).resolve().parent / "build-node.sh"
# Start order; stop goes the other way.
PROCESSES = ("containerd", "coredns", "relay", "kubelet", "kube-proxy", "netpol")
PACKAGES = {
    "containerd": "containerd",
    "ctr": "containerd",
    "runc": "runc",
    "iptables": "iptables",
    "ipset": "ipset",  # kube-router's firewall keeps its address sets there
    "conntrack": "conntrack",
    "/usr/lib/cni/bridge": "containernetworking-plugins",
}
READY_TIMEOUT = 180.0


@dataclass(frozen=True)
class NodeInfo:
    """The real node: its name, address, and how to steer pods and claims onto it."""

    name: str
    ip: str
    cluster: kube.ClusterInfo
    storage_class: str
    selector: dict[str, str]
    toleration: dict[str, str]


def _component(process: str) -> str:
    return f"node-{process}"


def _dir() -> Path:
    return ncfg.node_dir()


def _ctr(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    argv = ["ctr", "--address", str(ncfg.containerd_socket()), "--namespace", "k8s.io", *args]
    return run(argv, check=check, timeout=timeout)


def ensure_binaries(log: Log) -> Path:
    """Build kubelet, kube-proxy, coredns and pause with build-node.sh unless cached."""
    directory = ncfg.bin_dir()
    if not ncfg.missing_binaries(directory):
        return directory
    env = {
        **os.environ,
        "KUBE_VERSION": kcfg.KUBE_VERSION,
        "COREDNS_VERSION": ncfg.COREDNS_VERSION,
    }
    with log.step("node: built kubelet, kube-proxy, coredns, pause"):
        run_streamed(["bash", str(BUILD_SCRIPT)], lambda line: log(f"node: {line}"), env=env)
    missing = ncfg.missing_binaries(directory)
    if missing:
        raise EngineError(f"build-node.sh finished but {', '.join(missing)} missing in {directory}")
    return directory


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """One real node per machine: serialise ensure/stop across processes and clusters."""
    ncfg.RUN_DIR.mkdir(parents=True, exist_ok=True)
    with open(ncfg.RUN_DIR / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _owner_file() -> Path:
    return ncfg.RUN_DIR / "owner"


def _owner() -> str | None:
    try:
        return _owner_file().read_text().strip() or None
    except OSError:
        return None


def _alive() -> dict[str, int | None]:
    return {p: started_pid(_component(p)) for p in PROCESSES}


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    """Write ``text`` unless the file already holds it: kube-proxy exits when its config file
    is written to, even with the same content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    path.chmod(mode)


def _write_configs(cluster: kube.ClusterInfo, binaries: Path) -> str:
    """Write every config file (certs only when the CA changed); return the fingerprint."""
    directory = _dir()
    ca_crt, ca_key = node_certs.ca_paths()
    ca_digest = hashlib.sha256(ca_crt.read_bytes()).hexdigest()[:16]
    stamp = directory / "pki" / "ca.digest"
    users = {
        "kubelet": ncfg.kubelet_subject(),
        "kube-proxy": ncfg.PROXY_SUBJECT,
        "coredns": ncfg.COREDNS_SUBJECT,
        "netpol": node_netpol.SUBJECT,
    }
    stale = not stamp.is_file() or stamp.read_text().strip() != ca_digest
    for user, subject in users.items():
        if stale or not (directory / "pki" / f"{user}.crt").is_file():
            node_certs.issue_cert(user, subject, (ca_crt, ca_key))
    _write(stamp, ca_digest + "\n")
    for user in users:
        doc = ncfg.kubeconfig(
            cluster.server,
            ca_crt,
            directory / "pki" / f"{user}.crt",
            directory / "pki" / f"{user}.key",
            user,
        )
        _write(directory / f"{user}.kubeconfig", yaml.safe_dump(doc, sort_keys=False), 0o600)
    upstream = ncfg.upstream_nameservers(Path("/etc/resolv.conf").read_text())
    documents = {
        "containerd.toml": ncfg.containerd_config(
            directory / "containerd-root", directory / "cni" / "net.d", kube_registry_address()
        ),
        "cni/net.d/10-periph.conflist": json.dumps(
            ncfg.cni_conflist(directory / "cni" / "ipam"), indent=1
        ),
        "kubelet.yaml": yaml.safe_dump(ncfg.kubelet_configuration(directory, ca_crt)),
        "kube-proxy.yaml": yaml.safe_dump(
            ncfg.kube_proxy_configuration(directory / "kube-proxy.kubeconfig")
        ),
        "Corefile": ncfg.corefile(directory / "coredns.kubeconfig", upstream),
        "resolv.conf": ncfg.pod_resolv_conf(upstream),
    }
    for name, text in documents.items():
        _write(directory / name, text)
    for sub in ("pod-logs", "manifests", "logs", "kubelet", "cni/ipam"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    return ncfg.fingerprint([documents, ca_digest, cluster.server, str(binaries)])


def kube_registry_address() -> str:
    """The test registry's address (same rule as the registry tier, without starting it)."""
    from periph_env.testenv import registry

    return registry.address()


def _logfile(process: str) -> Path:
    return _dir() / "logs" / f"{process}.log"


def _argv(process: str, binaries: Path, cluster: kube.ClusterInfo) -> list[str]:
    directory = _dir()
    if process == "containerd":
        return ["containerd", "--config", str(directory / "containerd.toml")]
    if process == "coredns":
        return ncfg.coredns_argv(binaries / "coredns", directory)
    if process == "relay":
        port = cluster.server.rsplit(":", 1)[1]
        return [sys.executable, "-m", "periph_env.testenv.node_relay", ncfg.NODE_IP, port,
                "127.0.0.1", port]  # fmt: skip
    if process == "kubelet":
        return ncfg.kubelet_argv(binaries / "kubelet", directory)
    if process == "netpol":
        return node_netpol.argv(
            node_netpol.binary(),
            directory / "netpol.kubeconfig",
            ncfg.NODE_NAME,
            ncfg.SERVICE_CIDR,
            node_netpol.restore_shims(directory),
        )
    return ncfg.kube_proxy_argv(binaries / "kube-proxy", directory)


def _wait(what: str, check, timeout: float, process: str, proc=None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        # ``proc``: the child just started (an exited child of ours is a zombie until
        # reaped, and its pid would still look alive).
        if (proc is not None and proc.poll() is not None) or started_pid(
            _component(process)
        ) is None:
            raise EngineError(f"{process} exited while {what}", hint=_log_tail(process))
        if time.monotonic() > deadline:
            raise EngineError(f"timed out after {timeout:.0f}s {what}", hint=_log_tail(process))
        time.sleep(0.3)


def _log_tail(process: str, lines: int = 15) -> str:
    try:
        text = _logfile(process).read_text(errors="replace").splitlines()
    except OSError:
        return f"no log at {_logfile(process)}"
    return f"last lines of {_logfile(process)}:\n" + "\n".join(text[-lines:])


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


# containerd 1.6 serves its socket before the CRI plugin has recovered its state; until
# then every CRI call answers "server is not initialized yet" and a kubelet started in
# that window exits at once (it happened on a warm restart). This line ends the CRI init.
CRI_READY_LINE = b"Start streaming server"


def _containerd_ready(log_offset: int) -> bool:
    """containerd answers on its socket and its CRI plugin has finished starting (the
    ``CRI_READY_LINE`` logged after ``log_offset``, where this start's log begins)."""
    with _logfile("containerd").open("rb") as log:
        log.seek(log_offset)
        if CRI_READY_LINE not in log.read():
            return False
    return _ctr("version", check=False, timeout=10).returncode == 0


def _import_pause(binaries: Path) -> None:
    listed = _ctr("images", "ls", "-q", check=False).stdout.split()
    if ncfg.PAUSE_IMAGE in listed:
        return
    archive = _dir() / "pause-image.tar"
    archive.write_bytes(image_archive((binaries / "pause").read_bytes(), ncfg.PAUSE_IMAGE))
    _ctr("images", "import", str(archive))


def _node_ready(cluster: kube.ClusterInfo) -> bool:
    proc = cluster.kubectl("get", "node", ncfg.NODE_NAME, "-o", "json", check=False, timeout=20)
    if proc.returncode != 0:
        return False
    conditions = json.loads(proc.stdout).get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _start(process: str, binaries: Path, cluster: kube.ClusterInfo, log: Log) -> None:
    argv = _argv(process, binaries, cluster)
    logfile = _logfile(process)
    offset = logfile.stat().st_size if logfile.exists() else 0
    proc = spawn(argv, logfile)
    mark_started(_component(process), proc.pid)
    if process == "containerd":
        ready = functools.partial(_containerd_ready, offset)
        _wait("waiting for containerd's CRI service", ready, 60, process, proc)
        _import_pause(binaries)
    elif process == "coredns":
        url = f"http://127.0.0.1:{ncfg.COREDNS_HEALTH_PORT}/health"
        _wait("waiting for CoreDNS", lambda: _http_ok(url), 60, process, proc)
    elif process == "netpol":
        # Healthy once its informers synced and the first policy sync ran: from then on a
        # NetworkPolicy is enforced, and a test may rely on it.
        url = node_netpol.health_url()
        _wait("waiting for kube-router's firewall", lambda: _http_ok(url), 120, process, proc)
    log(f"node: started {process} (pid {proc.pid})")


def _stop_processes(log: Log) -> None:
    for process in reversed(PROCESSES):
        pid = started_pid(_component(process))
        if pid is not None:
            terminate(pid, 20)
            log(f"node: stopped {process} (pid {pid})")
        clear_started(_component(process))


def recycle_local_volumes(cluster: kube.ClusterInfo) -> None:
    """Empty and recreate the local PVs whose claim is gone, and create any missing one.

    ``ensure`` does it once per session; test modules call it too, since one session's
    node group deploys many stacks and each deleted namespace releases its volumes.
    """
    _apply_cluster_objects(cluster)


def _apply_cluster_objects(cluster: kube.ClusterInfo) -> None:
    """CoreDNS's read access, the local StorageClass and its PVs (directories made first)."""
    volumes = _dir() / "volumes"
    node_volumes.prepare(cluster, volumes)
    documents = [
        *ncfg.coredns_rbac_documents(),
        *node_netpol.rbac_documents(),
        *ncfg.storage_documents(volumes),
    ]
    cluster.kubectl(
        "apply", "--server-side", "--field-manager=periph", "-f", "-",
        input=kcfg.dump_documents(documents),
    )  # fmt: skip


def _info(cluster: kube.ClusterInfo) -> NodeInfo:
    return NodeInfo(
        name=ncfg.NODE_NAME,
        ip=ncfg.NODE_IP,
        cluster=cluster,
        storage_class=ncfg.STORAGE_CLASS,
        selector=dict(ncfg.REAL_NODE_SELECTOR),
        toleration=dict(ncfg.REAL_NODE_TOLERATION),
    )


def _fingerprint_file() -> Path:
    return _dir() / "fingerprint"


def ensure(log: Log) -> NodeInfo:
    """Bring the real node up (or reuse it) and return how to place pods on it."""
    if not kcfg.REAL_NODE_CONTROL_PLANE:
        raise EngineError(
            f"cluster {kcfg.CLUSTER_NAME} is not set up for a real node",
            hint="kube_config.REAL_NODE_CONTROL_PLANE is off for it",
        )
    ensure_packages(PACKAGES, log, why="the real test node")
    # Its Go build overlaps the node's (and, cold, the control plane's) builds below.
    node_netpol.start_build(log)
    binaries = ensure_binaries(log)
    cluster = kube.ensure(log, require_real_node=True)
    with _locked():
        owner = _owner()
        if owner not in (None, kcfg.CLUSTER_NAME) and any(_alive().values()):
            raise EngineError(
                f"the real node already runs for cluster {owner} (one per machine)",
                hint=f"PERIPH_KUBE_CLUSTER={owner} periph testenv down --tier node",
            )
        fingerprint = _write_configs(cluster, binaries)
        alive = _alive()
        same = _fingerprint_file().is_file() and _fingerprint_file().read_text() == fingerprint
        if all(alive.values()) and same and _node_ready(cluster):
            log(f"node: reusing {ncfg.NODE_NAME} at {ncfg.NODE_IP}")
            _apply_cluster_objects(cluster)
            return _info(cluster)
        if any(alive.values()) and not same:
            log("node: config changed; restarting its processes")
            _stop_processes(log)
        node_netpol.ensure_binary(log)
        _owner_file().write_text(kcfg.CLUSTER_NAME + "\n")
        node_host.record_host_state()
        node_host.ensure_network()
        with log.step(f"node: {ncfg.NODE_NAME} Ready"):
            _apply_cluster_objects(cluster)
            # kube-router's firewall finds its Node object at start and exits without it:
            # it starts once the kubelet has registered the node and it is Ready.
            for process in PROCESSES:
                if process != "netpol" and started_pid(_component(process)) is None:
                    _start(process, binaries, cluster, log)
            _fingerprint_file().write_text(fingerprint)
            _wait("waiting for the node to be Ready", lambda: _node_ready(cluster),
                  READY_TIMEOUT, "kubelet")  # fmt: skip
            if started_pid(_component("netpol")) is None:
                _start("netpol", binaries, cluster, log)
        return _info(cluster)


def status() -> str:
    """One line: whether the real node runs, and which of its processes are down."""
    if ncfg.missing_binaries(ncfg.bin_dir()):
        return f"not running (binaries not built in {ncfg.bin_dir()})"
    alive = _alive()
    owner = _owner()
    if not any(alive.values()):
        return "not running"
    dead = [p for p, pid in alive.items() if pid is None]
    where = f"{ncfg.NODE_NAME} at {ncfg.NODE_IP} for cluster {owner}"
    if dead:
        return f"degraded {where} ({', '.join(dead)} down); `up` restarts them"
    return (
        f"running {where} (containerd, kubelet, kube-proxy, coredns, kube-router firewall; "
        "started by periph)"
    )


def stop(log: Log) -> None:
    """Stop the node's processes and undo every change it made to the host."""
    with _locked():
        owner = _owner()
        if owner not in (None, kcfg.CLUSTER_NAME):
            log(f"node: the real node belongs to cluster {owner}; leaving it running")
            return
        had_node = owner is not None or any(_alive().values())
        if not had_node:
            log("node: nothing to stop (not started by periph)")
            return
        with log.step(f"node: stopped {ncfg.NODE_NAME} and cleaned the host"):
            kube_proxy = started_pid(_component("kube-proxy"))
            if kube_proxy is not None:
                terminate(kube_proxy, 20)
            binary = ncfg.bin_dir() / "kube-proxy"
            if binary.is_file():
                run(ncfg.kube_proxy_cleanup_argv(binary), check=False, timeout=60)
            netpol = started_pid(_component("netpol"))
            if netpol is not None:
                terminate(netpol, 20)
            if node_netpol.binary().is_file():
                shims = node_netpol.restore_shims(_dir())
                run(node_netpol.cleanup_argv(node_netpol.binary(), shims), check=False, timeout=60)
            _stop_processes(log)
            node_host.kill_pod_processes()
            node_host.kill_processes_using(str(ncfg.containerd_socket()), log)
            node_host.unmount_under([ncfg.RUN_DIR, _dir()], log)
            node_host.remove_cni_netns(log)
            node_host.remove_runtime_dir()
            node_host.remove_interfaces()
            node_host.remove_iptables_chains(log)
            node_host.remove_ipsets(log)
            node_host.remove_cgroups(log)
            # No pod ran its CNI DEL: forget every address host-local handed out.
            shutil.rmtree(_dir() / "cni" / "ipam", ignore_errors=True)
            node_host.restore_host(log)
            _forget_in_cluster(log)
            _fingerprint_file().unlink(missing_ok=True)
            _owner_file().unlink(missing_ok=True)


def _forget_in_cluster(log: Log) -> None:
    """Remove the Node and its local PVs from the API, if the cluster still answers."""
    if not kube.kubeconfig_file().is_file():
        return
    try:
        cluster = kube.cluster_info()
    except (OSError, KeyError, ValueError):
        return
    for what in (["node", ncfg.NODE_NAME], ["pv", "-l", "periph.dev/local-pv=true"]):
        proc = cluster.kubectl("delete", *what, "--ignore-not-found", "--wait=false",
                               "--request-timeout=10s", check=False, timeout=30)  # fmt: skip
        if proc.returncode != 0:
            log(f"node: could not delete {' '.join(what)}: {proc.stderr.strip()[:200]}")
