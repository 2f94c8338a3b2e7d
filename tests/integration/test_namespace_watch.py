"""The Deploy area's namespace streams against the kwok cluster's real API server: an API
server that goes away (a proxy cuts every connection and refuses new ones, as a restart
does: restarting the shared one would break other tests) is said, and once it is back the
streams resume from their resourceVersion and catch up with what changed meanwhile."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from periph_env.deploy.kube import Kube
from periph_env.deploy.namespace_watch import NamespaceWatch
from tests.integration.test_deploy_harness import FlakyProxy

pytestmark = pytest.mark.k8s


def eventually(condition: Callable[[], object], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


def pod_manifest(name: str) -> str:
    """A pod manifest (kwok runs it without a node's work)."""
    return (
        "apiVersion: v1\nkind: Pod\nmetadata:\n"
        f"  name: {name}\n  labels: {{app: backend}}\n"
        "spec:\n  containers:\n  - name: app\n    image: registry.invalid/app:1\n"
    )


def pods(streams: NamespaceWatch) -> list[str]:
    return sorted(p["metadata"]["name"] for p in streams.snapshot()["Pod"])


def test_an_outage_is_said_and_the_streams_catch_up_when_the_api_server_is_back(
    kube_cluster: Any, k8s_namespace: str, tmp_path, monkeypatch
) -> None:
    proxy = FlakyProxy(kube_cluster.server)
    kubeconfig = proxy.kubeconfig(kube_cluster.kubeconfig, tmp_path / "kubeconfig")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    kubectl = kube_cluster.kubectl  # straight to the real API server
    kubectl("apply", "-n", k8s_namespace, "-f", "-", input=pod_manifest("before"))
    changed = threading.Event()
    kube = Kube(kube_cluster.context, k8s_namespace)
    streams = NamespaceWatch(kube.client(), k8s_namespace, changed.set).start()
    try:
        eventually(lambda: streams.synced and pods(streams) == ["before"], "the first list")
        proxy.outage(6.0)
        eventually(lambda: streams.error, "the outage said", seconds=6)
        said = streams.error  # the banner's text: which API server, and why
        assert f"127.0.0.1:{proxy.port}" in said, said
        kubectl("apply", "-n", k8s_namespace, "-f", "-", input=pod_manifest("during"))
        kubectl("delete", "pod", "before", "-n", k8s_namespace, "--wait=false")
        eventually(lambda: not streams.error, "the error taken back")
        eventually(lambda: pods(streams) == ["during"], "what changed while away")
    finally:
        streams.stop()
        proxy.close()
    assert streams.join(30)
    assert sum(w.reconnects for w in streams.watches) >= 3  # each stream resumed


def test_the_streams_read_with_a_token_kubeconfig_as_its_user_not_anonymously(
    kube_cluster: Any, k8s_namespace: str, tmp_path, monkeypatch
) -> None:
    # Cloud clusters hand out tokens (or exec plugins printing one), not client certs.
    kubectl = kube_cluster.kubectl
    kubectl("create", "serviceaccount", "reader", "-n", k8s_namespace)
    kubectl("create", "rolebinding", "reader", "--clusterrole=view",
            f"--serviceaccount={k8s_namespace}:reader", "-n", k8s_namespace)  # fmt: skip
    token = kubectl("create", "token", "reader", "-n", k8s_namespace).stdout.strip()
    admin = yaml.safe_load(kube_cluster.kubeconfig.read_text())
    context = next(c for c in admin["contexts"] if c["name"] == kube_cluster.context)
    cluster = next(c for c in admin["clusters"] if c["name"] == context["context"]["cluster"])
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": "reader", "user": {"token": token}}],
        "contexts": [{"name": "reader", "context": {"cluster": cluster["name"], "user": "reader"}}],
        "current-context": "reader",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    monkeypatch.setenv("KUBECONFIG", str(path))
    kubectl("apply", "-n", k8s_namespace, "-f", "-", input=pod_manifest("seen"))
    streams = NamespaceWatch(Kube("reader", k8s_namespace).client(), k8s_namespace, lambda: None)
    streams.start()
    try:
        eventually(lambda: streams.synced or streams.error, "the first lists")
        assert streams.error == ""
        assert pods(streams) == ["seen"]
    finally:
        streams.stop()
    assert streams.join(30)
