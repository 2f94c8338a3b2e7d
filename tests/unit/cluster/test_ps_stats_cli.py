"""``periph ps --cluster --stats``: CPU and MEM columns from one reading of the pods.

A project on disk with the cluster faked (``ClusterStack`` whose ``Kube`` answers recorded
kubelet Summary API JSON); on the real node: tests/integration/test_cluster_backend.py.
"""

from __future__ import annotations

import json
from typing import ClassVar

import pytest

from periph_env.cli import main
from periph_env.cluster import engine
from periph_env.cluster.engine import ServiceState
from tests.unit.cluster.test_pod_stats import (
    METRICS,
    SUMMARY,
    FakeKube,
    api_error,
    no_metrics,
    pod,
    summary,
    summary_pod,
)

NS = "peripheral-dev-ann"
PODS = f"/api/v1/namespaces/{NS}/pods"
STATES = [
    ServiceState("backend", "Deployment", True, "Ready", "backend-1", 0),
    ServiceState("migrate", "Job", True, "Completed", "migrate-q2", 0),
]


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "compose").mkdir()
    (tmp_path / "compose" / "compose.yaml").write_text("services:\n  backend:\n    image: b\n")
    (tmp_path / ".env.example").write_text("")
    (tmp_path / ".env").write_text("")
    (tmp_path / "periph.toml").write_text(
        '[dev.cluster]\ncontext = "dev"\nregistry = "reg:5000/dev"\nuser = "ann"\n'
    )
    for name in ("PERIPH_COMPOSE_FILE", "PERIPH_ENV_FILE", "PERIPH_DEV_CLUSTER_CONTEXT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PERIPH_PROJECT", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


class FakeClusterStack:
    """Ann's stack: ``STATES`` as ``ps()`` answers, its ``Kube`` answering ``ANSWERS``."""

    ANSWERS: ClassVar[dict] = {}

    def __init__(self, stack, settings, notice=None) -> None:
        self.stack, self.settings = stack, settings
        self.kube = FakeKube(self.ANSWERS)

    namespace = property(lambda self: self.settings.namespace)
    user = property(lambda self: self.settings.user)

    def ps(self):
        return list(STATES)


def measured(node_answer):
    return {
        PODS: {"items": [pod("backend-1", "backend")]},
        METRICS: no_metrics(),
        SUMMARY.format("node-a"): node_answer,
    }


@pytest.fixture
def cluster(monkeypatch):
    monkeypatch.setattr(engine, "ClusterStack", FakeClusterStack)
    return FakeClusterStack


def test_ps_cluster_stats_prints_cpu_and_mem_of_the_running_pods(
    project, cluster, monkeypatch, capsys
):
    reading = summary(summary_pod("backend-1", 3_163_150, 9_846_784))
    monkeypatch.setattr(cluster, "ANSWERS", measured(reading))
    assert main(["ps", "--cluster", "--stats"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[-2:] == ["CPU", "MEM"]
    assert lines[1].split()[0] == "backend" and lines[1].split()[-2:] == ["0.3%", "9M"]
    assert lines[2].split()[0] == "migrate" and lines[2].split()[-2:] == ["-", "-"]


def test_ps_cluster_stats_json_has_the_figures_and_null_for_a_finished_job(
    project, cluster, monkeypatch, capsys
):
    reading = summary(summary_pod("backend-1", 3_163_150, 9_846_784))
    monkeypatch.setattr(cluster, "ANSWERS", measured(reading))
    assert main(["ps", "--cluster", "--stats", "--format", "json"]) == 0
    objects = {o["service"]: o for o in json.loads(capsys.readouterr().out)}
    assert (objects["backend"]["cpu_percent"], objects["backend"]["mem_bytes"]) == (0.3, 9846784)
    assert objects["backend"]["mem_limit_bytes"] == 256 * 2**20
    assert objects["migrate"]["mem_bytes"] is None


def test_ps_cluster_stats_with_the_node_proxy_forbidden_shows_dashes_and_says_why(
    project, cluster, monkeypatch, capsys
):
    monkeypatch.setattr(cluster, "ANSWERS", measured(api_error(403, "Forbidden", "nodes/proxy")))
    assert main(["ps", "--cluster", "--stats"]) == 0
    out, err = capsys.readouterr()
    backend = next(line for line in out.splitlines() if line.startswith("backend"))
    assert backend.split()[-2:] == ["-", "-"]
    assert err.count("RBAC") == 1 and "node-a" in err and "Traceback" not in err


def test_plain_ps_cluster_reads_no_stats(project, cluster, monkeypatch, capsys):
    monkeypatch.setattr(cluster, "ANSWERS", {})  # any request would fail the test
    assert main(["ps", "--cluster"]) == 0
    assert "CPU" not in capsys.readouterr().out
