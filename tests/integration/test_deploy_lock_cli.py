"""One deploy per environment, through the CLI as maintainers run it (separate processes).

``contended``: two ``periph deploy demo`` started at the same moment. The backend's pods
stay un-ready until the test marks them Ready, so the winner holds the lock in its rollout
for as long as the test needs; meanwhile the test runs a rollback, a verify and a third
deploy with ``--wait``. ``killed``: a deploy killed with SIGKILL while it holds the lock.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from periph_env.deploy.lock_state import LEASE_NAME, SECONDS_VAR, LeaseState
from tests.integration.test_deploy import mark_backend_ready
from tests.integration.test_deploy_harness import (
    ImageSet,
    commit,
    deploy_env,
    drop_namespace,
    json_patch,
    make_project,
    new_namespace,
    patch_overlay,
    periph_cli,
    push_images,
)

pytestmark = [pytest.mark.k8s, pytest.mark.registry]


@pytest.fixture(scope="module")
def images(registry: Any, base_images: Any) -> ImageSet:
    """v1 and v2 of the five images, pushed once per session."""
    return push_images(registry)


@dataclass
class Run:
    """A ``periph`` process whose output lines are read as they come, with their times."""

    proc: subprocess.Popen[str]
    lines: list[tuple[float, str]] = field(default_factory=list)
    ended: float = 0.0

    @classmethod
    def start(cls, root: Path, env: dict[str, str], *args: str) -> Run:
        proc = subprocess.Popen(
            [sys.executable, "-m", "periph_env", *args],
            cwd=root, env={**os.environ, **env}, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        run = cls(proc)
        threading.Thread(target=run._read, daemon=True).start()
        return run

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))
        self.proc.wait()
        self.ended = time.monotonic()

    @property
    def output(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def wait_for(self, prefix: str, timeout: float = 180) -> float:
        """When the process printed a line starting with ``prefix`` (fails if it ends first)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, line in list(self.lines):
                if line.startswith(prefix):
                    return at
            if self.ended:
                break
            time.sleep(0.2)
        raise AssertionError(f"no line {prefix!r} (exit {self.proc.poll()}):\n{self.output}")

    def finish(self, timeout: float = 300) -> int:
        self.proc.wait(timeout=timeout)
        deadline = time.monotonic() + 10
        while not self.ended and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.proc.returncode


@dataclass
class Contended:
    root: Path
    namespace: str
    winner: Run
    loser: Run
    rollback: subprocess.CompletedProcess[str]
    verify: subprocess.CompletedProcess[str]
    waiter: Run
    history: list[dict[str, Any]]


@pytest.fixture(scope="module")
def contended(
    kube_cluster: Any, registry: Any, images: ImageSet, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Contended]:
    base = tmp_path_factory.mktemp("contended")
    namespace = new_namespace(kube_cluster)
    env = deploy_env(kube_cluster, registry, base / "xdg")
    root = make_project(base, "demo", namespace, kube_cluster.context, images, "<webhook>")
    never_ready = {
        "op": "add",
        "path": "/spec/template/metadata/labels/periph.dev~1test-ready",
        "value": "never",
    }
    patch_overlay(root, "demo", json_patch("Deployment", "backend", never_ready))
    commit(root, "backend waits for the test")
    marker = None
    done = threading.Event()
    try:
        pair = [Run.start(root, env, "deploy", "demo") for _ in range(2)]
        # The loser refuses as soon as it reaches the lock; the winner then sits in its
        # rollout, holding the lock, until the backend is marked Ready.
        deadline = time.monotonic() + 240
        while not any(r.ended for r in pair) and time.monotonic() < deadline:
            time.sleep(0.2)
        loser = next(r for r in pair if r.ended)
        winner = next(r for r in pair if r is not loser)
        winner.wait_for("== rollout")
        rollback = periph_cli(root, env, "rollback", "demo")
        verify = periph_cli(root, env, "verify", "demo", "--watch-window", "0")
        waiter = Run.start(root, env, "deploy", "demo", "--wait")
        waiter.wait_for("   waiting for the lock")
        # Marked until the waiter is done: the backend's HPA (minReplicas 2) adds a pod up
        # to 15 s after the first deploy, possibly after the winner's rollout; the waiter's
        # rollout waits for that pod as kubectl would.
        marker = threading.Thread(
            target=mark_backend_ready, args=(kube_cluster, namespace, 400), kwargs={"until": done}
        )
        marker.start()
        winner.finish()
        waiter.finish()
        done.set()
        history = json.loads(periph_cli(root, env, "history", "demo", "--format", "json").stdout)
        yield Contended(root, namespace, winner, loser, rollback, verify, waiter, history)
    finally:
        done.set()
        if marker is not None:
            marker.join(timeout=90)
        drop_namespace(kube_cluster, namespace)


def test_of_two_deploys_started_together_one_proceeds_and_one_is_refused(contended) -> None:
    assert contended.loser.finish() == 2, contended.loser.output
    assert contended.winner.finish() == 0, contended.winner.output
    assert "SUCCEEDED" in contended.winner.output


def test_the_refused_deploy_names_the_holder_and_how_to_wait(contended) -> None:
    pid = contended.winner.proc.pid
    [refused] = [line for _, line in contended.loser.lines if line.startswith("REFUSED in ")]
    assert "demo is being deployed by " in refused and f" pid {pid} (commit " in refused
    assert refused.endswith("— `--wait` to wait for it")
    last = contended.loser.lines[-1][1]
    assert last.startswith("hint: kubectl get lease periph-deploy-lock -n ")
    assert "== summary" not in contended.loser.output  # refused before touching anything


def test_rollback_refuses_while_a_deploy_holds_the_lock(contended) -> None:
    proc = contended.rollback
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "demo is being deployed by " in proc.stdout
    assert f" pid {contended.winner.proc.pid} " in proc.stdout


def test_verify_refuses_while_a_deploy_holds_the_lock(contended) -> None:
    proc = contended.verify
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "demo is being deployed by " in proc.stdout
    assert f" pid {contended.winner.proc.pid} " in proc.stdout


def test_a_deploy_with_wait_says_for_whom_and_runs_after_the_holder(contended) -> None:
    waiter, winner = contended.waiter, contended.winner
    assert waiter.finish() == 0, waiter.output
    waiting = [line for _, line in waiter.lines if line.startswith("   waiting for the lock")]
    assert f" pid {winner.proc.pid} " in waiting[0]
    # It changed nothing until the holder had finished.
    assert waiter.wait_for("== summary") > winner.wait_for("SUCCEEDED in ")


def test_both_deploys_are_recorded_under_distinct_revisions(contended) -> None:
    deploys = [(r["revision"], r["status"]) for r in contended.history if r["action"] == "deploy"]
    assert deploys == [(2, "succeeded"), (1, "succeeded")]


def test_the_lock_is_released_after_the_deploys(contended, kube_cluster) -> None:
    proc = kube_cluster.kubectl("get", "lease", LEASE_NAME, "-n", contended.namespace, check=False)
    assert proc.returncode != 0 and "NotFound" in proc.stderr


# --- a holder killed with SIGKILL -----------------------------------------------------------


def test_a_killed_deploy_is_shown_abandoned_and_its_lock_taken_over_within_a_minute(
    kube_cluster, registry, images, tmp_path
) -> None:
    namespace = new_namespace(kube_cluster)
    try:
        # A short lease keeps the test short; the default (30 s) lapses within a minute too.
        env = {**deploy_env(kube_cluster, registry, tmp_path / "xdg"), SECONDS_VAR: "8"}
        root = make_project(tmp_path, "demo", namespace, kube_cluster.context, images, "<w>")
        first = Run.start(root, env, "deploy", "demo")
        first.wait_for("== deployments")
        first.proc.send_signal(signal.SIGKILL)
        killed = datetime.now(UTC)
        assert first.finish() == -signal.SIGKILL

        lease = LeaseState.of(
            json.loads(
                kube_cluster.kubectl(
                    "get", "lease", LEASE_NAME, "-n", namespace, "-o", "json"
                ).stdout
            )
        )
        assert f" pid {first.proc.pid} (deploy, commit " in lease.holder
        # Nobody renews it: it lapses one lease length after the last renewal at the latest.
        lapses = lease.expires()
        assert lapses is not None and lapses - killed <= timedelta(seconds=8)
        time.sleep(max(0.0, (lapses - datetime.now(UTC)).total_seconds()) + 1)

        text = periph_cli(root, env, "history", "demo")
        assert text.returncode == 0, text.stderr
        row = next(line for line in text.stdout.splitlines() if line.strip().startswith("1 "))
        assert " abandoned " in row and " running " not in row
        assert "its run is gone" in text.stdout
        records = json.loads(periph_cli(root, env, "history", "demo", "--format", "json").stdout)
        assert [(r["revision"], r["status"]) for r in records] == [(1, "abandoned")]

        again = periph_cli(root, env, "deploy", "demo")
        assert again.returncode == 0, again.stdout + again.stderr
        assert "took over the lock of " in again.stdout
        assert f" pid {first.proc.pid} (commit " in again.stdout
        records = json.loads(periph_cli(root, env, "history", "demo", "--format", "json").stdout)
        assert [(r["revision"], r["status"]) for r in records] == [
            (2, "succeeded"),
            (1, "interrupted"),
        ]
    finally:
        drop_namespace(kube_cluster, namespace)


def test_ctrl_c_mid_deploy_releases_the_lock_and_records_interrupted(
    kube_cluster, registry, images, tmp_path
) -> None:
    namespace = new_namespace(kube_cluster)
    try:
        env = deploy_env(kube_cluster, registry, tmp_path / "xdg")
        root = make_project(tmp_path, "demo", namespace, kube_cluster.context, images, "<w>")
        run = Run.start(root, env, "deploy", "demo")
        run.wait_for("== deployments")
        run.proc.send_signal(signal.SIGINT)
        assert run.finish() != 0
        proc = kube_cluster.kubectl("get", "lease", LEASE_NAME, "-n", namespace, check=False)
        assert proc.returncode != 0 and "NotFound" in proc.stderr  # released, not left to lapse
        records = json.loads(periph_cli(root, env, "history", "demo", "--format", "json").stdout)
        assert [(r["revision"], r["status"]) for r in records] == [(1, "interrupted")]
        again = periph_cli(root, env, "deploy", "demo")  # at once: nothing to wait for
        assert again.returncode == 0, again.stdout + again.stderr
        assert "took over" not in again.stdout
    finally:
        drop_namespace(kube_cluster, namespace)
