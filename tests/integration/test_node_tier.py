"""The node tier as `periph testenv` runs it: idempotent, kept apart from kwok, and `down`
leaves the host as it found it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from periph_env.testenv import kube_config as kcfg
from periph_env.testenv import node, node_host
from periph_env.testenv import node_config as ncfg
from periph_env.testenv.state import Log, started_pid

pytestmark = pytest.mark.node


def pids() -> dict[str, int | None]:
    return {p: started_pid(f"node-{p}") for p in node.PROCESSES}


def test_second_up_reuses_every_process(real_node):
    before = pids()

    node.ensure(Log(stream=io.StringIO()))

    assert all(before.values())
    assert pids() == before


def test_status_names_the_running_node(real_node):
    assert node.status().startswith(f"running {ncfg.NODE_NAME} at {ncfg.NODE_IP}")


def test_the_real_node_runs_a_real_kubelet_and_kwok_keeps_its_fake_nodes(real_node):
    nodes = json.loads(real_node.cluster.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    versions = {n["metadata"]["name"]: n["status"]["nodeInfo"]["kubeletVersion"] for n in nodes}

    assert versions[ncfg.NODE_NAME] == kcfg.KUBE_VERSION
    assert all(versions[name].startswith("kwok") for name in kcfg.NODE_NAMES)


def test_simulated_workloads_never_land_on_the_real_node(real_node, kubectl, k8s_namespace):
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "sim"},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"app": "sim"}},
            "template": {
                "metadata": {"labels": {"app": "sim"}},
                "spec": {"containers": [{"name": "app", "image": "peripheral-backend:main"}]},
            },
        },
    }
    kubectl("apply", "-n", k8s_namespace, "-f", "-", input=yaml.safe_dump(deployment))
    kubectl("rollout", "status", "deployment/sim", "-n", k8s_namespace, "--timeout=120s")

    pods = json.loads(kubectl("get", "pods", "-n", k8s_namespace, "-o", "json").stdout)["items"]
    assert {p["spec"]["nodeName"] for p in pods} <= set(kcfg.NODE_NAMES)


def test_down_restores_the_host_and_up_brings_the_node_back(real_node):
    record = json.loads((ncfg.RUN_DIR / "host.json").read_text())
    recorded = record["sysctls"]

    node.stop(Log(stream=io.StringIO()))

    assert node_host.leftovers() == []
    assert {k: Path("/proc/sys", k).read_text().strip() for k in recorded} == recorded
    for directory in set(ncfg.HOST_DIRS) - set(record["host_dirs"]):
        assert not Path(directory).exists()
    assert node.status() == "not running"

    node.ensure(Log(stream=io.StringIO()))
    assert node.status().startswith("running")


def test_a_local_volume_made_anew_starts_empty(real_node):
    """`down` removes the PV objects, not their directories: a PV made again must not hand
    an old run's data (a Postgres data directory) to the next claim."""
    cluster = real_node.cluster
    listing = json.loads(
        cluster.kubectl("get", "pv", "-l", "periph.dev/local-pv=true", "-o", "json").stdout
    )["items"]
    free = next(pv for pv in listing if (pv.get("status") or {}).get("phase") == "Available")
    name, directory = free["metadata"]["name"], Path(free["spec"]["local"]["path"])
    cluster.kubectl("delete", "pv", name, "--wait=true", "--timeout=60s")
    (directory / "pgdata").mkdir(parents=True, exist_ok=True)
    (directory / "pgdata" / "PG_VERSION").write_text("15\n")

    node.recycle_local_volumes(cluster)

    again = json.loads(cluster.kubectl("get", "pv", name, "-o", "json").stdout)
    assert again["status"]["phase"] == "Available"
    assert directory.is_dir() and list(directory.iterdir()) == []
