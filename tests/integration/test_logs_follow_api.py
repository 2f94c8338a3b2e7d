"""``periph logs --env ENV -f`` on the kwok cluster: followed through the API, no process.

Every container's log is one streaming GET (``follow=true``) through the ``Kube``'s REST
client; the pods of a rollout are followed as they replace the old ones. kwok serves the
same three lines (``POD_LOG_LINES``) as every container's log.
"""

from __future__ import annotations

import subprocess
import threading
import time
from typing import Any

import pytest

from periph_env.deploy import logs
from periph_env.deploy.kube import Kube
from periph_env.testenv.kube_config import POD_LOG_LINES

pytestmark = [pytest.mark.k8s]

WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app.kubernetes.io/name: web}
  template:
    metadata:
      labels: {app.kubernetes.io/name: web, app.kubernetes.io/part-of: peripheral}
    spec:
      containers:
        - {name: app, image: registry.invalid/web:1}
"""


def running_pods(kube_cluster: Any, namespace: str) -> set[str]:
    out = kube_cluster.kubectl(
        "get", "pods", "-n", namespace, "-l", "app.kubernetes.io/name=web",
        "--field-selector=status.phase=Running", "-o", "name",
    ).stdout  # fmt: skip
    return {line.removeprefix("pod/") for line in out.split()}


def wait_for(check: Any, what: str, seconds: float = 120.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"never saw {what}")


def test_follow_reads_every_pod_through_the_api_and_follows_a_rollout(
    kube_cluster: Any, k8s_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kube_cluster.kubeconfig))
    kube_cluster.kubectl("apply", "-n", k8s_namespace, "-f", "-", input=WEB)
    first = wait_for(lambda: running_pods(kube_cluster, k8s_namespace), "a running web pod")
    kube = Kube(kube_cluster.context, k8s_namespace)
    kube.list("Pod")  # the client is loaded before processes are forbidden below

    started_by_follow: list[Any] = []
    popen = subprocess.Popen

    def watched_popen(*args: Any, **kwargs: Any) -> Any:
        # The test's own kubectl runs on the main thread; the follow runs on others.
        if threading.current_thread() is not threading.main_thread():
            started_by_follow.append(args[0] if args else kwargs)
        return popen(*args, **kwargs)

    printed: list[str] = []
    stop = threading.Event()
    monkeypatch.setattr(subprocess, "Popen", watched_popen)
    follower = threading.Thread(target=logs.follow, args=(kube, ["web"], printed.append, stop))
    follower.start()
    try:
        old = next(iter(first))
        expected = [f"[pod/{old}/app] {line}" for line in POD_LOG_LINES]
        wait_for(lambda: printed[: len(expected)] == expected, "the first pod's log")
        # A rollout: a new pod replaces the old one; its log is followed as it starts.
        kube_cluster.kubectl(
            "patch", "deployment/web", "-n", k8s_namespace, "--type=merge",
            "-p", '{"spec":{"template":{"metadata":{"annotations":{"rev":"2"}}}}}',
        )  # fmt: skip
        new_lines = lambda: [line for line in printed if not line.startswith(f"[pod/{old}/")]  # noqa: E731
        wait_for(lambda: len(new_lines()) >= len(POD_LOG_LINES), "the new pod's log")
    finally:
        stop.set()
        follower.join(30)
    assert not follower.is_alive()
    assert started_by_follow == []
    newer = new_lines()
    pod = newer[0].split("/", 2)[1]
    assert pod != old and pod.startswith("web-")
    assert newer[: len(POD_LOG_LINES)] == [f"[pod/{pod}/app] {line}" for line in POD_LOG_LINES]
    assert printed[: len(expected)] == expected and printed.count(expected[0]) == 1
    assert [t.name for t in threading.enumerate() if t.name.startswith("periph-logs-")] == []
