"""The cluster stack behind the Stack area and ``periph watch --cluster``, on the real node.

One dev stack (``periph up --cluster --no-forward``, as in test_cluster_dev_stack.py) is
read through ``ClusterBackend`` (the rows the TUI draws) and hot reloaded by ``periph watch
--cluster`` running as its own process, as a developer runs it next to an editor.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading

import pytest

from periph_env.common.poll import wait_for
from tests.integration.cluster_dev_support import DevProject, assert_no_secret

pytestmark = pytest.mark.node


@pytest.fixture(scope="module")
def dev(tmp_path_factory, real_node, registry):
    """The dev stack brought up by ``periph up --cluster --no-forward``; taken down after."""
    project = DevProject(tmp_path_factory.mktemp("cluster-backend"), real_node.cluster, registry)
    up = project.periph("up", "--cluster", "--no-forward")
    try:
        assert up.returncode == 0, (up.stdout + up.stderr)[-4000:]
        yield project
    finally:
        project.periph("down", "--cluster", timeout=300)


def test_watch_cluster_without_a_stack_exits_1_naming_the_namespace(tmp_path, real_node, registry):
    empty = DevProject(tmp_path, real_node.cluster, registry)  # nothing brought up
    out = empty.periph("watch", "--cluster", timeout=300)
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"no dev stack in namespace {empty.namespace}" in out.stderr
    assert "`periph up --cluster`" in out.stderr


def test_the_backend_lists_every_service_ready_and_watch_reloads_a_worker_edit(dev, monkeypatch):
    from periph_env.cluster.backend import ClusterBackend

    for key, value in dev.env.items():
        monkeypatch.setenv(key, value)
    backend = ClusterBackend.open(dev.root, None)
    rows = {s.service: s for s in backend.statuses()}
    assert {n: (s.state, s.health) for n, s in rows.items()} == {
        "db": ("running", "healthy"), "cache": ("running", "healthy"),
        "backend": ("running", "healthy"), "worker": ("running", "healthy"),
        "frontend": ("running", "healthy"), "migrate": ("exited", None),
    }  # fmt: skip
    assert rows["migrate"].one_shot and rows["migrate"].exit_code == 0
    assert backend.label.startswith(f"cluster {dev.namespace} (")

    watch = subprocess.Popen(
        [sys.executable, "-m", "periph_env", "watch", "--cluster", "worker"],
        cwd=dev.root, env={**os.environ, **dev.env},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    seen: list[str] = []

    def read() -> None:
        for out_line in watch.stdout:
            seen.append(out_line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    source = dev.root / "services/worker/peripheral_worker/__init__.py"
    line = f"# edited under periph watch --cluster {secrets.token_hex(4)}\n"
    try:
        wait_for(lambda: any("watching worker in" in ln for ln in seen), "watch to start", 300, 1)
        source.write_text(source.read_text() + line)
        reload = wait_for(
            lambda: next((ln for ln in seen if ln.startswith("worker    sync ")), None),
            "the worker's reload line",
            timeout=300,
            every=0.5,
        )
    finally:
        watch.send_signal(signal.SIGINT)
        watch.wait(timeout=120)
        reader.join(timeout=10)
    output = "".join(seen)
    assert watch.returncode == 0, output[-3000:]
    assert "seen → synced +" in reload and "→ serving +" in reload, reload
    assert "FAILED" not in reload and "stopped watching" in output
    pod = backend.cluster.ready_pod("worker")
    inside = dev.cluster.kubectl(
        "exec", "-n", dev.namespace, pod, "--", "cat", "/app/peripheral_worker/__init__.py"
    ).stdout
    assert inside.endswith(line)
    assert_no_secret(output)


def test_stop_takes_the_workers_pod_away_and_start_brings_it_back_ready(dev, monkeypatch):
    from periph_env.cluster.backend import ClusterBackend

    for key, value in dev.env.items():
        monkeypatch.setenv(key, value)
    backend = ClusterBackend.open(dev.root, None)
    said: list[str] = []

    backend.act("stop", ["worker"], said.append)
    stopped = wait_for(
        lambda: next((s for s in backend.statuses() if s.service == "worker" and
                      s.state == "exited"), None),
        "the worker shown stopped", timeout=180, every=1,
    )  # fmt: skip
    backend.act("start", ["worker"], said.append)
    rows = {s.service: s for s in backend.statuses()}

    assert stopped.state == "exited"
    assert (rows["worker"].state, rows["worker"].health) == ("running", "healthy")
    dep = dev.cluster.kubectl("get", "deployment", "worker", "-n", dev.namespace, "-o",
                              "jsonpath={.spec.replicas}").stdout  # fmt: skip
    assert dep.strip() == "1"
    assert any(line.startswith("worker: stopped (scaled to 0") for line in said)
    assert_no_secret("\n".join(said))


def test_every_running_pod_gets_cpu_and_memory_from_the_kubelet_and_ps_stats_prints_them(
    dev, monkeypatch
):
    """No metrics API on the test cluster: the real kubelet's Summary API, through the
    API server's node proxy, is the source (issue 26: one Stack area for both)."""
    import json
    import re
    import threading

    from periph_env.cluster.backend import ClusterBackend

    for key, value in dev.env.items():
        monkeypatch.setenv(key, value)
    said: list[str] = []
    backend = ClusterBackend.open(dev.root, None, said.append)
    rows = backend.statuses()
    running = {s.service for s in rows if s.state == "running"}
    model = backend.stats_model()
    try:
        model.update(rows)

        def measured() -> dict | None:
            got = model.latest()
            return got if all(s in got and got[s].mem > 0 for s in running) else None

        latest = wait_for(
            measured,
            "a sample with memory for every running service",
            timeout=180,
            every=1,
        )
    finally:
        model.stop()
    assert running == {"db", "cache", "backend", "worker", "frontend"}
    assert "migrate" not in latest  # a finished Job has no running pod to measure
    assert all(s.cpu is not None and s.cpu >= 0 for s in latest.values()), latest
    assert not any(t.name == "periph-pod-stats" and t.is_alive() for t in threading.enumerate())
    assert not any("RBAC" in line for line in said), said  # the test user may read them

    table = dev.periph("ps", "--cluster", "--stats", timeout=120)
    assert table.returncode == 0, table.stderr
    head, *lines = table.stdout.splitlines()
    assert head.split()[-2:] == ["CPU", "MEM"]
    backend_row = next(line.split() for line in lines if line.split()[0] == "backend")
    assert re.fullmatch(r"\d+(\.\d)?[KMG]", backend_row[-1]), backend_row
    assert re.fullmatch(r"\d+(\.\d)?%", backend_row[-2]), backend_row
    objects = {o["service"]: o for o in json.loads(
        dev.periph("ps", "--cluster", "--stats", "--format", "json", timeout=120).stdout
    )}  # fmt: skip
    assert objects["backend"]["mem_bytes"] > 0 and objects["migrate"]["mem_bytes"] is None
    assert_no_secret(table.stdout + table.stderr)
