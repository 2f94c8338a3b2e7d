"""The real node's NetworkPolicy firewall: how kube-router is started and what it may read."""

from __future__ import annotations

from pathlib import Path

from periph_env.testenv import node_netpol


def _argv() -> list[str]:
    return node_netpol.argv(
        Path("/bin/kube-router"),
        Path("/k/netpol.kubeconfig"),
        "n0",
        "10.0.0.0/24",
        Path("/k/shims"),
    )


def test_kube_router_runs_its_firewall_and_neither_its_router_nor_its_service_proxy():
    argv = _argv()
    assert "--run-firewall=true" in argv
    assert "--run-router=false" in argv
    assert "--run-service-proxy=false" in argv


def test_kube_router_leaves_the_nodes_cni_config_alone():
    assert "--enable-cni=false" in _argv()


def test_kube_router_knows_the_node_and_the_service_range():
    argv = _argv()
    assert "--hostname-override=n0" in argv
    assert "--service-cluster-ip-range=10.0.0.0/24" in argv
    assert "--kubeconfig=/k/netpol.kubeconfig" in argv


def test_the_firewall_may_only_read_the_cluster():
    role = next(d for d in node_netpol.rbac_documents() if d["kind"] == "ClusterRole")
    verbs = {verb for rule in role["rules"] for verb in rule["verbs"]}
    assert verbs == {"get", "list", "watch"}
    resources = {r for rule in role["rules"] for r in rule["resources"]}
    assert {"pods", "namespaces", "networkpolicies", "nodes"} <= resources


def test_the_binary_is_cached_outside_the_repository_keyed_by_version():
    path = node_netpol.binary()
    assert node_netpol.KUBE_ROUTER_VERSION in str(path)
    assert not path.resolve().is_relative_to(Path(__file__).resolve().parents[3])
