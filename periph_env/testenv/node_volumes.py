"""The real node's local PersistentVolumes: directories under the node's state directory,
one per PV (``node_config.storage_documents``), kept clean between claims.

Their reclaim policy is Retain (no provisioner could delete them), so a PV whose claim is
gone is deleted, emptied and made again here; and a PV about to be made (none of that name
exists) gets an empty directory: ``testenv down`` removes the objects, not the
directories, and a new namespace's database must never start on an old run's data.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from periph_env.testenv import node_config as ncfg


def recycle_released(cluster: Any) -> set[str]:
    """Delete and empty the local PVs whose claim is gone (Released, Failed); the names of
    the local PVs left in place."""
    out = cluster.kubectl("get", "pv", "-l", "periph.dev/local-pv=true", "-o", "json").stdout
    items = json.loads(out).get("items", [])
    done = {
        pv["metadata"]["name"]: Path(pv["spec"]["local"]["path"])
        for pv in items
        if (pv.get("status") or {}).get("phase") in ("Released", "Failed")
    }
    if done:
        cluster.kubectl("delete", "pv", *done, "--wait=true", "--timeout=60s")
        for directory in done.values():
            shutil.rmtree(directory, ignore_errors=True)
    return {pv["metadata"]["name"] for pv in items} - set(done)


def prepare(cluster: Any, volumes: Path, count: int = ncfg.LOCAL_VOLUMES) -> None:
    """Recycle released PVs, then give every PV that is about to be made an empty
    directory (the PVs that stay keep theirs: a claim may be using it)."""
    kept = recycle_released(cluster)
    for i in range(count):
        directory = volumes / f"pv-{i}"
        if f"{ncfg.STORAGE_CLASS}-{i}" not in kept:
            shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True, exist_ok=True)
