"""The db image's least privilege on a real Postgres: an admin superuser apart from the
app's ordinary role, the app password rotated in SQL, and migration 0004 refusing a plain
table where TimescaleDB is required (docs/k8s.md, docs/deploy-runbook.md).

The container runs as Kubernetes runs it (``DB_ADMIN_USER`` set, uid 999). Passwords are
checked over the container's own network address: the image trusts 127.0.0.1 and the
socket (the admin's way in through ``kubectl exec``), so only that path asks for them.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator

import pytest

from tests.integration.stack_support import SERVICES, run, wait_until

pytestmark = [pytest.mark.docker]

DB_IMAGE = "peripheral-db:roles-test"
APP, DATABASE, ADMIN = "peripheral", "peripheral_app", "postgres"


@pytest.fixture(scope="module")
def passwords() -> dict[str, str]:
    """Test-only passwords, fresh per run."""
    return {"app": f"app-{secrets.token_hex(8)}", "admin": f"admin-{secrets.token_hex(8)}"}


@pytest.fixture(scope="module")
def database(docker_engine, base_images, passwords: dict[str, str]) -> Iterator[str]:
    """services/db built and started with the app and admin split, accepting connections."""
    run(["docker", "build", "-q", "-t", DB_IMAGE, str(SERVICES / "db")], timeout=300)
    name = f"periphtest-roles-{secrets.token_hex(4)}"
    run(
        [
            "docker", "run", "-d", "--name", name, "--user", "999:999",
            "-e", f"DB_ADMIN_USER={ADMIN}", "-e", "DB_ADMIN_PASSWORD",
            "-e", f"DB_USER={APP}", "-e", "DB_PASSWORD", "-e", f"POSTGRES_DB={DATABASE}",
            DB_IMAGE,
        ],
        # Through the environment, not the command line (ps would show it).
        env={**os.environ, "DB_PASSWORD": passwords["app"],
             "DB_ADMIN_PASSWORD": passwords["admin"]},
    )  # fmt: skip

    def ready() -> bool:
        probe = ["pg_isready", "-h", "127.0.0.1", "-U", APP, "-d", DATABASE]
        return run(["docker", "exec", name, *probe], check=False).returncode == 0

    try:
        wait_until(ready, "postgres to accept connections", timeout=120)
        yield name
    finally:
        run(["docker", "rm", "-f", name], check=False)
        run(["docker", "rmi", "-f", DB_IMAGE], check=False)


def psql(
    container: str, user: str, password: str | None, sql: str, *, options: str = ""
) -> subprocess.CompletedProcess[str]:
    """psql in the container as ``user``: over its network address with ``password``, or
    over the local socket (trusted, the admin's way in) when ``password`` is None."""
    env = {**os.environ, "PGPASSWORD": password or "", "PGOPTIONS": options}
    host = [] if password is None else ["-h", _address(container)]
    argv = ["docker", "exec", "-e", "PGPASSWORD", "-e", "PGOPTIONS", container, "psql", *host]
    return run(
        [*argv, "-U", user, "-d", DATABASE, "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
        env=env,
        check=False,
    )


def _address(container: str) -> str:
    fmt = "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"
    return run(["docker", "inspect", "-f", fmt, container]).stdout.strip()


def test_the_app_role_is_an_ordinary_role_owning_its_database(
    database: str, passwords: dict[str, str]
) -> None:
    sql = (
        "SELECT rolsuper, rolcreatedb, rolcreaterole, "
        "pg_get_userbyid((SELECT datdba FROM pg_database WHERE datname = current_database())) "
        "FROM pg_roles WHERE rolname = current_user"
    )
    result = psql(database, APP, passwords["app"], sql)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"f|f|f|{APP}"


def test_the_app_role_runs_the_migrations(database: str, passwords: dict[str, str]) -> None:
    for path in sorted((SERVICES / "db" / "migrations").glob("*.sql")):
        applied = psql(database, APP, passwords["app"], f"\\i /migrations/{path.name}")
        assert applied.returncode == 0, f"{path.name}: {applied.stderr}"


def test_the_app_role_cannot_do_what_only_an_admin_may(
    database: str, passwords: dict[str, str]
) -> None:
    for sql in (
        "CREATE ROLE intruder",
        "CREATE DATABASE other",
        "ALTER SYSTEM SET work_mem = '1GB'",
    ):
        refused = psql(database, APP, passwords["app"], sql)
        assert refused.returncode != 0, sql
        assert "permission denied" in refused.stderr or "must be" in refused.stderr, sql


def test_the_superuser_logs_in_with_its_own_password_only(
    database: str, passwords: dict[str, str]
) -> None:
    assert psql(database, ADMIN, passwords["admin"], "SELECT 1").stdout.strip() == "1"
    assert psql(database, ADMIN, passwords["app"], "SELECT 1").returncode != 0


def test_rotating_the_app_password_in_sql_takes_effect_without_a_restart(
    database: str, passwords: dict[str, str]
) -> None:
    new = f"app-{secrets.token_hex(8)}"
    started = run(["docker", "inspect", "-f", "{{.State.StartedAt}}", database]).stdout
    rotated = psql(database, ADMIN, None, f"ALTER ROLE {APP} PASSWORD '{new}'")
    assert rotated.returncode == 0, rotated.stderr
    assert psql(database, APP, passwords["app"], "SELECT 1").returncode != 0
    assert psql(database, APP, new, "SELECT 1").stdout.strip() == "1"
    assert run(["docker", "inspect", "-f", "{{.State.StartedAt}}", database]).stdout == started
    passwords["app"] = new


def test_migration_0004_refuses_a_plain_table_where_timescaledb_is_required(
    database: str, passwords: dict[str, str]
) -> None:
    check = "\\i /migrations/0004_require_timescaledb.sql"
    required = psql(
        database, APP, passwords["app"], check, options="-c peripheral.require_timescaledb=on"
    )
    assert required.returncode != 0
    assert "TimescaleDB is required here" in required.stderr
    assert psql(database, APP, passwords["app"], check).returncode == 0
