"""The weekly restore drill (CronJob ``db-restore-drill``) on the rendered overlays: it
restores what the backup wrote offsite, with the db image's own tools, and cannot touch
the live database (docs/k8s.md, "Restore drill")."""

from __future__ import annotations

import os
import re

from tests.unit.k8s.manifests import ROOT, Doc, one, pod_spec

SIZES = {"Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def _bytes(quantity: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi|Ti)", quantity).groups()
    return int(number) * SIZES[unit]


def _volumes(cron_job: Doc) -> dict[str, Doc]:
    return {v["name"]: v for v in pod_spec(cron_job)["volumes"]}


def _without_read_only(volume: Doc) -> Doc:
    return {k: {**s, "readOnly": None} if isinstance(s, dict) else s for k, s in volume.items()}


def test_the_drill_reads_the_very_volume_the_backup_writes_offsite(overlays, env) -> None:
    # An overlay that repoints the backup's offsite copy (NFS, another class) and not the
    # drill's would drill a stale or empty volume; compared without readOnly, which only
    # the drill sets.
    backup = _volumes(one(overlays[env], "CronJob", "db-backup"))["offsite"]
    drill = _volumes(one(overlays[env], "CronJob", "db-restore-drill"))["offsite"]
    assert _without_read_only(drill) == _without_read_only(backup)


def test_the_drill_mounts_the_offsite_copy_read_only(overlays, env) -> None:
    spec = pod_spec(one(overlays[env], "CronJob", "db-restore-drill"))
    restore = next(c for c in spec["initContainers"] if c["name"] == "restore")
    mounts = {m["name"]: m for m in restore["volumeMounts"]}
    assert mounts["offsite"].get("readOnly") is True
    assert (
        _volumes(one(overlays[env], "CronJob", "db-restore-drill"))["offsite"][
            "persistentVolumeClaim"
        ].get("readOnly")
        is True
    )


def test_the_drill_runs_the_db_images_drill_and_the_backups_report(overlays, env) -> None:
    spec = pod_spec(one(overlays[env], "CronJob", "db-restore-drill"))
    restore = next(c for c in spec["initContainers"] if c["name"] == "restore")
    backup = pod_spec(one(overlays[env], "CronJob", "db-backup"))
    dump = next(c for c in backup["initContainers"] if c["name"] == "pg-dump")
    assert restore["image"] == dump["image"]  # same Postgres major, same TimescaleDB
    assert restore["command"][0] == "peripheral-restore-drill"
    assert [c["command"][:3] for c in spec["containers"]] == [
        ["python", "-m", "peripheral_worker.backup_report"]
    ]


def test_the_drill_never_connects_to_the_live_database(overlays, env) -> None:
    spec = pod_spec(one(overlays[env], "CronJob", "db-restore-drill"))
    names = {
        e["name"] for c in spec["initContainers"] + spec["containers"] for e in c.get("env", [])
    }
    assert not names & {"PGHOST", "PGPASSWORD", "DB_PASSWORD", "PGUSER"}


def test_the_scratch_space_holds_a_database_as_large_as_the_live_claim(overlays, env) -> None:
    scratch = _volumes(one(overlays[env], "CronJob", "db-restore-drill"))["scratch"]["emptyDir"]
    db = one(overlays[env], "StatefulSet", "db")
    claim = db["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
    assert _bytes(scratch["sizeLimit"]) >= _bytes(claim)


def test_the_db_image_ships_the_restore_tools_executable() -> None:
    bin_dir = ROOT / "services" / "db" / "bin"
    for tool in ("peripheral-restore", "peripheral-restore-drill"):
        assert os.access(bin_dir / tool, os.X_OK), tool
    assert "!bin/" in (ROOT / "services" / "db" / ".dockerignore").read_text().splitlines()
