"""k8s/base's NetworkPolicies, enforced by the real node's firewall, on real pods.

The real node runs kube-router's network-policy firewall (``testenv/node_netpol.py``). One
module namespace holds stand-in pods labelled as the app's (busybox httpd on each
service's port) and k8s/base/network-policies.yaml as committed; a second namespace and
``ingress-nginx`` hold the outside callers. Each test is one row of docs/k8s.md's table,
read as a user of the network sees it: a TCP connect that succeeds, or one that never
does. Before the policies are applied, every connection succeeds (the refusals below are
the policies', not a broken network).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from periph_env.common.poll import wait_for
from periph_env.testenv import node, node_netpol
from periph_env.testenv import node_config as ncfg
from tests.fixtures.node import PULL_SECRET

pytestmark = pytest.mark.node

POLICIES = Path(__file__).resolve().parents[2] / "k8s" / "base" / "network-policies.yaml"
INGRESS_NAMESPACE = "ingress-nginx"  # what the policies name (namespaceSelector)
NAME = "app.kubernetes.io/name"
# Stand-ins: pod -> (labels, ports it serves).
SERVERS: dict[str, tuple[dict[str, str], tuple[int, ...]]] = {
    "db": ({NAME: "db"}, (5432,)),
    "cache": ({NAME: "cache"}, (6379,)),
    "backend": ({NAME: "backend"}, (5058, 9091)),
    "frontend": ({NAME: "frontend"}, (3000,)),
    "worker": ({NAME: "worker"}, (9102,)),
    "solver": ({"acme.cert-manager.io/http01-solver": "true"}, (8089,)),
    "stranger": ({NAME: "stranger"}, ()),
}
SETTLE = 90  # seconds for the firewall to program a new pod or policy (it syncs on events)


def _serve(ports: tuple[int, ...]) -> str:
    lines = ["mkdir -p /www && echo ok > /www/index.html"]
    lines += [f"httpd -p {port} -h /www" for port in ports]  # busybox httpd daemonises
    return " && ".join(lines) + " && exec sleep 3600"


def _pod(name: str, labels: dict[str, str], ports: tuple[int, ...], image: str, place) -> dict:
    probe = {"tcpSocket": {"port": ports[0]}, "periodSeconds": 1} if ports else None
    main: dict[str, Any] = {"name": "main", "image": image, "command": ["sh", "-c", _serve(ports)]}
    if probe:
        main["readinessProbe"] = probe
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {**place({"containers": [main]}), "terminationGracePeriodSeconds": 0},
    }


def _kubectl(real_node: node.NodeInfo, *args: str, **kw: Any):
    return real_node.cluster.kubectl(*args, **kw)


def _start(real_node, namespace: str, pods: list[dict]) -> None:
    _kubectl(real_node, "apply", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(pods))
    names = [f"pod/{p['metadata']['name']}" for p in pods]
    _kubectl(real_node, "wait", "-n", namespace, "--for=condition=Ready", *names,
             "--timeout=180s", timeout=200)  # fmt: skip


def _ip(real_node, namespace: str, pod: str) -> str:
    out = _kubectl(real_node, "get", "-n", namespace, f"pod/{pod}", "-o", "json").stdout
    return json.loads(out)["status"]["podIP"]


def connects(real_node, namespace: str, pod: str, ip: str, port: int) -> bool:
    """One TCP connect from ``pod`` to ``ip:port``: True when it opens within 3 s."""
    proc = _kubectl(
        real_node, "exec", "-n", namespace, pod, "--", "bash", "-c",
        f"timeout 3 bash -c 'exec 3<>/dev/tcp/{ip}/{port}' && echo open || echo closed",
        check=False, timeout=60,
    )  # fmt: skip
    return proc.stdout.strip() == "open"


def assert_reaches(real_node, src: tuple[str, str], dst: tuple[str, str], port: int) -> None:
    ip = _ip(real_node, *dst)
    wait_for(lambda: connects(real_node, *src, ip, port), f"{src} -> {dst}:{port} open", SETTLE)


def assert_refused(real_node, src: tuple[str, str], dst: tuple[str, str], port: int) -> None:
    """Refused once the firewall has the pods, and still refused on a second try."""
    ip = _ip(real_node, *dst)
    wait_for(
        lambda: not connects(real_node, *src, ip, port), f"{src} -> {dst}:{port} refused", SETTLE
    )
    assert not connects(real_node, *src, ip, port), f"{src} -> {dst}:{port} opened again"


@pytest.fixture(scope="module")
def ingress_namespace(real_node, registry) -> Iterator[str]:
    """``ingress-nginx`` (the name the policies select), made here unless it exists."""
    existed = _kubectl(real_node, "get", "namespace", INGRESS_NAMESPACE, check=False)
    if existed.returncode != 0:
        _kubectl(real_node, "create", "namespace", INGRESS_NAMESPACE)
    _kubectl(real_node, "wait", "--for=create", "serviceaccount/default", "-n",
             INGRESS_NAMESPACE, "--timeout=60s")  # fmt: skip
    secret = ncfg.pull_secret_document(
        PULL_SECRET, INGRESS_NAMESPACE, registry.address, registry.username, registry.password
    )
    _kubectl(real_node, "apply", "-f", "-", input=yaml.safe_dump(secret))
    try:
        yield INGRESS_NAMESPACE
    finally:
        if existed.returncode != 0:
            _kubectl(real_node, "delete", "namespace", INGRESS_NAMESPACE, "--wait=false",
                     check=False)  # fmt: skip
        else:
            _kubectl(real_node, "delete", "pod", "-n", INGRESS_NAMESPACE, "periphtest-ingress",
                     "--wait=false", check=False)  # fmt: skip


@pytest.fixture(scope="module")
def app(real_node, module_node_namespace, node_image, real_pod, ingress_namespace, registry):
    """The stand-in pods, callers outside, and whether the stranger reached db before."""
    ns = module_node_namespace
    # A second namespace for a caller from elsewhere.
    other = f"{ns}-other"
    _kubectl(real_node, "create", "namespace", other)
    _kubectl(real_node, "wait", "--for=create", "serviceaccount/default", "-n", other,
             "--timeout=60s")  # fmt: skip
    secret = ncfg.pull_secret_document(
        PULL_SECRET, other, registry.address, registry.username, registry.password
    )
    _kubectl(real_node, "apply", "-f", "-", input=yaml.safe_dump(secret))
    try:
        pods = [
            _pod(n, labels, ports, node_image, real_pod) for n, (labels, ports) in SERVERS.items()
        ]
        _start(real_node, ns, pods)
        # Labelled like the backend, but in another namespace: pod selectors are per namespace.
        _start(real_node, other, [_pod("outsider", {NAME: "backend"}, (), node_image, real_pod)])
        caller = _pod("periphtest-ingress", {NAME: "periphtest-ingress"}, (), node_image, real_pod)
        _start(real_node, ingress_namespace, [caller])
        open_before = connects(real_node, ns, "stranger", _ip(real_node, ns, "db"), 5432)
        _kubectl(real_node, "apply", "-n", ns, "-f", str(POLICIES))
        yield {"ns": ns, "other": other, "ingress": ingress_namespace, "open_before": open_before}
    finally:
        _kubectl(real_node, "delete", "namespace", other, "--wait=false", check=False)


def test_the_real_node_runs_kube_routers_firewall(real_node):
    assert "kube-router firewall" in node.status()
    assert node_netpol.binary().is_file()


def test_without_the_policies_any_pod_reached_db(app):
    assert app["open_before"] is True


def test_the_frontend_reaches_the_backend_api(real_node, app):
    ns = app["ns"]
    assert_reaches(real_node, (ns, "frontend"), (ns, "backend"), 5058)


@pytest.mark.parametrize("client", ["backend", "worker"])
def test_backend_and_worker_reach_db_and_cache(real_node, app, client):
    ns = app["ns"]
    assert_reaches(real_node, (ns, client), (ns, "db"), 5432)
    assert_reaches(real_node, (ns, client), (ns, "cache"), 6379)


@pytest.mark.parametrize("client", ["stranger", "frontend"])
def test_any_other_pod_of_the_namespace_is_refused_by_db_and_cache(real_node, app, client):
    ns = app["ns"]
    assert_refused(real_node, (ns, client), (ns, "db"), 5432)
    assert_refused(real_node, (ns, client), (ns, "cache"), 6379)


def test_a_pod_of_another_namespace_labelled_as_the_backend_is_refused(real_node, app):
    ns, other = app["ns"], app["other"]
    assert_refused(real_node, (other, "outsider"), (ns, "db"), 5432)
    assert_refused(real_node, (other, "outsider"), (ns, "cache"), 6379)
    assert_refused(real_node, (other, "outsider"), (ns, "backend"), 5058)


def test_the_ingress_namespace_reaches_frontend_backend_api_and_a_cert_manager_solver(
    real_node, app
):
    ns, ingress = app["ns"], app["ingress"]
    caller = (ingress, "periphtest-ingress")
    assert_reaches(real_node, caller, (ns, "frontend"), 3000)
    assert_reaches(real_node, caller, (ns, "backend"), 5058)
    assert_reaches(real_node, caller, (ns, "solver"), 8089)


def test_the_ingress_namespace_is_refused_by_db_and_the_metrics_port(real_node, app):
    ns, ingress = app["ns"], app["ingress"]
    caller = (ingress, "periphtest-ingress")
    assert_refused(real_node, caller, (ns, "db"), 5432)
    assert_refused(real_node, caller, (ns, "backend"), 9091)


@pytest.mark.parametrize(
    ("pod", "port"), [("backend", 5058), ("backend", 9091), ("frontend", 3000)]
)
def test_the_api_servers_pod_proxy_reaches_what_periph_verify_checks(real_node, app, pod, port):
    path = f"/api/v1/namespaces/{app['ns']}/pods/{pod}:{port}/proxy/"

    def through_proxy() -> str | None:
        proc = _kubectl(real_node, "get", "--raw", path, check=False, timeout=30)
        return proc.stdout if proc.returncode == 0 else None

    assert wait_for(through_proxy, f"GET {path}", SETTLE).strip() == "ok"


def test_the_firewalls_restores_touch_only_its_own_chains(real_node, app):
    # kube-router's own restore rewrites the whole filter table from a copy; the shim on its
    # PATH (testenv/netpol_restore.py) narrows every restore to kube-router's chains.
    log = ncfg.node_dir() / "logs" / "netpol-restore.log"
    lines = log.read_text().splitlines()
    assert lines, f"kube-router never restored through the shim ({log})"
    assert all(": exit 0," in line for line in lines[-20:]), "\n".join(lines[-20:])
