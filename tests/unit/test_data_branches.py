"""Per-branch dev databases, the decisions (``periph_env.data.branches``) over a real git
checkout and a fake Postgres: when to tell, what the switch would save and under what
name. The switch itself runs on the real engine in tests/integration/test_db_branches.py."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from periph_env.data import branches

BASE = ["0001_strategies.sql", "0002_jobs.sql"]


class FakePg:
    """The queries ``branches`` makes: the owner comment, applied migrations, snapshots."""

    dev_db = "app"
    maintenance_db = "postgres"

    def __init__(self, owner: dict | None = None, applied=BASE, snapshots=()) -> None:
        self.comment = json.dumps(owner) if owner else ""
        self.applied = list(applied)
        self.snapshots = list(snapshots)  # database names, e.g. periph_snap_main
        self.ran: list[str] = []

    def query(self, sql: str, db: str | None = None) -> list[list[str]]:
        if "shobj_description" in sql and "LIKE" in sql:
            return [[name, "{}", "0"] for name in self.snapshots]
        if "shobj_description" in sql:
            return [[self.comment]]
        if "to_regclass" in sql:
            return [["yes"]]
        if "schema_migrations" in sql:
            return [[m] for m in self.applied]
        raise AssertionError(sql)

    def run(self, sql, db=None) -> str:
        self.ran.append(sql)
        return ""


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A repository on branch ``feature`` (0001, 0002, 0003), made from ``main`` (0001, 0002)."""
    folder = tmp_path / "services" / "db" / "migrations"
    folder.mkdir(parents=True)
    for name in BASE:
        (folder / name).write_text("-- m\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "main")
    git(tmp_path, "checkout", "-q", "-b", "feature")
    (folder / "0003_notes.sql").write_text("-- m\n")
    return tmp_path


def owned_by(branch: str, migrations=BASE) -> dict:
    return {branches.KEY: 1, "branch": branch, "migrations": list(migrations)}


def test_a_database_recorded_for_this_branch_needs_no_switch_and_keeps_its_record(checkout):
    pg = FakePg(owned_by("feature"))
    assert branches.plan(pg, checkout) is None
    assert branches.notice(pg, checkout) == []
    assert '"branch": "feature"' in pg.ran[-1]  # the record follows the checkout's files


def test_another_branch_with_other_migrations_is_told_with_the_difference(checkout):
    lines = branches.notice(FakePg(owned_by("main")), checkout)
    assert lines[0] == (
        "the dev database holds branch main's data; feature has other migrations (+0003_notes)"
    )
    assert "`periph db switch` (Stack area: m) keeps it as snapshot main" in lines[1]


def test_another_branch_with_the_same_migrations_is_not_worth_a_note(checkout):
    same = [*BASE, "0003_notes.sql"]
    pg = FakePg(owned_by("other", same))
    assert branches.plan(pg, checkout).differs is False
    assert branches.notice(pg, checkout) == []
    assert pg.ran == []  # and nothing is recorded over another branch's database


def test_an_unrecorded_database_with_foreign_migrations_is_the_previous_branchs(checkout):
    git(checkout, "checkout", "-q", "main")
    git(checkout, "checkout", "-q", "feature")
    pg = FakePg(applied=[*BASE, "0009_elsewhere.sql"])
    plan = branches.plan(pg, checkout)
    assert (plan.old, plan.new, plan.recorded) == ("main", "feature", False)
    assert plan.removed == ["0009_elsewhere.sql"]


def test_a_guessed_owner_never_overwrites_an_existing_snapshot_of_that_name():
    taken = FakePg(snapshots=["periph_snap_main"])
    name, replace = branches._save_name(taken, "main", recorded=False)
    assert name.startswith("main-") and not replace
    assert branches._save_name(taken, "main", recorded=True) == ("main", True)
