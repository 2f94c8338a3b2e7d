"""The entry point is idempotent: a second ``testenv up`` reuses everything, starts nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from periph_env.testenv import kube_config
from periph_env.testenv.state import STATE_DIR, run

pytestmark = [pytest.mark.docker, pytest.mark.registry, pytest.mark.k8s]

# Long-running processes the engines consist of (by their /proc comm name, 15 chars max).
ENGINE_PROCESSES = {
    "dockerd",
    "containerd",
    "docker-registry",
    "etcd",
    "kube-apiserver",
    "kube-controller",
    "kube-scheduler",
    "kwok-controller",
}


def engine_pids() -> dict[int, str]:
    """Every running engine process: pid -> name."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            name = (proc / "comm").read_text().strip()
        except OSError:
            continue
        if name in ENGINE_PROCESSES and _of_this_cluster(proc):
            found[int(proc.name)] = name
    return found


def _of_this_cluster(proc: Path) -> bool:
    """False for the processes of another kwok cluster (the chaos tier's, which runs
    beside this test and starts and kills its own API server)."""
    try:
        cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    if "/kwok/clusters/" not in cmdline:
        return True
    return f"/kwok/clusters/{kube_config.CLUSTER_NAME}/" in cmdline


def started_markers() -> dict[str, str]:
    """What the state dir records periph started: component -> pid."""
    return {p.stem: p.read_text().strip() for p in sorted(STATE_DIR.glob("*.started"))}


def run_up() -> list[str]:
    proc = run([sys.executable, "-m", "periph_env.testenv", "up"], timeout=3600)
    return proc.stderr.splitlines()


def test_second_up_reuses_everything_and_starts_nothing() -> None:
    run_up()
    pids, markers = engine_pids(), started_markers()

    second = run_up()

    component_lines = [line for line in second if not line.startswith("[testenv] up:")]
    assert component_lines, second
    assert all("reus" in line for line in component_lines), "\n".join(second)
    assert engine_pids() == pids
    assert started_markers() == markers
