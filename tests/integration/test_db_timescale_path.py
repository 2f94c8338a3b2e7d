"""The db image's base is a build argument, and the migrations' TimescaleDB path runs
wherever the extension exists.

The offline test environment has no TimescaleDB (docs/testing.md), so the test builds a
base that has *an* extension named ``timescaledb``: the plain Postgres stand-in plus a
test-only ``timescaledb`` extension whose ``create_hypertable`` records its arguments.
services/db is then built on that base through ``DB_BASE_IMAGE`` (as the prod build
passes a real TimescaleDB image), initdb and the migrations run for real, and the test
reads back that job_results was turned into a hypertable on computed_at. The plain path
(no extension: an ordinary table) is what every stack test runs.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.stack_support import SERVICES, run, wait_until

pytestmark = [pytest.mark.docker]

STUB_BASE = "periph-test/timescale-stub:15"
DB_IMAGE = "peripheral-db:timescale-stub"
# Debian's postgresql-15 keeps extensions here (the stand-in installs that package).
EXTENSION_DIR = "/usr/share/postgresql/15/extension"
CONTROL = """comment = 'test-only stand-in for timescaledb: records create_hypertable calls'
default_version = '0.0.1'
relocatable = false
schema = public
"""
SCRIPT = """CREATE TABLE public.stub_hypertables (relation regclass, time_column name);
CREATE FUNCTION public.create_hypertable(
    relation regclass, time_column_name name, if_not_exists boolean DEFAULT false
) RETURNS void LANGUAGE sql
AS $$ INSERT INTO public.stub_hypertables VALUES (relation, time_column_name) $$;
"""


@pytest.fixture(scope="module")
def db_image(docker_engine, base_images, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """services/db built FROM a base that provides a ``timescaledb`` extension."""
    context: Path = tmp_path_factory.mktemp("timescale-stub")
    (context / "timescaledb.control").write_text(CONTROL)
    (context / "timescaledb--0.0.1.sql").write_text(SCRIPT)
    (context / "Dockerfile").write_text(
        "FROM postgres:15-bookworm\n"
        f"COPY timescaledb.control timescaledb--0.0.1.sql {EXTENSION_DIR}/\n"
    )
    run(["docker", "build", "-q", "-t", STUB_BASE, str(context)], timeout=300)
    run(
        [
            "docker", "build", "-q", "-t", DB_IMAGE,
            "--build-arg", f"DB_BASE_IMAGE={STUB_BASE}",
            str(SERVICES / "db"),
        ],
        timeout=300,
    )  # fmt: skip
    try:
        yield DB_IMAGE
    finally:
        run(["docker", "rmi", "-f", DB_IMAGE, STUB_BASE], check=False)


@pytest.fixture(scope="module")
def database(db_image: str) -> Iterator[str]:
    """A running container of that image, initialised and accepting connections."""
    name = f"periphtest-tsdb-{secrets.token_hex(4)}"
    run(
        [
            "docker", "run", "-d", "--name", name,
            "-e", f"POSTGRES_PASSWORD=test-only-{secrets.token_hex(8)}",
            "-e", "POSTGRES_USER=peripheral", "-e", "POSTGRES_DB=peripheral",
            db_image,
        ]
    )  # fmt: skip

    def ready() -> bool:
        # Over TCP: during init the entrypoint's temporary server listens on the socket only.
        probe = ["pg_isready", "-h", "127.0.0.1", "-U", "peripheral", "-d", "peripheral"]
        return run(["docker", "exec", name, *probe], check=False).returncode == 0

    try:
        wait_until(ready, "postgres to accept connections", timeout=120)
        yield name
    finally:
        run(["docker", "rm", "-f", name], check=False)


def psql(container: str, *args: str) -> subprocess.CompletedProcess[str]:
    """psql inside the container as the app user, stopping at the first error."""
    base = ["docker", "exec", container, "psql", "-v", "ON_ERROR_STOP=1", "-qAt"]
    return run([*base, "-U", "peripheral", "-d", "peripheral", *args])


def test_the_migrations_turn_job_results_into_a_hypertable_where_the_extension_exists(
    database: str,
) -> None:
    migrations = sorted(p.name for p in (SERVICES / "db" / "migrations").glob("*.sql"))
    for name in migrations:
        psql(database, "-f", f"/migrations/{name}")
    extensions = psql(database, "-c", "SELECT extname FROM pg_extension").stdout.split()
    calls = psql(
        database, "-c", "SELECT relation::text || ' ' || time_column FROM stub_hypertables"
    )
    assert "timescaledb" in extensions
    assert calls.stdout.splitlines() == ["job_results computed_at"]
