"""A dev database named ``postgres`` (``.env.example``'s ``POSTGRES_DB``) on a real Postgres:
snapshot, restore and a fresh database work, run from periph's own maintenance database
(no session can rename, copy or close the database it is on). The same on the real node's
db pod: test_cluster_dev_stack.py::test_db_switch_on_the_cluster_keeps_each_branchs_data.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from periph_env.data import snapshots
from periph_env.data.pg import MAINTENANCE_DB, Postgres
from tests.integration.stack_support import run, wait_until

pytestmark = [pytest.mark.docker]


@pytest.fixture(scope="module")
def container(docker_engine, base_images) -> Iterator[str]:
    """postgres:15 whose only database is ``postgres``, owned by the stack's user."""
    name = f"periphtest-pgname-{secrets.token_hex(4)}"
    env = ["POSTGRES_USER=peripheral", "POSTGRES_DB=postgres", "POSTGRES_PASSWORD=t-" + name]
    argv = ["docker", "run", "-d", "--name", name]
    for pair in env:
        argv += ["-e", pair]
    run([*argv, "postgres:15-bookworm"])
    try:

        def logs() -> str:
            out = run(["docker", "logs", name], check=False)
            return out.stdout + out.stderr

        wait_until(lambda: "init process complete" in logs(), "postgres's init", timeout=120)
        probe = ["docker", "exec", name, "pg_isready", "-U", "peripheral", "-d", "postgres"]
        wait_until(lambda: run(probe, check=False).returncode == 0, "postgres", timeout=120)
        yield name
    finally:
        run(["docker", "rm", "-f", name], check=False)


@pytest.fixture
def pg(container) -> Postgres:
    running = SimpleNamespace(service="db", state="running", container_id=container)
    stack = SimpleNamespace(
        ps=lambda: [running], api=SimpleNamespace(host=None), mask=lambda s: s, project="t"
    )
    return Postgres(stack)


def tables(pg: Postgres) -> list[str]:
    return [r[0] for r in pg.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]


def test_a_snapshot_of_a_dev_database_named_postgres_restores_its_data(pg, tmp_path: Path):
    with pg.session():
        pg.run("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before')")
        snapshots.snapshot(pg, tmp_path, "named-postgres")
        pg.run("DROP TABLE kept")
        snapshots.restore(pg, tmp_path, "named-postgres")
        assert pg.query("SELECT v FROM kept") == [["before"]]
        assert pg.dev_db == "postgres" and MAINTENANCE_DB in pg.databases()


def test_a_dev_database_named_postgres_can_be_made_fresh(pg):
    with pg.session():
        pg.run("CREATE TABLE IF NOT EXISTS doomed (v text)")
        snapshots.replace_dev(pg, None)
        assert "doomed" not in tables(pg) and pg.dev_db == "postgres"
