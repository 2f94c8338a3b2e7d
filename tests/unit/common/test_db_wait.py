"""The database wait every in-cluster Job runs first, run by a real ``sh`` against stand-in
``pg_isready`` and ``psql`` programs (what the Job's container would run)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from periph_env.common.db_wait import wait_for_database
from periph_env.deploy import schema_read


def _tools(bin_dir: Path, refusals: int) -> None:
    """``pg_isready`` that refuses ``refusals`` times; ``psql`` answering like a migrated db."""
    bin_dir.mkdir()
    count = bin_dir / "count"
    count.write_text("0")
    (bin_dir / "pg_isready").write_text(
        f'#!/bin/sh\nn=$(cat {count}); echo $((n + 1)) > {count}; [ "$n" -ge {refusals} ]\n'
    )
    (bin_dir / "psql").write_text(
        "#!/bin/sh\n"
        'case "$*" in *to_regclass*) echo t ;; '
        "*) echo 'periph-schema 0001 0001_init.sql' ;; esac\n"
    )
    (bin_dir / "sleep").write_text("#!/bin/sh\nexit 0\n")  # no real waiting in a unit test
    for tool in ("pg_isready", "psql", "sleep"):
        (bin_dir / tool).chmod(0o755)


def _run(script: str, bin_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "PGHOST": "db"}
    return subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True, env=env, timeout=30, check=False
    )


def test_the_schema_read_waits_through_early_refusals_and_then_answers(tmp_path):
    _tools(tmp_path / "bin", refusals=3)

    done = _run(schema_read.SCRIPT, tmp_path / "bin")

    assert done.returncode == 0, done.stderr
    assert schema_read.parse_rows(done.stdout) == ["0001_init.sql"]


def test_a_database_that_never_answers_ends_the_wait_with_exit_1_naming_it(tmp_path):
    _tools(tmp_path / "bin", refusals=10_000)

    done = _run(wait_for_database(60), tmp_path / "bin")

    assert done.returncode == 1
    assert "the database at db:5432 did not answer for 60 s" in done.stderr
    assert (tmp_path / "bin" / "count").read_text().strip() == "12"
