"""The real node's local PVs keep no data from a claim that is gone or a run that is over
(the PVs themselves on the real node: tests/integration/test_node_tier.py)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from periph_env.testenv import node_volumes
from periph_env.testenv.node_config import STORAGE_CLASS


def pv(i: int, phase: str, volumes: Path) -> dict:
    return {
        "metadata": {"name": f"{STORAGE_CLASS}-{i}"},
        "spec": {"local": {"path": str(volumes / f"pv-{i}")}},
        "status": {"phase": phase},
    }


def cluster_with(items: list[dict]):
    calls: list[tuple[str, ...]] = []

    def kubectl(*args: str):
        calls.append(args)
        return SimpleNamespace(stdout=json.dumps({"items": items}) if args[0] == "get" else "")

    return SimpleNamespace(kubectl=kubectl, calls=calls)


def stale(directory: Path) -> None:
    (directory / "pgdata").mkdir(parents=True)
    (directory / "pgdata" / "PG_VERSION").write_text("15\n")


def test_a_bound_volume_keeps_its_data_and_released_or_new_ones_start_empty(tmp_path):
    for i in range(3):
        stale(tmp_path / f"pv-{i}")
    cluster = cluster_with([pv(0, "Bound", tmp_path), pv(1, "Released", tmp_path)])

    node_volumes.prepare(cluster, tmp_path, count=3)

    assert (tmp_path / "pv-0" / "pgdata" / "PG_VERSION").exists()  # a claim uses it
    assert list((tmp_path / "pv-1").iterdir()) == []  # its claim is gone
    assert list((tmp_path / "pv-2").iterdir()) == []  # no PV yet: an old run's data
    assert ("delete", "pv", f"{STORAGE_CLASS}-1", "--wait=true", "--timeout=60s") in cluster.calls
