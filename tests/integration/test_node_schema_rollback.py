"""Rollbacks that know the schema, on real pods and the database's real ``schema_migrations``.

One module-scoped release: a copy of the project built with ``periph build --pin demo``
(its backend image labelled with the migrations it carries) and deployed to a fresh
namespace on the real node. The tests then add a migration, rebuild the backend, deploy
(the migration Job applies it) and roll back, in file order:

1. an expand migration: the rollback goes ahead and says what stays applied;
2. a contract migration: the rollback is refused with exit 2 naming it, and nothing moves;
3. ``--force-schema``: the same rollback goes ahead, and the history records it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from periph_env.testenv import node
from tests.integration.real_demo_support import DemoProject, assert_no_secret

# The first test pays for five prod images built and deployed (minutes on a loaded machine).
pytestmark = [pytest.mark.node, pytest.mark.docker, pytest.mark.registry, pytest.mark.timeout(3600)]

DATABASE, DB_USER = "peripheral_app", "peripheral"  # from the demo env file (ENV_FILE)
EXPAND = "0005_schema_probe.sql"
CONTRACT = "0006_drop_schema_probe.sql"


@pytest.fixture(scope="module")
def release(
    real_node: node.NodeInfo, registry: Any, base_images: object, tmp_path_factory
) -> Iterator[DemoProject]:
    """The project copy after ``periph build --pin demo`` and ``periph deploy demo``."""
    project = DemoProject.create(tmp_path_factory.mktemp("schema"), real_node.cluster, registry)
    project.create_namespace(registry)
    try:
        started = time.monotonic()
        built = project.periph("build", "--pin", "demo", "-j", "1", timeout=1800)
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
        project.commit("pin the demo images")
        deployed = project.periph("deploy", "demo")
        assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-2000:]
        print(f"\nschema release: build+deploy {time.monotonic() - started:.1f}s")
        yield project
    finally:
        project.delete_namespace()


def release_with(project: DemoProject, name: str, sql: str) -> None:
    """Add migration ``name``, rebuild and pin the backend, deploy it (which applies it)."""
    folder = project.root / "services" / "db" / "migrations"
    (folder / name).write_text(sql)
    project.commit(f"migration {name}")
    started = time.monotonic()
    built = project.periph("build", "--pin", "demo", "backend", timeout=1800)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    project.commit(f"pin the backend carrying {name}")
    deployed = project.periph("deploy", "demo")
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-2000:]
    assert "this deploy carries every applied migration" in deployed.stdout
    print(f"\n{name}: build+deploy {time.monotonic() - started:.1f}s")


def applied(project: DemoProject) -> list[str]:
    """``schema_migrations`` as the database holds it."""
    out = project.kubectl(
        "exec", "db-0", "-c", "postgres", "--", "psql", "-tA", "-U", DB_USER, "-d", DATABASE,
        "-c", "SELECT name FROM schema_migrations ORDER BY version",
    )  # fmt: skip
    return out.stdout.split()


def test_a_rollback_across_an_expand_migration_goes_ahead_and_leaves_it_applied(release):
    project = release
    first = project.image("backend")
    release_with(
        project,
        EXPAND,
        "-- periph: expand\n-- A table the old code never reads.\n"
        "CREATE TABLE IF NOT EXISTS schema_probe (id bigint PRIMARY KEY, note text);\n",
    )
    assert EXPAND in applied(project)
    assert project.image("backend") != first

    rolled = project.periph("rollback", "demo")

    out = rolled.stdout + rolled.stderr
    assert rolled.returncode == 0, out[-3000:]
    assert f"leaves {EXPAND} (expand) applied" in rolled.stdout
    assert project.image("backend") == first
    assert EXPAND in applied(project)  # a rollback never touches the schema
    assert_no_secret(out)


def test_a_rollback_across_a_contract_migration_is_refused_with_exit_2_naming_it(release):
    project = release
    release_with(
        project,
        CONTRACT,
        "-- periph: contract\n-- The old code's table goes.\nDROP TABLE IF EXISTS schema_probe;\n",
    )
    newest = project.image("backend")
    assert CONTRACT in applied(project)

    refused = project.periph("rollback", "demo")

    out = refused.stdout + refused.stderr
    assert refused.returncode == 2, out[-3000:]
    assert CONTRACT in out and "contract" in out
    assert "--force-schema" in refused.stderr
    assert project.image("backend") == newest  # nothing moved
    assert_no_secret(out)


def test_force_schema_rolls_back_across_the_contract_migration_and_history_records_it(release):
    project = release

    forced = project.periph("rollback", "demo", "--force-schema")

    out = forced.stdout + forced.stderr
    assert forced.returncode == 0, out[-3000:]
    assert "--force-schema: going ahead across" in forced.stdout
    history = json.loads(project.periph("history", "demo", "--format", "json").stdout)
    newest = history[0]
    assert (newest["action"], newest["status"]) == ("rollback", "succeeded")
    assert newest["schema"]["contract"] == [CONTRACT] and newest["schema"]["forced"] is True
    assert EXPAND in newest["schema"]["left_applied"]
    shown = project.periph("history", "demo").stdout
    assert f"schema: left {EXPAND}, {CONTRACT} applied (--force-schema)" in shown
