"""The db image's restore tools on a real Postgres: ``peripheral-restore-drill`` (what the
``db-restore-drill`` CronJob runs) and ``peripheral-restore``'s TimescaleDB sequence.

Dumps are taken with ``pg_dump --format=custom`` from a running container of the image,
as the backup CronJob takes them, and named as it names them. The drill then runs in a
separate container the way Kubernetes runs it: uid 999, read-only root filesystem, the
dumps mounted read-only, a writable scratch directory. The offline environment has no
TimescaleDB, so its sequence is checked against the test-only ``timescaledb`` extension of
``test_db_timescale_path.py``, extended with pre/post restore functions that record their
calls.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.stack_support import SERVICES, run, wait_until
from tests.integration.test_db_timescale_path import CONTROL, EXTENSION_DIR, SCRIPT

pytestmark = [pytest.mark.docker]

DB_IMAGE = "peripheral-db:restore-test"
STUB_BASE = "periph-test/timescale-restore-stub:15"
STUB_IMAGE = "peripheral-db:restore-stub"
APP, DATABASE = "peripheral", "peripheral_app"
RESTORE_CALLS = """CREATE TABLE public.stub_restore_calls (n serial, call text);
CREATE FUNCTION public.timescaledb_pre_restore() RETURNS boolean LANGUAGE sql
AS $$ INSERT INTO public.stub_restore_calls (call) VALUES ('pre') RETURNING true $$;
CREATE FUNCTION public.timescaledb_post_restore() RETURNS boolean LANGUAGE sql
AS $$ INSERT INTO public.stub_restore_calls (call) VALUES ('post') RETURNING true $$;
"""


def start(image: str, *env: str) -> str:
    """A running container of ``image`` accepting connections over TCP; its name."""
    name = f"periphtest-restore-{secrets.token_hex(4)}"
    password = f"test-only-{secrets.token_hex(8)}"
    argv = ["docker", "run", "-d", "--name", name, "--user", "999:999", "-e", "DB_PASSWORD"]
    for pair in env:
        argv += ["-e", pair]
    run([*argv, image], env={**os.environ, "DB_PASSWORD": password})
    probe = ["pg_isready", "-h", "127.0.0.1", "-d", "postgres"]
    wait_until(
        lambda: run(["docker", "exec", name, *probe], check=False).returncode == 0,
        "postgres to accept connections",
        timeout=120,
    )
    return name


def sql(container: str, user: str, database: str, text: str) -> str:
    """psql over the container's socket (trusted) as ``user``, stopping at the first error."""
    argv = ["docker", "exec", container, "psql", "-X", "-v", "ON_ERROR_STOP=1", "-qAt"]
    return run([*argv, "-U", user, "-d", database, "-c", text]).stdout.strip()


# What `backend migrate` records (services/backend/internal/migrate/migrate.go).
SCHEMA_MIGRATIONS = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now())"""


def migrate(container: str, user: str, database: str) -> None:
    """The migrations applied and recorded as ``backend migrate`` does."""
    sql(container, user, database, SCHEMA_MIGRATIONS)
    for path in sorted((SERVICES / "db" / "migrations").glob("*.sql")):
        sql(container, user, database, f"\\i /migrations/{path.name}")
        version = int(path.name.split("_", 1)[0])
        record = f"INSERT INTO schema_migrations VALUES ({version}, '{path.name}', 'test')"
        sql(container, user, database, record)


def dump(container: str, user: str, database: str, target: Path) -> Path:
    """``pg_dump --format=custom`` of ``database`` into ``target`` (readable by uid 999)."""
    argv = ["docker", "exec", container, "pg_dump", "--format=custom", "-U", user, database]
    target.write_bytes(subprocess.run(argv, capture_output=True, check=True).stdout)
    target.chmod(0o644)
    return target


@pytest.fixture(scope="module")
def images(docker_engine, base_images, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """services/db on plain Postgres, and on a base with the recording timescaledb stub."""
    context = tmp_path_factory.mktemp("restore-stub")
    (context / "timescaledb.control").write_text(CONTROL)
    (context / "timescaledb--0.0.1.sql").write_text(SCRIPT + RESTORE_CALLS)
    (context / "Dockerfile").write_text(
        "FROM postgres:15-bookworm\n"
        f"COPY timescaledb.control timescaledb--0.0.1.sql {EXTENSION_DIR}/\n"
    )
    run(["docker", "build", "-q", "-t", STUB_BASE, str(context)], timeout=300)
    run(["docker", "build", "-q", "-t", DB_IMAGE, str(SERVICES / "db")], timeout=300)
    stub = ["--build-arg", f"DB_BASE_IMAGE={STUB_BASE}"]
    run(["docker", "build", "-q", "-t", STUB_IMAGE, *stub, str(SERVICES / "db")], timeout=300)
    try:
        yield
    finally:
        run(["docker", "rmi", "-f", DB_IMAGE, STUB_IMAGE, STUB_BASE], check=False)


@pytest.fixture(scope="module")
def offsite(images, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Two nightly dumps of the app database: the older with no strategy, the newer with
    one; plus, in the same folder, a partial copy that must be ignored."""
    folder = tmp_path_factory.mktemp("offsite")
    folder.chmod(0o755)
    name = start(DB_IMAGE, "DB_ADMIN_USER=postgres", f"DB_USER={APP}", f"POSTGRES_DB={DATABASE}")
    try:
        migrate(name, APP, DATABASE)
        dump(name, APP, DATABASE, folder / f"{DATABASE}-20261201T031700Z.dump")
        sql(name, APP, DATABASE, "INSERT INTO strategies (name, symbol) VALUES ('kept', 'SPY')")
        dump(name, APP, DATABASE, folder / f"{DATABASE}-20261202T031700Z.dump")
        (folder / f"{DATABASE}-20261203T031700Z.dump.partial").write_bytes(b"cut short")
        yield folder
    finally:
        run(["docker", "rm", "-f", name], check=False)


def drill(folder: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    """The drill as the CronJob runs it; (the process, the status file it wrote)."""
    status = tmp_path / "status"
    status.mkdir()
    status.chmod(0o777)
    argv = [
        "docker", "run", "--rm", "--user", "999:999", "--read-only", "--network", "none",
        "--tmpfs", "/scratch:rw,exec,mode=1777", "-e", "SCRATCH=/scratch", "-e", "TMPDIR=/scratch",
        "-v", f"{folder}:/offsite:ro", "-v", f"{status}:/status",
        "--entrypoint", "peripheral-restore-drill", DB_IMAGE, "/offsite", "/status/result",
    ]  # fmt: skip
    proc = run(argv, check=False, timeout=300)
    result = status / "result"
    return proc, result.read_text().strip() if result.exists() else ""


def test_the_drill_restores_the_newest_dump_into_a_scratch_database_and_reports_it(
    offsite: Path, tmp_path: Path
) -> None:
    proc, result = drill(offsite, tmp_path)
    assert proc.returncode == 0, proc.stderr
    latest = sorted(p.name for p in (SERVICES / "db" / "migrations").glob("*.sql"))[-1]
    version = int(latest.split("_", 1)[0])
    assert result == (
        f"ok: restore drill of {DATABASE}-20261202T031700Z.dump: "
        f"schema version {version}, 4 tables, 1 strategies"
    )


def test_the_drill_reports_a_failure_when_there_is_no_dump(images, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    empty.chmod(0o755)
    proc, result = drill(empty, tmp_path)
    assert proc.returncode == 0  # the report container fails the Job, not this step
    assert result == "failed: restore drill: no dump in /offsite"


def test_the_drill_reports_a_dump_that_does_not_restore(images, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    broken.chmod(0o755)
    (broken / f"{DATABASE}-20261204T031700Z.dump").write_bytes(b"PGDMP but not really")
    (broken / f"{DATABASE}-20261204T031700Z.dump").chmod(0o644)
    _, result = drill(broken, tmp_path)
    assert result.startswith(
        f"failed: restore drill: restoring {DATABASE}-20261204T031700Z.dump: "
    ), result


@pytest.fixture(scope="module")
def timescale_dump(images) -> Iterator[str]:
    """A container of the stub image whose app database has the extension and a strategy,
    and a custom-format dump of it at /tmp/app.dump inside the container."""
    name = start(STUB_IMAGE, "POSTGRES_USER=postgres", "POSTGRES_DB=app")
    try:
        migrate(name, "postgres", "app")
        sql(name, "postgres", "app", "INSERT INTO strategies (name, symbol) VALUES ('ts', 'SPY')")
        script = "pg_dump --format=custom -U postgres app > /tmp/app.dump"
        run(["docker", "exec", name, "sh", "-c", script])
        sql(name, "postgres", "postgres", "CREATE DATABASE restored")
        sql(name, "postgres", "postgres", "CREATE ROLE appuser LOGIN")
        yield name
    finally:
        run(["docker", "rm", "-f", name], check=False)


def test_restoring_a_timescaledb_dump_calls_pre_restore_then_post_restore(
    timescale_dump: str,
) -> None:
    env = ["-e", "PGUSER=postgres", "-e", "PGDATABASE=restored"]
    restored = run(
        ["docker", "exec", *env, timescale_dump, "peripheral-restore", "/tmp/app.dump"],
        check=False,
    )
    assert restored.returncode == 0, restored.stderr
    assert "TimescaleDB: pre/post restore" in restored.stdout
    calls = "SELECT string_agg(call, ',' ORDER BY n) FROM stub_restore_calls"
    assert sql(timescale_dump, "postgres", "restored", calls) == "pre,post"
    assert sql(timescale_dump, "postgres", "restored", "SELECT name FROM strategies") == "ts"


def test_restoring_a_timescaledb_dump_as_an_ordinary_role_is_refused_with_the_way_out(
    timescale_dump: str,
) -> None:
    env = ["-e", "PGUSER=appuser", "-e", "PGDATABASE=restored"]
    refused = run(
        ["docker", "exec", *env, timescale_dump, "peripheral-restore", "/tmp/app.dump"],
        check=False,
    )
    assert refused.returncode == 1
    assert "holds TimescaleDB; restore it as the superuser" in refused.stderr


def test_restore_without_a_readable_dump_is_a_usage_error(images) -> None:
    argv = ["docker", "run", "--rm", "--entrypoint", "peripheral-restore", DB_IMAGE, "/nope"]
    proc = run(argv, check=False)
    assert proc.returncode == 2
    assert "usage: peripheral-restore DUMP" in proc.stderr
