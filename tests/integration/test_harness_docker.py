"""The Docker tier's harness: Compose v2 on the real engine, and the offline base images."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from periph_env.testenv.base_images import HASH_LABEL, STANDIN_LABEL
from periph_env.testenv.state import run
from tests.fixtures.engines import project_leftovers

pytestmark = pytest.mark.docker

STANDINS = (
    "debian:bookworm-slim",
    "golang:1.26-bookworm",
    "python:3.11-slim-bookworm",
    "node:20-bookworm-slim",
    "postgres:15-bookworm",
    "redis:7-bookworm",
)

TINY_PROJECT = """\
services:
  db:
    image: debian:bookworm-slim
    init: true
    command: ["sh", "-c", "sleep 1; touch /tmp/ready; exec sleep infinity"]
    volumes: [data:/data]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      timeout: 2s
      retries: 30
  app:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
    depends_on:
      db:
        condition: service_healthy
volumes:
  data: {}
"""


def compose(project: str, directory: Path, *args: str) -> str:
    return run(
        ["docker", "compose", "-p", project, "-f", str(directory / "compose.yaml"), *args],
        timeout=300,
    ).stdout


def test_tiny_compose_project_comes_up_healthy_and_leaves_nothing_behind(
    compose_project: str, base_images: object, tmp_path: Path
) -> None:
    (tmp_path / "compose.yaml").write_text(TINY_PROJECT)

    compose(compose_project, tmp_path, "up", "--detach", "--wait")
    states = {
        entry["Service"]: entry
        for line in compose(compose_project, tmp_path, "ps", "--format", "json").splitlines()
        for entry in [json.loads(line)]
    }
    assert states["db"]["State"] == "running" and states["db"]["Health"] == "healthy"
    assert states["app"]["State"] == "running"

    compose(compose_project, tmp_path, "down", "--volumes", "--timeout", "5")
    assert project_leftovers(compose_project) == {"containers": [], "networks": [], "volumes": []}


@pytest.mark.parametrize("image", STANDINS)
def test_standin_exists_and_is_labelled(base_images: object, image: str) -> None:
    labels = json.loads(
        run(["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", image]).stdout
    )
    assert labels[STANDIN_LABEL] == "true"
    assert labels[HASH_LABEL]


@pytest.mark.parametrize(
    ("image", "argv", "expected"),
    [
        ("golang:1.26-bookworm", ["go", "version"], r"go version go1\.26"),
        (
            "golang:1.26-bookworm",
            ["sh", "-c", "echo $GOPATH; command -v go"],
            "/go\n/usr/local/go/bin/go",
        ),
        ("python:3.11-slim-bookworm", ["python", "--version"], r"Python 3\.11"),
        (
            "python:3.11-slim-bookworm",
            ["sh", "-c", "command -v python; command -v pip"],
            "/usr/local/bin/python\n/usr/local/bin/pip",
        ),
        ("node:20-bookworm-slim", ["node", "--version"], r"v20\."),
        ("node:20-bookworm-slim", ["npm", "--version"], r"\d+\.\d+\.\d+"),
        ("redis:7-bookworm", ["redis-server", "--version"], r"Redis server v=7\."),
        ("postgres:15-bookworm", ["pg_isready", "--version"], r"pg_isready \(PostgreSQL\) 15"),
        ("postgres:15-bookworm", ["postgres", "--version"], r"postgres \(PostgreSQL\) 15"),
    ],
)
def test_standin_runs_its_tool(
    base_images: object, image: str, argv: list[str], expected: str
) -> None:
    out = run(["docker", "run", "--rm", image, *argv], timeout=120).stdout
    assert re.match(expected, out), out


@pytest.fixture
def container() -> Iterator[Callable[..., str]]:
    """``container(*docker_run_args)`` starts a detached container; all are removed afterwards."""
    started: list[str] = []

    def start(*args: str) -> str:
        name = f"periphtest-{secrets.token_hex(4)}"
        run(["docker", "run", "--detach", "--name", name, *args])
        started.append(name)
        return name

    yield start
    if started:
        run(["docker", "rm", "-f", "-v", *started], check=False)


def published_port(name: str, port: int) -> int:
    """The host port (on 127.0.0.1) docker published for the container's ``port``."""
    return int(run(["docker", "port", name, f"{port}/tcp"]).stdout.split()[0].rsplit(":", 1)[1])


def wait_until(check: Callable[[], bool], what: str, attempts: int = 120) -> None:
    for _ in range(attempts):
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"gave up waiting for {what}")


INIT_SQL = "CREATE TABLE from_sql (word text); INSERT INTO from_sql VALUES ('sql-ran');\n"
INIT_SH = """\
#!/bin/sh
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \\
  -c "CREATE TABLE from_sh (word text); INSERT INTO from_sh VALUES ('sh-ran');"
"""


def test_postgres_standin_honours_env_and_runs_initdb_scripts(
    base_images: object, container: Callable[..., str], tmp_path: Path
) -> None:
    initdb = tmp_path / "initdb"
    initdb.mkdir()
    (initdb / "01-schema.sql").write_text(INIT_SQL)
    (initdb / "02-more.sh").write_text(INIT_SH)
    initdb.chmod(0o755)
    password = secrets.token_hex(8)
    name = container(
        "-e", "POSTGRES_USER=periph",
        "-e", f"POSTGRES_PASSWORD={password}",
        "-e", "POSTGRES_DB=periphdb",
        "-v", f"{initdb}:/docker-entrypoint-initdb.d:ro",
        "-p", "127.0.0.1::5432",
        "postgres:15-bookworm",
    )  # fmt: skip
    # The entrypoint's temporary init server is socket-only; TCP answers once it is done.
    port = published_port(name, 5432)
    wait_until(
        lambda: (
            run(
                ["docker", "exec", name, "pg_isready", "-h", "127.0.0.1", "-U", "periph"],
                check=False,
            ).returncode
            == 0
        ),
        "postgres to accept TCP connections",
    )

    dsn = f"host=127.0.0.1 port={port} user=periph password={password} dbname=periphdb"
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        assert conn.execute("SELECT word FROM from_sql").fetchone() == ("sql-ran",)
        assert conn.execute("SELECT word FROM from_sh").fetchone() == ("sh-ran",)
        assert conn.execute("SELECT current_user").fetchone() == ("periph",)


def test_postgres_standin_refuses_a_wrong_password(
    base_images: object, container: Callable[..., str]
) -> None:
    name = container(
        "-e", "POSTGRES_PASSWORD=right", "-p", "127.0.0.1::5432", "postgres:15-bookworm"
    )
    port = published_port(name, 5432)
    wait_until(
        lambda: (
            run(["docker", "exec", name, "pg_isready", "-h", "127.0.0.1"], check=False).returncode
            == 0
        ),
        "postgres to accept TCP connections",
    )
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            f"host=127.0.0.1 port={port} user=postgres password=wrong", connect_timeout=10
        )


def test_redis_standin_answers_ping_from_outside_the_container(
    base_images: object, container: Callable[..., str]
) -> None:
    name = container("-p", "127.0.0.1::6379", "redis:7-bookworm")
    client = redis.Redis(host="127.0.0.1", port=published_port(name, 6379), socket_timeout=5)

    def pong() -> bool:
        try:
            return client.ping()
        except redis.ConnectionError:
            return False

    # A connection from the published port arrives from the bridge, not loopback: this
    # fails if protected mode were on, as it is by default in Debian's redis-server.
    wait_until(pong, "redis to answer PING")
