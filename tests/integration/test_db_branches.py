"""Per-branch dev databases on the real compose engine (issue 24): a throw-away git
repository with two branches whose migrations differ, a real Postgres, and
``periph db switch`` there and back; each branch's data comes back.

The project is small on purpose: ``db`` (postgres:15-bookworm) and a ``migrate`` one-shot
(the same image's psql, in db's network namespace) that applies the checkout's
``services/db/migrations`` (bind mounted, so a ``git checkout`` changes them without a
rebuild) and records them in
``schema_migrations`` as ``backend migrate`` does. The migrations and the seed are this
repository's; branch ``feature`` adds ``0005_notes.sql``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from periph_env.stack import Stack

pytestmark = [pytest.mark.docker, pytest.mark.stack, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]

MIGRATE = r"""set -eu
psql -X -q -v ON_ERROR_STOP=1 -c 'CREATE TABLE IF NOT EXISTS schema_migrations
  (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz DEFAULT now())'
for f in /migrations/*.sql; do
  n=$(basename "$f"); v=$(echo "$n" | cut -c1-4)
  if [ -z "$(psql -X -At -c "SELECT 1 FROM schema_migrations WHERE name = '$n'")" ]; then
    psql -X -q -v ON_ERROR_STOP=1 --single-transaction -f "$f" \
      -c "INSERT INTO schema_migrations (version, name) VALUES ($v, '$n')"
    echo "applied $n"
  fi
done"""

COMPOSE = """\
services:
  db:
    image: postgres:15-bookworm
    environment:
      POSTGRES_USER: dev
      POSTGRES_PASSWORD: ${DB_PASSWORD}
      POSTGRES_DB: app
    healthcheck:
      # Over TCP: the image's init server listens on the socket only, so a socket check
      # passed before the real server had started ("the database system is starting up").
      test: ["CMD-SHELL", "pg_isready -h 127.0.0.1 -U dev -d app"]
      interval: 1s
      retries: 60
  migrate:
    image: postgres:15-bookworm
    restart: "no"
    # In db's network namespace: no bridge forwarding to depend on (a busy host's
    # firewall resync can drop a fresh compose network's FORWARD rules for a while).
    network_mode: "service:db"
    environment:
      PGHOST: 127.0.0.1
      PGUSER: dev
      PGPASSWORD: ${DB_PASSWORD}
      PGDATABASE: app
    volumes:
      - ../services/db/migrations:/migrations:ro
    command: ["sh", "-c", %s]
    depends_on:
      db:
        condition: service_healthy
"""

NOTES = "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);\n"


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path, docker_engine, compose_v2, base_images):
    """The two-branch repository with its stack up (db healthy, migrated); removed after."""
    import json

    root = tmp_path / "proj"
    (root / "compose").mkdir(parents=True)
    script = json.dumps(MIGRATE.replace("$", "$$"))  # compose interpolates $; JSON is YAML
    (root / "compose" / "compose.yaml").write_text(COMPOSE % script)
    (root / ".env.example").write_text("# @secret\nDB_PASSWORD=\n")
    password = secrets.token_hex(12)
    (root / ".env").write_text(f"DB_PASSWORD={password}\n")
    (root / ".gitignore").write_text(".env\n")
    shutil.copytree(REPO / "services" / "db" / "migrations", root / "services/db/migrations")
    shutil.copytree(REPO / "services" / "db" / "seed", root / "services/db/seed")
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "main")
    git(root, "checkout", "-q", "-b", "feature")
    (root / "services/db/migrations/0005_notes.sql").write_text(NOTES)
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "feature")
    git(root, "checkout", "-q", "main")
    project = f"periph-branches-{secrets.token_hex(4)}"
    stack = Stack(
        root=root / "compose",
        compose_path=root / "compose" / "compose.yaml",
        project=project,
        env_file=root / ".env",
    )
    try:
        stack.up(["db"], wait=True)
        stack.run_one_shot("migrate")
        yield root, project, password
    finally:
        stack.down(volumes=True)


def periph(root: Path, project: str, password: str, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PERIPH_COMPOSE_FILE": str(root / "compose" / "compose.yaml"),
        "PERIPH_ENV_FILE": str(root / ".env"),
        "COMPOSE_PROJECT_NAME": project,
    }
    proc = subprocess.run(
        [sys.executable, "-m", "periph_env", *args],
        cwd=root, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert password not in proc.stdout + proc.stderr
    return proc


def ok(root, project, password, *args) -> subprocess.CompletedProcess:
    proc = periph(root, project, password, *args)
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc


def sql(root, project, password, query: str) -> str:
    return ok(
        root, project, password, "exec", "db", "psql", "-X", "-At", "-v", "ON_ERROR_STOP=1",
        "-c", query,
    ).stdout.strip()  # fmt: skip


def test_switching_branches_keeps_each_branchs_data_and_brings_it_back(repo):
    root, project, password = repo
    run = (root, project, password)
    ok(*run, "db", "seed")
    sql(*run, "INSERT INTO strategies (name, symbol, fast_window, slow_window) "
              "VALUES ('main work', 'SPY', 5, 20)")  # fmt: skip
    main_count = sql(*run, "SELECT count(*) FROM strategies")
    assert ok(*run, "db", "status").stdout  # records main as the database's owner

    git(root, "checkout", "-q", "feature")
    status = ok(*run, "db", "switch")

    assert "main's database kept as snapshot main" in status.stderr
    assert "feature: a fresh database (migrated, seeded)" in status.stderr
    assert sql(*run, "SELECT to_regclass('public.notes') IS NOT NULL") == "t"
    assert sql(*run, "SELECT count(*) FROM strategies WHERE name = 'main work'") == "0"
    sql(*run, "INSERT INTO notes (body) VALUES ('feature work')")

    git(root, "checkout", "-q", "main")
    back = ok(*run, "db", "switch")

    assert "feature's database kept as snapshot feature" in back.stderr
    assert "main: restored from snapshot main" in back.stderr
    assert sql(*run, "SELECT count(*) FROM strategies") == main_count
    assert sql(*run, "SELECT count(*) FROM strategies WHERE name = 'main work'") == "1"
    assert sql(*run, "SELECT to_regclass('public.notes') IS NULL") == "t"

    git(root, "checkout", "-q", "feature")
    ok(*run, "db", "switch")
    assert sql(*run, "SELECT body FROM notes") == "feature work"


def test_up_says_when_the_branch_moved_to_other_migrations_and_switch_is_never_automatic(repo):
    root, project, password = repo
    run = (root, project, password)
    ok(*run, "db", "status")  # main owns the database now
    ok(*run, "db", "seed")
    git(root, "checkout", "-q", "feature")

    up = ok(*run, "up", "db")

    notes = [line for line in up.stderr.splitlines() if "note:" in line]
    assert any("holds branch main's data; feature has other migrations (+0005_notes)" in line
               for line in notes), up.stderr  # fmt: skip
    assert any("`periph db switch`" in line for line in notes)
    assert sql(*run, "SELECT count(*) FROM strategies") != "0"  # nothing happened by itself
    assert ok(*run, "db", "switch").returncode == 0
    assert ok(*run, "db", "switch").stderr.startswith("the dev database already is this branch's")
