"""NetworkPolicy enforcement on the real node: kube-router's firewall, and nothing else of it.

The node's CNI (bridge + host-local) ignores NetworkPolicies, so without an enforcer a
policy test proves nothing. kube-router's network-policy controller turns the policies into
iptables + ipset rules on the node; it runs with ``--run-firewall`` only (no BGP routing, no
service proxy: kube-proxy stays the node's proxy). Why kube-router, and why v2.1.0: the Go
module proxy reachable here serves no later version (docs/testing.md, "NetworkPolicy
enforcement", has the evidence), and the other enforcer it serves,
sigs.k8s.io/kube-network-policies, needs the nft ``queue`` expression this kernel lacks.

The binary is built once per machine by ``build-netpol.sh`` into the cache (like the node's
kubelet). ``start_build`` lets ``testenv up`` start that build in the background before the
Kubernetes builds, so a cold run pays for it alongside them; ``ensure_binary`` waits for it
(or builds) and fails loudly with the build's last lines.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path
from typing import Any

from periph_env.errors import EngineError
from periph_env.testenv import kube_config as kcfg
from periph_env.testenv import netpol_restore
from periph_env.testenv.state import Log

KUBE_ROUTER_VERSION = "v2.1.0"
BUILD_SCRIPT = Path(__file__).resolve().parent / "build-netpol.sh"
# The firewall-only command build-netpol.sh compiles; its hash keys the cache, so an edit
# rebuilds instead of running a stale binary.
FIREWALL_MAIN = Path(__file__).resolve().parent / "netpol_firewall" / "main.go"
# The client certificate's subject: RBAC below grants this user read access only.
SUBJECT = "/O=periph:netpol/CN=periph:netpol"
USER = "periph:netpol"
# kube-router's /healthz answers 200 once every controller it runs has synced and beats.
HEALTH_PORT = 20244
BUILD_TIMEOUT = 1800.0

_background: subprocess.Popen[bytes] | None = None


def bin_dir() -> Path:
    """Where build-netpol.sh puts the firewall, keyed by kube-router's version and the
    wrapper's source (outside the repository)."""
    key = hashlib.sha256(FIREWALL_MAIN.read_bytes()).hexdigest()[:8]
    return kcfg.kube_dir() / f"netpol-firewall-{KUBE_ROUTER_VERSION}-{key}" / "bin"


def binary() -> Path:
    """The kube-router binary's path (it may not be built yet)."""
    return bin_dir() / "kube-router"


def _build_log() -> Path:
    return kcfg.CACHE_DIR / "testenv" / "build-netpol.log"


def _build_env() -> dict[str, str]:
    return {**os.environ, "KUBE_ROUTER_VERSION": KUBE_ROUTER_VERSION}


def start_build(log: Log) -> None:
    """Start build-netpol.sh in the background unless the binary is cached or a build runs."""
    global _background
    if binary().is_file() or _background is not None:
        return
    path = _build_log()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        _background = subprocess.Popen(
            ["bash", str(BUILD_SCRIPT)], stdout=out, stderr=subprocess.STDOUT, env=_build_env()
        )
    log(f"node: building kube-router {KUBE_ROUTER_VERSION} in the background (log {path})")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"no build log at {path}"
    return f"last lines of {path}:\n" + "\n".join(text[-lines:])


def ensure_binary(log: Log) -> Path:
    """kube-router, built (or waited for) now; a failed build raises with its log's tail."""
    global _background
    if binary().is_file():
        return binary()
    if _background is None:
        start_build(log)
    assert _background is not None
    with log.step(f"node: built kube-router {KUBE_ROUTER_VERSION} (NetworkPolicy firewall)"):
        try:
            code = _background.wait(timeout=BUILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            _background.kill()
            code = -1
        finally:
            _background = None
    if code != 0 or not binary().is_file():
        raise EngineError(
            f"build-netpol.sh failed (exit {code}): the real node cannot enforce "
            "NetworkPolicies without kube-router",
            hint=_tail(_build_log()),
        )
    return binary()


def restore_shims(node_dir: Path) -> Path:
    """The directory whose ``iptables-restore`` confines kube-router's restores to its own
    chains (``netpol_restore`` says why), written now; it logs under ``node_dir/logs``."""
    return netpol_restore.write_shims(
        node_dir / "netpol-shims", node_dir / "logs" / "netpol-restore.log"
    )


def _on_path(shims: Path) -> list[str]:
    return ["env", f"PATH={shims}{os.pathsep}{os.environ.get('PATH', os.defpath)}"]


def argv(
    kube_router: Path, kubeconfig: Path, node_name: str, service_cidr: str, shims: Path
) -> list[str]:
    """kube-router with only its firewall: policies enforced, routes and Services untouched,
    its ``iptables-restore`` the ``shims`` one."""
    return [
        *_on_path(shims),
        str(kube_router),
        f"--kubeconfig={kubeconfig}",
        f"--hostname-override={node_name}",
        "--run-firewall=true",
        "--run-router=false",
        "--run-service-proxy=false",
        # It would otherwise write a CNI config of its own over the node's bridge one.
        "--enable-cni=false",
        "--enable-ipv6=false",
        f"--service-cluster-ip-range={service_cidr}",
        f"--health-port={HEALTH_PORT}",
        "--metrics-port=0",
        "--v=1",
    ]


def cleanup_argv(kube_router: Path, shims: Path) -> list[str]:
    """kube-router's own undo of its iptables chains and ipsets (run after it stops)."""
    return [*_on_path(shims), str(kube_router), "--cleanup-config"]


def health_url() -> str:
    """kube-router's health endpoint on the node."""
    return f"http://127.0.0.1:{HEALTH_PORT}/healthz"


def rbac_documents() -> list[dict[str, Any]]:
    """Read access for the firewall: what its informers list and watch, nothing more."""
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "periph:netpol"},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["namespaces", "pods", "services", "endpoints", "nodes"],
                    "verbs": ["get", "list", "watch"],
                },
                {
                    "apiGroups": ["networking.k8s.io"],
                    "resources": ["networkpolicies"],
                    "verbs": ["get", "list", "watch"],
                },
                {
                    "apiGroups": ["discovery.k8s.io"],
                    "resources": ["endpointslices"],
                    "verbs": ["get", "list", "watch"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "periph:netpol"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "periph:netpol",
            },
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": USER}],
        },
    ]
