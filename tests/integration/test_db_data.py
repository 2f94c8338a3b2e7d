"""``periph db`` and ``periph exec`` on the real compose dev stack (issue 24, dev data).

One stack for the module (a unique project; db, cache, migrate, backend and worker: the
frontend plays no part in dev data), torn down with its volumes. The CLI runs as a user
runs it, from the repository, pointed at the project by ``COMPOSE_PROJECT_NAME`` and
``PERIPH_ENV_FILE``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from tests.integration.stack_support import (
    REPO,
    Compose,
    running_stack,
    wait_until,
)

pytestmark = [pytest.mark.docker, pytest.mark.stack, pytest.mark.timeout(900)]

SERVICES = ("db", "cache", "migrate", "backend", "worker")


@pytest.fixture(scope="module")
def stack(docker_engine, compose_v2, base_images, tmp_path_factory):
    """The stack without its frontend, up and healthy, removed afterwards."""
    with running_stack(tmp_path_factory.mktemp("dbdata"), "dbdata", SERVICES) as compose:
        yield compose


def periph(stack: Compose, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """The periph CLI against the test stack; no output may carry a secret value."""
    env = {
        **stack.env,
        "COMPOSE_PROJECT_NAME": stack.project,
        "PERIPH_ENV_FILE": str(stack.env_file),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "periph_env", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    for key in ("DB_PASSWORD", "REDIS_PASSWORD", "JWT_SECRET"):
        assert stack.values[key] not in proc.stdout + proc.stderr, key
    return proc


def ok(stack: Compose, *args: str) -> subprocess.CompletedProcess:
    proc = periph(stack, *args)
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc


def sql(stack: Compose, query: str) -> str:
    """One query's unaligned output, through `periph exec db psql`."""
    return ok(
        stack, "exec", "db", "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", query
    ).stdout.strip()


def strategies_from_api(stack: Compose) -> list[dict] | None:
    """GET /api/strategies, or None while the backend is (re)connecting."""
    try:
        r = httpx.get(stack.url("PERIPH_BACKEND_PORT", "/api/strategies"), timeout=5)
    except httpx.HTTPError:
        return None
    if r.status_code != 200:
        return None
    body = r.json()
    return body if isinstance(body, list) else body.get("strategies")


@pytest.fixture
def clean_snapshots(stack):
    """No snapshots before or after a test."""

    def wipe():
        for snap in json.loads(ok(stack, "db", "list", "--format", "json").stdout):
            ok(stack, "db", "rm", snap["name"])

    wipe()
    yield
    wipe()


def test_exec_db_psql_runs_a_query_as_the_stack_user(stack):
    proc = ok(stack, "exec", "db", "psql", "-At", "-c", "select 1")
    assert proc.stdout.strip() == "1"


def test_exec_passes_the_command_exit_code_through(stack):
    assert periph(stack, "exec", "db", "sh", "-c", "exit 7").returncode == 7


def test_exec_masks_a_secret_the_command_prints(stack):
    proc = ok(stack, "exec", "db", "sh", "-c", 'echo "password=$POSTGRES_PASSWORD"')
    assert "password=" in proc.stdout  # periph() asserted the value itself is not there


def test_exec_cache_opens_redis_cli_authenticated(stack):
    assert ok(stack, "exec", "cache", "redis-cli", "ping").stdout.strip() == "PONG"


def test_exec_of_an_unknown_service_is_a_usage_error(stack):
    proc = periph(stack, "exec", "nosuch")
    assert proc.returncode == 2
    assert "unknown service 'nosuch'" in proc.stderr


def test_snapshot_then_change_then_restore_brings_the_data_back(stack, clean_snapshots):
    ok(stack, "db", "reset")
    before = sql(stack, "select count(*) from strategies")
    ok(stack, "db", "snapshot", "before-change")
    sql(stack, "delete from strategies")
    assert sql(stack, "select count(*) from strategies") == "0"

    proc = ok(stack, "db", "restore", "before-change")

    assert "restored from snapshot before-change" in proc.stderr
    assert sql(stack, "select count(*) from strategies") == before != "0"
    # The database settings a template copy does not carry are kept.
    assert sql(stack, "show timezone") == "UTC"
    # The backend reconnects by itself and serves the restored rows.
    api = wait_until(lambda: strategies_from_api(stack), "the backend to list strategies")
    assert len(api) == int(before)


def test_list_shows_name_branch_migrations_and_size(stack, clean_snapshots):
    ok(stack, "db", "snapshot", "listed")
    [snap] = json.loads(ok(stack, "db", "list", "--format", "json").stdout)
    assert snap["name"] == "listed"
    assert snap["created"].endswith("+00:00")
    assert snap["branch"]
    assert snap["migrations"][0] == "0001_strategies.sql"
    assert snap["size_bytes"] > 0
    text = ok(stack, "db", "list").stdout
    assert text.splitlines()[0].split() == [
        "NAME",
        "CREATED",
        "BRANCH",
        "LAST",
        "MIGRATION",
        "SIZE",
    ]
    assert "listed" in text


def test_snapshot_of_an_existing_name_needs_replace(stack, clean_snapshots):
    ok(stack, "db", "snapshot", "twice")
    proc = periph(stack, "db", "snapshot", "twice")
    assert proc.returncode == 1
    assert "a snapshot named 'twice' exists" in proc.stderr and "--replace" in proc.stderr
    ok(stack, "db", "snapshot", "twice", "--replace")


def test_rm_of_an_unknown_snapshot_is_exit_1_naming_it(stack, clean_snapshots):
    proc = periph(stack, "db", "rm", "nosuch")
    assert proc.returncode == 1
    assert "no snapshot named 'nosuch'" in proc.stderr


def test_restore_is_refused_for_a_snapshot_with_a_migration_the_checkout_lacks(
    stack, clean_snapshots
):
    # A migration applied on another branch: in the database, not in this checkout.
    sql(
        stack,
        "insert into schema_migrations (version, name, checksum) "
        "values (99, '0099_other_branch.sql', 'x')",
    )
    try:
        ok(stack, "db", "snapshot", "other-branch")
    finally:
        sql(stack, "delete from schema_migrations where version = 99")

    refused = periph(stack, "db", "restore", "other-branch")

    assert refused.returncode == 2
    assert "0099_other_branch" in refused.stderr and "--force" in refused.stderr
    assert sql(stack, "select count(*) from schema_migrations where version = 99") == "0"
    ok(stack, "db", "restore", "other-branch", "--force")
    assert sql(stack, "select count(*) from schema_migrations where version = 99") == "1"
    ok(stack, "db", "reset")  # leave a database this checkout knows


def test_status_and_up_say_when_the_database_has_a_migration_the_checkout_lacks(stack):
    sql(
        stack,
        "insert into schema_migrations (version, name, checksum) "
        "values (98, '0098_feature_x.sql', 'x')",
    )
    try:
        status = ok(stack, "db", "status")
        up = ok(stack, "up", "db")
    finally:
        sql(stack, "delete from schema_migrations where version = 98")
    for out in (status.stdout, up.stderr):
        assert "the database has 0098_feature_x which this checkout does not have" in out
        assert "`periph db switch`" in out  # keeps it as a snapshot, this branch's back
    assert "in step with this checkout" in ok(stack, "db", "status").stdout


def test_reset_and_seed_give_a_stack_that_runs_a_backtest_on_seeded_data(stack):
    proc = ok(stack, "db", "reset")
    assert "24 strategies, 72 jobs" in proc.stderr

    seeded = wait_until(lambda: strategies_from_api(stack), "the backend to list strategies")
    assert len(seeded) == 24
    # A new backtest job for a seeded strategy, enqueued as the backend does it.
    sid = sql(stack, "select id from strategies where symbol = 'SPY' order by id limit 1")
    job = sql(stack, f"insert into jobs (strategy_id) values ({sid}) returning id")
    ok(
        stack,
        "exec",
        "cache",
        "redis-cli",
        "XADD",
        "peripheral:jobs",
        "*",
        "job_id",
        job,
        "strategy_id",
        sid,
    )
    wait_until(
        lambda: sql(stack, f"select status from jobs where id = {job}") == "done",
        "the worker to finish the backtest of a seeded strategy",
        timeout=120,
    )
    assert sql(stack, f"select count(*) from job_results where job_id = {job}") == "1"


def test_seed_refuses_a_database_that_has_strategies(stack):
    ok(stack, "db", "reset")
    proc = periph(stack, "db", "seed")
    assert proc.returncode == 1
    assert "already has strategies" in proc.stderr and "periph db reset" in proc.stderr


def test_db_commands_say_when_the_db_service_is_not_running(stack):
    stack("stop", "db")
    try:
        proc = periph(stack, "db", "list")
    finally:
        stack("start", "db")
        wait_until(
            lambda: periph(stack, "exec", "db", "pg_isready", "-q").returncode == 0,
            "db to accept connections again",
        )
    assert proc.returncode == 1
    assert "the db service" in proc.stderr and "periph up db" in proc.stderr


DEAD_PID = 4194399  # above Linux's largest pid_max: no such process, ever


def admin(stack: Compose, *statements: str) -> None:
    """Statements in the ``postgres`` database, each its own transaction."""
    args = ["exec", "db", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "postgres"]
    for statement in statements:
        args += ["-c", statement]
    ok(stack, *args)


def test_a_restore_killed_before_its_copy_is_put_back_by_cleanup(stack, clean_snapshots):
    dev = sql(stack, "select current_database()")
    ok(stack, "db", "reset")
    before = sql(stack, "select count(*) from strategies")
    # What `kill -9` between restore's rename and its copy leaves: the dev database
    # renamed aside (connections off), no dev database, and a snapshot copy half made.
    admin(
        stack,
        f'ALTER DATABASE "{dev}" ALLOW_CONNECTIONS false',
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{dev}'",
        "SELECT pg_sleep(0.5)",
        f'ALTER DATABASE "{dev}" RENAME TO periph_old_{DEAD_PID}',
        f"CREATE DATABASE periph_tmp_{DEAD_PID}",
    )
    broken = periph(stack, "db", "list")
    assert broken.returncode == 1
    assert "`periph db cleanup` puts the dev database back" in broken.stderr

    proc = ok(stack, "db", "cleanup")

    assert f"periph_old_{DEAD_PID} renamed back to {dev}" in proc.stderr
    assert f"periph_tmp_{DEAD_PID} dropped (an unfinished snapshot copy)" in proc.stderr
    assert sql(stack, "select count(*) from strategies") == before != "0"
    assert "leftover" not in ok(stack, "db", "list").stderr
    wait_until(lambda: strategies_from_api(stack), "the backend to list strategies again")


def test_list_shows_what_a_killed_restore_left_and_cleanup_drops_it(stack, clean_snapshots):
    admin(stack, f"CREATE DATABASE periph_old_{DEAD_PID}")

    listed = ok(stack, "db", "list", "--format", "json")

    assert json.loads(listed.stdout) == []  # the JSON keeps its shape
    assert f"leftover periph_old_{DEAD_PID}" in listed.stderr
    assert "`periph db cleanup` removes it" in listed.stderr
    assert f"periph_old_{DEAD_PID} dropped" in ok(stack, "db", "cleanup").stderr
    assert "periph_old" not in sql(stack, "select string_agg(datname, ',') from pg_database")
    assert "nothing left over" in ok(stack, "db", "cleanup").stderr
