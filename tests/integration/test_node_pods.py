"""Real pods on the real node: containers run, probes pass, Services and DNS answer.

One module namespace holds a web server (httpd behind a ClusterIP Service, real readiness
probe) and a client pod; the tests read what a user would see: the HTTP answer through the
Service from the host and by DNS name from another pod, `kubectl logs` and `exec`, a bound
claim, a registry pull that needs credentials, and a real CrashLoopBackOff.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
import yaml

from periph_env.common.poll import wait_for
from periph_env.testenv import node
from periph_env.testenv import node_config as ncfg

pytestmark = pytest.mark.node

PAGE = "hello from a real pod"
WEB_COMMAND = (
    "mkdir -p /www && echo '" + PAGE + "' > /www/index.html && echo web: serving on 8080 && "
    "exec httpd -f -v -p 8080 -h /www"
)


def pod(name: str, spec: dict[str, Any], labels: dict[str, str] | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": name}},
        "spec": spec,
    }


def container(image: str, command: str, **extra: Any) -> dict[str, Any]:
    return {"name": "main", "image": image, "command": ["sh", "-c", command], **extra}


def apply(real_node: node.NodeInfo, namespace: str, *documents: dict) -> None:
    real_node.cluster.kubectl(
        "apply", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(documents)
    )


def wait_ready(real_node: node.NodeInfo, namespace: str, *pods: str) -> None:
    real_node.cluster.kubectl(
        "wait", "-n", namespace, "--for=condition=Ready", *[f"pod/{p}" for p in pods],
        "--timeout=120s",
    )  # fmt: skip


def get(real_node: node.NodeInfo, namespace: str, what: str) -> dict[str, Any]:
    out = real_node.cluster.kubectl("get", "-n", namespace, what, "-o", "json").stdout
    return json.loads(out)


def exec_in(real_node: node.NodeInfo, namespace: str, pod_name: str, command: str):
    return real_node.cluster.kubectl(
        "exec", "-n", namespace, pod_name, "--", "bash", "-c", command, check=False, timeout=60
    )


def raw_get(host: str, port: int = 80, request: str = "GET / HTTP/1.0") -> str:
    """bash: one plain request to ``host:port`` by name (glibc resolves it), answer on stdout."""
    return (
        f"exec 3<>/dev/tcp/{host}/{port} && "
        f"printf '{request}\\r\\nHost: {host}\\r\\n\\r\\n' >&3 && timeout 10 cat <&3"
    )


@pytest.fixture(scope="module")
def web(real_node, module_node_namespace, node_image, real_pod) -> str:
    """Pods `web` (httpd + readiness probe) and `client`, and the Service `web` (80 -> 8080)."""
    ns = module_node_namespace
    probe = {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1}
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }
    web_container = container(node_image, WEB_COMMAND, readinessProbe=probe)
    client_container = container(node_image, "sleep 3600")
    apply(
        real_node,
        ns,
        pod("web", real_pod({"containers": [web_container]})),
        pod("client", real_pod({"containers": [client_container]})),
        service,
    )
    wait_ready(real_node, ns, "web", "client")
    return ns


def test_pod_runs_on_the_real_node(real_node, web):
    status = get(real_node, web, "pod/web")

    assert status["spec"]["nodeName"] == real_node.name
    assert status["status"]["podIP"].startswith(ncfg.POD_CIDR.rsplit(".", 2)[0])
    assert status["status"]["containerStatuses"][0]["ready"] is True


def test_service_answers_from_the_host_through_its_cluster_ip(real_node, web):
    cluster_ip = get(real_node, web, "service/web")["spec"]["clusterIP"]

    def fetch() -> str | None:
        try:
            with urllib.request.urlopen(f"http://{cluster_ip}/", timeout=3) as response:
                return response.read().decode()
        except OSError:
            return None

    assert PAGE in wait_for(fetch, "the Service from the host", 60, every=1)


def test_service_answers_another_pod_by_dns_name(real_node, web):
    fqdn = f"web.{web}.svc.{ncfg.CLUSTER_DOMAIN}"

    cluster_ip = get(real_node, web, "service/web")["spec"]["clusterIP"]

    resolved = exec_in(real_node, web, "client", f"getent hosts {fqdn}")
    by_short_name = exec_in(real_node, web, "client", raw_get("web"))
    by_fqdn = exec_in(real_node, web, "client", raw_get(fqdn))

    assert resolved.stdout.split()[0] == cluster_ip, resolved.stderr
    assert PAGE in by_short_name.stdout, by_short_name.stderr
    assert PAGE in by_fqdn.stdout, by_fqdn.stderr


def test_apiserver_is_reachable_from_a_pod_at_the_kubernetes_service(real_node, web):
    name = f"kubernetes.default.svc.{ncfg.CLUSTER_DOMAIN}"

    # Plain HTTP to the HTTPS port: only Go's TLS server answers with this exact sentence.
    answer = exec_in(real_node, web, "client", raw_get(name, 443))

    assert "Client sent an HTTP request to an HTTPS server" in answer.stdout, answer.stderr


def test_kubectl_logs_shows_the_container_output(real_node, web):
    logs = real_node.cluster.kubectl("logs", "-n", web, "pod/web").stdout

    assert "web: serving on 8080" in logs


def test_kubectl_exec_runs_in_the_container(real_node, web):
    result = exec_in(real_node, web, "web", "cat /www/index.html")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == PAGE


def test_claim_of_the_local_storage_class_binds_and_keeps_data(
    real_node, node_namespace, node_image, real_pod
):
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {
            "storageClassName": real_node.storage_class,
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "100Mi"}},
        },
    }
    writer = real_pod(
        {
            "containers": [
                container(
                    node_image,
                    "echo persisted > /data/file && sleep 3600",
                    volumeMounts=[{"name": "data", "mountPath": "/data"}],
                )
            ],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
        }
    )
    apply(real_node, node_namespace, claim, pod("writer", writer))
    wait_ready(real_node, node_namespace, "writer")

    assert get(real_node, node_namespace, "pvc/data")["status"]["phase"] == "Bound"
    read = exec_in(real_node, node_namespace, "writer", "cat /data/file")
    assert read.stdout.strip() == "persisted"


def test_image_from_the_registry_needs_the_pull_secret(
    real_node, node_namespace, node_image, real_pod
):
    spec = real_pod({"containers": [container(node_image, "sleep 3600")]})
    spec.pop("imagePullSecrets")
    apply(real_node, node_namespace, pod("no-credentials", spec))

    def waiting_reason() -> str | None:
        statuses = get(real_node, node_namespace, "pod/no-credentials")["status"]
        for status in statuses.get("containerStatuses", []):
            reason = status.get("state", {}).get("waiting", {}).get("reason")
            if reason in ("ErrImagePull", "ImagePullBackOff"):
                return reason
        return None

    assert wait_for(waiting_reason, "the unauthenticated pull to fail", 90, every=1)


def test_entrypoint_exiting_1_gives_a_real_crash_loop(
    real_node, node_namespace, node_image, real_pod
):
    spec = real_pod({"containers": [container(node_image, "echo crashing; exit 1")]})
    apply(real_node, node_namespace, pod("crasher", spec))

    def crash_looping() -> dict | None:
        status = get(real_node, node_namespace, "pod/crasher")["status"]
        for container_status in status.get("containerStatuses", []):
            waiting = container_status.get("state", {}).get("waiting", {})
            if waiting.get("reason") == "CrashLoopBackOff":
                return container_status
        return None

    status = wait_for(crash_looping, "CrashLoopBackOff", 120, every=1)
    assert status["restartCount"] >= 1
    assert status["lastState"]["terminated"]["exitCode"] == 1
    logs = real_node.cluster.kubectl("logs", "-n", node_namespace, "pod/crasher", "--previous")
    assert "crashing" in logs.stdout
