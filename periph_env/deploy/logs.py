"""Logs of an environment's services: every replica, following pods as they are replaced.

Without ``follow``: the tail of every pod of each service. With ``follow``: a pod watch
starts ``kubectl logs -f`` for each pod as it starts running (new replicas of a rollout
included) and lets it end when the pod goes; lines carry ``[pod/<name>/<container>]``.
Secret values are masked in every line.
"""

from __future__ import annotations

import queue
import subprocess
import threading
from collections.abc import Callable

from periph_env.deploy.kube import Kube
from periph_env.deploy.migrate import mask
from periph_env.deploy.watch import ResourceWatch

SERVICE_LABEL = "app.kubernetes.io/name"


def selector(services: list[str]) -> str:
    """Label selector for the pods of ``services`` (all managed services when empty)."""
    if not services:
        return "app.kubernetes.io/part-of=peripheral"
    return f"{SERVICE_LABEL} in ({','.join(services)})"


def tail(kube: Kube, services: list[str], out: Callable[[str], None], lines: int = 200) -> int:
    """Print the last ``lines`` of every matching pod; the number of pods' logs read."""
    pods = kube.items("get", "pods", "-l", selector(services))
    for pod in pods:
        proc = kube.run(
            "logs", f"pod/{pod['metadata']['name']}", "--all-containers", "--prefix",
            f"--tail={lines}", check=False, timeout=60,
        )  # fmt: skip
        for line in (proc.stdout or proc.stderr).splitlines():
            out(mask(line, kube.secrets))
    return len(pods)


def _running(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and not pod["metadata"].get(
        "deletionTimestamp"
    )


def follow(
    kube: Kube,
    services: list[str],
    out: Callable[[str], None],
    stop: threading.Event | None = None,
) -> None:
    """Stream every matching pod's log until ``stop`` is set (or Ctrl-C)."""
    stop = stop or threading.Event()
    events: queue.Queue = queue.Queue()
    from kubernetes import client

    core = client.CoreV1Api(kube.client())
    wanted = selector(services)

    def lister(namespace: str, **kwargs):
        return core.list_namespaced_pod(namespace, label_selector=wanted, **kwargs)

    watch = ResourceWatch("Pod", lister, kube.namespace, events)
    watch.start()
    streams: dict[str, subprocess.Popen] = {}
    lock = threading.Lock()

    def pump(proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with lock:
                out(mask(line.rstrip("\n"), kube.secrets))

    try:
        while not stop.is_set():
            try:
                _, change, pod = events.get(timeout=0.5)
            except queue.Empty:
                continue
            name = pod.get("metadata", {}).get("name")
            if not name or change == "SYNCED":
                continue
            if change != "DELETED" and _running(pod) and name not in streams:
                argv = kube.argv("logs", "-f", f"pod/{name}", "--all-containers", "--prefix")
                proc = subprocess.Popen(
                    argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
                )
                streams[name] = proc
                threading.Thread(target=pump, args=(proc,), daemon=True).start()
            elif change == "DELETED" and name in streams:
                streams.pop(name).terminate()
    finally:
        watch.stop()
        for proc in streams.values():
            proc.terminate()
