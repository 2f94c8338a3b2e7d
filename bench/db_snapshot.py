#!/usr/bin/env python3
"""Benchmark `periph db snapshot/restore` against `pg_dump -Fc` / `pg_restore`.

    .venv/bin/python bench/db_snapshot.py              # measure, print, update docs/performance.md
    .venv/bin/python bench/db_snapshot.py --runs 1 --mb 20 --no-write

Brings up only the stack's db service (fresh project, generated env file, free port),
migrates it with the stack's migrate one-shot, seeds it, then grows job and result rows
until the dev database holds about ``--mb`` MB (100 by default). In one run, on the same
data, each measured ``--runs`` times:

- snapshot: periph's ``CREATE DATABASE ... TEMPLATE`` copy (terminate sessions included)
  vs ``pg_dump -Fc`` of the dev database to a file in the container;
- restore: periph's restore (rename aside, copy from the snapshot, drop the old one) vs
  ``pg_restore`` of that dump into a freshly created database.

Both sides run inside the db container through ``docker exec``, so the process start-up
cost is alike. Goals (issue 24): snapshot <= 0.2x pg_dump and <= 2 s; restore <= 0.2x
pg_restore and <= 3 s.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import perfdoc  # noqa: E402  (bench/ is on sys.path when run as a script)

from periph_env.data import seed as seed_mod  # noqa: E402
from periph_env.data import snapshots  # noqa: E402
from periph_env.data.pg import Postgres  # noqa: E402
from periph_env.stack import Stack  # noqa: E402

START, END = "<!-- bench:db-snapshot:start -->", "<!-- bench:db-snapshot:end -->"

GROW = """
INSERT INTO strategies (name, symbol, fast_window, slow_window)
SELECT 'bench ' || g, 'BENCH', 5 + g % 10, 30 + g % 50 FROM generate_series(1, 1000) g;
INSERT INTO jobs (strategy_id, status, created_at, finished_at)
SELECT s.id, 'done', now() - g * interval '1 minute', now() - g * interval '1 minute'
  FROM generate_series(1, {jobs}) g
  JOIN strategies s ON s.id = 1 + g % 1000;
INSERT INTO job_results (job_id, strategy_id, computed_at, total_return, max_drawdown,
                         trades, final_equity, duration_ms)
SELECT id, strategy_id, finished_at, (id % 97) / 100.0, (id % 31) / 100.0, id % 50,
       10000 + id % 5000, id % 900
  FROM jobs WHERE status = 'done' AND finished_at IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM job_results r WHERE r.job_id = jobs.id);
"""


def docker_exec(container: str, *argv: str) -> float:
    """Run argv in the container; seconds it took."""
    started = time.perf_counter()
    subprocess.run(["docker", "exec", container, *argv], check=True, capture_output=True)
    return time.perf_counter() - started


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def cli_like(stack: Stack, what: str, name: str) -> None:
    """What `periph db snapshot NAME` / `restore NAME` / `rm NAME` do after parsing: a
    fresh client (container lookup included), one psql session, the operation."""
    pg = Postgres(stack)
    with pg.session():
        if what == "snapshot":
            snapshots.snapshot(pg, ROOT, name)
        elif what == "restore":
            snapshots.restore(pg, ROOT, name)
        else:
            snapshots.remove(pg, name)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--mb", type=int, default=100, help="target size of the dev database")
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args()

    from tests.integration.stack_support import free_port, stack_env_values, write_env_file

    tmp = Path(tempfile.mkdtemp(prefix="periph-bench-db-"))
    env_file = write_env_file(tmp / "bench.env", stack_env_values())
    project = f"periph-bench-db-{secrets.token_hex(3)}"
    os.environ["PERIPH_DB_PORT"] = str(free_port())
    base = ["docker", "compose", "-p", project, "-f", str(ROOT / "compose" / "compose.yaml")]
    base += ["--env-file", str(env_file)]
    stack = Stack(ROOT, env_file=env_file, project=project)
    try:
        subprocess.run([*base, "up", "-d", "--wait", "db"], check=True, capture_output=True)
        pg = Postgres(stack)
        seed_mod.migrate(stack)
        seed_mod.seed(pg, ROOT)
        jobs = 100_000
        while True:
            pg.run(GROW.format(jobs=jobs))
            size = int(pg.query(f"SELECT pg_database_size({snapshots.literal(pg.dev_db)})")[0][0])
            print(f"dev database: {size / 1e6:.0f} MB", file=sys.stderr)
            if size >= args.mb * 1e6:
                break
        pg.run("VACUUM ANALYZE; CHECKPOINT;")
        dev, user, c = pg.dev_db, pg.user, pg.container
        snap, dump, restore, pgrestore = [], [], [], []
        for i in range(args.runs):
            name = f"bench-{i}"
            snap.append(timed(lambda: cli_like(stack, "snapshot", name)))  # noqa: B023
            dump.append(docker_exec(c, "pg_dump", "-U", user, "-Fc", "-f", "/tmp/bench.dump", dev))
            restore.append(timed(lambda: cli_like(stack, "restore", name)))  # noqa: B023
            cli_like(stack, "rm", name)  # untimed: each run snapshots under a new name
            docker_exec(c, "dropdb", "-U", user, "--if-exists", "bench_restore")
            docker_exec(c, "createdb", "-U", user, "bench_restore")
            pgrestore.append(
                docker_exec(c, "pg_restore", "-U", user, "-d", "bench_restore", "/tmp/bench.dump")
            )
            print(
                f"run {i + 1}: {snap[-1]:.2f} {dump[-1]:.2f} {restore[-1]:.2f} {pgrestore[-1]:.2f}",
                file=sys.stderr,
            )
    finally:
        subprocess.run([*base, "down", "--volumes", "--timeout", "5"], capture_output=True)

    def row(what: str, ours: list[float], theirs: list[float], goal_s: float) -> str:
        o, t = statistics.median(ours), statistics.median(theirs)
        ratio = o / t
        verdict = "ok" if ratio <= 0.2 and o <= goal_s else "MISSED"
        return (
            f"| {what} | {o:.2f} s ({min(ours):.2f}-{max(ours):.2f}) | "
            f"{t:.2f} s ({min(theirs):.2f}-{max(theirs):.2f}) | {ratio:.2f}x | "
            f"<= 0.2x, <= {goal_s:.0f} s: {verdict} |"
        )

    section = "\n".join(
        [
            START,
            "## dev database snapshots (`periph db snapshot/restore`)",
            "",
            f"`bench/db_snapshot.py`: the dev stack's db service (postgres:15), the seed plus "
            f"generated jobs and results, {size / 1e6:.0f} MB (`pg_database_size`); median "
            f"of {args.runs} runs (min-max), 2 shared cores. Both sides run in the db "
            "container through `docker exec`.",
            "",
            "| measurement | periph | pg_dump / pg_restore | ratio | goal |",
            "| --- | ---: | ---: | ---: | --- |",
            row("snapshot vs `pg_dump -Fc`", snap, dump, 2.0),
            row("restore vs `pg_restore` (into a new database)", restore, pgrestore, 3.0),
            "",
            "Each periph number is the whole command after argument parsing: container",
            "lookup, one `docker exec` psql session (~0.2-0.4 s here), metadata, sessions",
            "ended, the copy. A snapshot is a file-level copy (`CREATE DATABASE ... TEMPLATE",
            "... STRATEGY FILE_COPY`); it costs disk in the db volume instead of CPU, with no",
            "dump/reload of rows and no index rebuild. `--replace` adds the drop of the old",
            "copy (0.3-1 s at this size). The machine is shared: read the min column too.",
            END,
            "",
        ]
    )
    print(section)
    if not args.no_write:
        perfdoc.write_section(START, END, section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
