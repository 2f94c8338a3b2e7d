# ruff: noqa: F811  (pytest fixtures imported from the engine tests are parameters here)
"""A deploy's ending tells the truth: stopped midway it says ``interrupted`` and the step it
was in; the API server failing under it says ``failed`` and the cause. Real kwok cluster,
real registry, the engine in-process (``DeployRun``) as the TUI drives it.

The migration Job's pod is labelled ``periph.dev/test-ready=never``: kwok keeps it running,
so the deploy sits in its migration step for as long as the test needs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from periph_env.deploy import DeployRun, Options, read_history
from periph_env.deploy import events as ev
from periph_env.deploy.outage import GIVE_UP_SECONDS
from tests.integration.test_deploy import images, namespace, periph_env_vars  # noqa: F401
from tests.integration.test_deploy_harness import (
    FlakyProxy,
    commit,
    deploy_env,
    json_patch,
    make_project,
    patch_overlay,
)

pytestmark = [pytest.mark.k8s, pytest.mark.registry]

NEVER_ENDS = {
    "op": "add",
    "path": "/spec/template/metadata/labels/periph.dev~1test-ready",
    "value": "never",
}


def project_with_an_endless_migration(tmp_path: Path, cluster: Any, ns: str, images) -> Path:
    root = make_project(tmp_path, "demo", ns, cluster.context, images, "<webhook>")
    patch_overlay(root, "demo", json_patch("Job", "backend-migrate", NEVER_ENDS), migrate=True)
    commit(root, "a migration that never ends")
    return root


class Driven:
    """A DeployRun iterated in a thread of its own (as the TUI does), its events kept."""

    def __init__(self, run: DeployRun) -> None:
        self.run, self.events = run, []
        self.thread = threading.Thread(target=lambda: self.events.extend(run), daemon=True)
        self.thread.start()

    def wait_for_migration_poll(self, cluster: Any, ns: str, timeout: float = 180) -> None:
        """Until the run is in its migration step and the Job's pod runs (the poll loop)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.run.step == "migrations":
                pods = cluster.kubectl(
                    "get", "pods", "-n", ns, "-l", "job-name=backend-migrate", "-o", "name",
                    check=False,
                ).stdout  # fmt: skip
                if pods.strip():
                    time.sleep(1.0)  # a few polls of the Job through the client
                    return
            assert self.thread.is_alive(), f"the deploy ended early: {self.events[-3:]}"
            time.sleep(0.2)
        raise AssertionError(f"never reached the migration's wait: {self.events[-3:]}")

    def finished(self, timeout: float = 120) -> ev.Finished:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the deploy did not end"
        assert isinstance(self.events[-1], ev.Finished), self.events[-1]
        return self.events[-1]


def periph_watch_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("periph-")]


def test_a_deploy_stopped_during_its_migration_records_interrupted_with_that_step(
    kube_cluster, periph_env_vars, images, namespace, tmp_path
) -> None:
    root = project_with_an_endless_migration(tmp_path, kube_cluster, namespace, images)
    driven = Driven(DeployRun(root, "demo", Options()))
    driven.wait_for_migration_poll(kube_cluster, namespace)

    driven.run.stop()
    assert driven.run.join(timeout=60)
    end = driven.finished()

    assert (end.result, end.exit_code) == ("interrupted", 130)
    assert end.message == "interrupted by the user during migrations"
    newest = read_history(root, "demo")[0]
    assert (newest.status, newest.message) == (
        "interrupted",
        "interrupted by the user during migrations",
    )
    assert not any(isinstance(e, ev.DeploymentProgress) for e in driven.events)
    assert periph_watch_threads() == []


def test_an_api_server_gone_during_the_migration_records_failed_with_the_cause(
    kube_cluster, registry, images, namespace, tmp_path, monkeypatch
) -> None:
    # The shared API server must stay up for the other tests: a proxy in front of it
    # refuses every connection for a while, which is what periph sees of a dead server.
    proxy = FlakyProxy(kube_cluster.server)
    kubeconfig = proxy.kubeconfig(kube_cluster.kubeconfig, tmp_path / "kubeconfig")
    for key, value in deploy_env(kube_cluster, registry, tmp_path / "xdg", kubeconfig).items():
        monkeypatch.setenv(key, value)
    root = project_with_an_endless_migration(tmp_path, kube_cluster, namespace, images)
    try:
        driven = Driven(DeployRun(root, "demo", Options()))
        driven.wait_for_migration_poll(kube_cluster, namespace)
        # Longer than the migration's ride-out (deploy.outage gives up after 60 s), then
        # back within the record's retries: it is written once the server answers again.
        proxy.outage(GIVE_UP_SECONDS + 4.0)
        end = driven.finished(timeout=GIVE_UP_SECONDS + 90)
    finally:
        proxy.close()

    assert (end.result, end.exit_code) == ("failed", 1)
    assert end.message.startswith("during migrations: ")
    assert "interrupted" not in end.message and "\n" not in end.message
    assert not any(isinstance(e, ev.DeploymentProgress) for e in driven.events)
    monkeypatch.setenv("KUBECONFIG", str(kube_cluster.kubeconfig))  # past the proxy
    newest = read_history(root, "demo")[0]
    assert (newest.status, newest.message) == ("failed", end.message)


def test_ctrl_c_during_the_migration_of_periph_deploy_records_interrupted_and_exits_130(
    kube_cluster, periph_env_vars, images, namespace, tmp_path
) -> None:
    root = project_with_an_endless_migration(tmp_path, kube_cluster, namespace, images)
    proc = subprocess.Popen(
        [sys.executable, "-m", "periph_env", "deploy", "demo"],
        cwd=root, env={**os.environ, **periph_env_vars},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("== migrations"):
            time.sleep(3.0)  # the Job is applied and polled
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=120)
    text = "".join(lines) + out
    assert proc.returncode == 130, text + err
    assert "Traceback" not in err and "Traceback" not in text
    assert "INTERRUPTED" in text and "interrupted by the user during migrations" in text
    newest = read_history(root, "demo")[0]
    assert (newest.status, newest.message) == (
        "interrupted",
        "interrupted by the user during migrations",
    )
