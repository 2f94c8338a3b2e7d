"""What real clusters do, done to a real control plane: pause, kill, lose controllers.

Everything here runs against a kwok cluster of its own (``periph-chaos``, created from the
cached binaries and deleted at the end), never the shared ``periph-test`` cluster other
test runs use: its API server is paused (SIGSTOP) and killed, its controllers killed.

- the testenv watchdog brings killed components back, and Jobs get their pods again;
- a 20 s API server stall in the middle of a rollout ends in success, the watch resumed;
- an API server that dies mid-deploy ends it with exit 1 and one line naming it, within
  two minutes; the next deploy after it returns succeeds;
- a migration Job nobody serves, or whose pod nobody can schedule, is told, not waited on
  in silence.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from periph_env.common.poll import wait_for
from periph_env.deploy import events as ev
from periph_env.deploy.kube import Kube
from periph_env.deploy.migrate import run_migration
from periph_env.errors import PeriphError
from periph_env.testenv import kube
from periph_env.testenv import kube_config as cfg
from periph_env.testenv.state import Log
from tests.integration.test_deploy import mark_backend_ready, run_deploy
from tests.integration.test_deploy_harness import (
    ImageSet,
    commit,
    deploy_env,
    drop_namespace,
    json_patch,
    make_project,
    new_namespace,
    patch_overlay,
    push_images,
)

pytestmark = [pytest.mark.k8s, pytest.mark.registry]

CHAOS = "periph-chaos"
STALL_SECONDS = 20.0
NEVER_READY = {
    "op": "add",
    "path": "/spec/template/metadata/labels/periph.dev~1test-ready",
    "value": "never",
}


@pytest.fixture(scope="module")
def chaos_cluster() -> Iterator[kube.ClusterInfo]:
    """A cluster of its own (started from the cached binaries), deleted afterwards."""
    log = Log(prefix="chaos")
    with cfg.use_cluster(CHAOS):
        try:
            info = kube.ensure(log)
        except PeriphError as exc:  # an engine that cannot start fails the run
            with contextlib.suppress(PeriphError):
                kube.stop(log)
            pytest.fail(f"chaos cluster could not start:\n{exc}", pytrace=False)
    try:
        yield info
    finally:
        with cfg.use_cluster(CHAOS):
            kube.stop(log)
            assert kube.watchdog_pid() is None


def pid(name: str) -> int | None:
    """Pid of a control-plane process of the chaos cluster."""
    with cfg.use_cluster(CHAOS):
        return kube.component_pid(name)


def kill(name: str) -> int:
    """SIGKILL a component of the chaos cluster; its old pid."""
    old = pid(name)
    assert old is not None, f"{name} of {CHAOS} is not running"
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: pid(name) != old, timeout=10, what=f"{name} {old} to exit")
    return old


@contextlib.contextmanager
def restarts_held() -> Iterator[None]:
    with cfg.use_cluster(CHAOS), kube.restarts_held():
        yield


def stall(seconds: float) -> float:
    """SIGSTOP the chaos cluster's API server for ``seconds``, then SIGCONT; how long."""
    apiserver = pid("kube-apiserver")
    assert apiserver is not None
    started = time.monotonic()
    os.kill(apiserver, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        os.kill(apiserver, signal.SIGCONT)
    return time.monotonic() - started


def serving(cluster: kube.ClusterInfo) -> bool:
    proc = cluster.kubectl("get", "--raw", "/readyz", "--request-timeout=3s", check=False)
    return proc.returncode == 0


def back_up(cluster: kube.ClusterInfo, names: tuple[str, ...] = kube.PROCESSES) -> None:
    """Wait for the watchdog to have every component running and the apiserver serving."""
    wait_for(lambda: all(pid(n) for n in names) and serving(cluster), timeout=90,
             what=f"{CHAOS} back up")  # fmt: skip


@pytest.fixture
def chaos_namespace(chaos_cluster: kube.ClusterInfo) -> Iterator[str]:
    name = new_namespace(chaos_cluster)
    yield name
    if serving(chaos_cluster):
        drop_namespace(chaos_cluster, name)


@pytest.fixture
def chaos_env(
    chaos_cluster: kube.ClusterInfo, registry: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """periph's environment for the chaos cluster (in-process calls and CLI runs)."""
    env = deploy_env(chaos_cluster, registry, tmp_path / "xdg")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture(scope="module")
def images(registry: Any, base_images: Any) -> ImageSet:
    return push_images(registry)


def job(name: str, **pod_spec: Any) -> dict[str, Any]:
    """A Job kwok completes at once (no container runs)."""
    container = {"name": "migrate", "image": "registry.invalid/migrate:1"}
    spec = {"restartPolicy": "Never", "containers": [container], **pod_spec}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"backoffLimit": 0, "template": {"spec": spec}},
    }


def first_note(
    namespace: str, obj: dict[str, Any], wanted: Callable[[str], bool], timeout: float
) -> tuple[str | None, float]:
    """Run the migration wait on ``obj``; the first Note ``wanted`` and when it came."""
    waiting = run_migration(Kube(CHAOS, namespace), [obj], timeout=timeout)
    started = time.monotonic()
    try:
        for event in waiting:
            if isinstance(event, ev.Note) and wanted(event.text):
                return event.text, time.monotonic() - started
    finally:
        waiting.close()
    return None, time.monotonic() - started


# --- the control plane restarts what exits ------------------------------------------------


def test_killed_controller_manager_and_scheduler_come_back_and_a_job_gets_its_pod(
    chaos_cluster, chaos_namespace
) -> None:
    killed = {name: kill(name) for name in ("kube-controller-manager", "kube-scheduler")}
    back_up(chaos_cluster)
    assert all(pid(name) not in (None, old) for name, old in killed.items())
    chaos_cluster.kubectl("create", "job", "after-restart", "-n", chaos_namespace,
                          "--image=registry.invalid/migrate:1")  # fmt: skip
    done = chaos_cluster.kubectl("wait", "--for=condition=Complete", "job/after-restart",
                                 "-n", chaos_namespace, "--timeout=90s", check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    with cfg.use_cluster(CHAOS):
        assert "restarted kube-controller-manager" in kube.watchdog_log_file().read_text()


def test_after_a_20s_api_server_stall_the_control_plane_serves_jobs_again(
    chaos_cluster, chaos_namespace
) -> None:
    before = {name: pid(name) for name in kube.PROCESSES}
    stall(STALL_SECONDS)
    back_up(chaos_cluster)
    chaos_cluster.kubectl("create", "job", "after-stall", "-n", chaos_namespace,
                          "--image=registry.invalid/migrate:1")  # fmt: skip
    done = chaos_cluster.kubectl("wait", "--for=condition=Complete", "job/after-stall",
                                 "-n", chaos_namespace, "--timeout=90s", check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    # The API server and etcd never exited; whatever lost its lease was restarted.
    after = {name: pid(name) for name in kube.PROCESSES}
    assert after["kube-apiserver"] == before["kube-apiserver"]
    assert all(after.values()), after


# --- waits that make no progress speak ----------------------------------------------------


def test_a_job_no_controller_serves_is_told_within_seconds(
    chaos_cluster, chaos_namespace, chaos_env
) -> None:
    with restarts_held():
        kill("kube-controller-manager")
        text, after = first_note(
            chaos_namespace, job("migrate-orphan"), lambda t: t.startswith("no pod"), 60
        )
    back_up(chaos_cluster)
    # The note comes at the first poll after 10 s: 10 s on a quiet machine, 11 s or more
    # under load.
    assert text is not None
    assert re.fullmatch(
        r"no pod created for job migrate-orphan after 1\d+s \(is kube-controller-manager "
        r"running\?\)",
        text,
    ), text
    assert after < 30


def test_a_job_pod_nobody_can_schedule_is_told_with_the_reason(
    chaos_cluster, chaos_namespace, chaos_env
) -> None:
    unschedulable = job("migrate-pending", nodeSelector={"periph.dev/no-such-node": "x"})
    text, _ = first_note(chaos_namespace, unschedulable, lambda t: "Pending" in t, 60)
    assert text is not None and text.startswith("pod migrate-pending-")
    assert "Pending: 0/2 nodes are available" in text and "(Unschedulable)" in text


# --- deploys through a stall and through a dead API server --------------------------------


def test_a_20s_api_server_stall_mid_rollout_ends_in_success_with_the_watch_resumed(
    chaos_cluster, chaos_namespace, chaos_env, images, tmp_path
) -> None:
    root = make_project(tmp_path, "demo", chaos_namespace, CHAOS, images, "<webhook>")
    # The backend stays un-ready until the test marks it Ready after the stall: the
    # rollout is still running when the API server stops answering.
    patch_overlay(root, "demo", json_patch("Deployment", "backend", NEVER_READY))
    commit(root, "backend waits for the test")
    stalls: list[float] = []

    def stall_then_ready() -> None:
        stalls.append(stall(STALL_SECONDS))
        back_up(chaos_cluster)  # the controllers lost their lease; the watchdog restarts them
        mark_backend_ready(chaos_cluster, chaos_namespace, seconds=90)

    staller = threading.Thread(target=stall_then_ready, daemon=True)

    def on_event(event: ev.Event) -> None:
        backend = isinstance(event, ev.DeploymentProgress) and event.name == "backend"
        if backend and staller.ident is None:
            staller.start()

    events = run_deploy(root, on_event=on_event)
    staller.join(timeout=120)
    notes = [e.text for e in events if isinstance(e, ev.Note)]
    print("\n".join(notes))  # shown with -rP
    assert stalls and stalls[0] >= STALL_SECONDS
    end = events[-1]
    assert isinstance(end, ev.Finished) and end.result == "succeeded", (end, notes)
    assert any("not answering" in n for n in notes), notes
    assert any("watch resumed" in n for n in notes), notes


def test_an_api_server_killed_mid_deploy_fails_in_one_line_and_the_next_deploy_succeeds(
    chaos_cluster, chaos_namespace, chaos_env, images, tmp_path
) -> None:
    root = make_project(tmp_path, "demo", chaos_namespace, CHAOS, images, "<webhook>")
    patch_overlay(root, "demo", json_patch("Deployment", "backend", NEVER_READY))
    commit(root, "backend waits for the test")
    env = {**os.environ, **chaos_env}
    with restarts_held():
        proc = subprocess.Popen(
            [sys.executable, "-m", "periph_env", "deploy", "demo"],
            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        lines: list[str] = []
        killed_at = None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if killed_at is None and line.startswith("   backend: "):
                kill("kube-apiserver")
                killed_at = time.monotonic()
        proc.wait(timeout=30)
        took = time.monotonic() - (killed_at or 0)
    output = "\n".join(lines)
    print(f"{output}\n-- exit {proc.returncode} {took:.1f}s after the kill")  # shown with -rP
    assert killed_at is not None, output
    assert proc.returncode == 1, output
    assert took < 120, output
    assert "Traceback" not in output
    last = lines[-1]
    assert last.startswith("FAILED") and chaos_cluster.server in last, output
    assert "unreachable for" in last

    back_up(chaos_cluster)
    # The same release without the test's hold on the backend: it rolls out.
    (root / "k8s" / "overlays" / "demo" / "kustomization.yaml").write_text(
        subprocess.run(["git", "show", "HEAD~1:k8s/overlays/demo/kustomization.yaml"],
                       cwd=root, capture_output=True, text=True, check=True).stdout
    )  # fmt: skip
    commit(root, "backend as released")
    again = subprocess.run(
        [sys.executable, "-m", "periph_env", "deploy", "demo"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
