"""What a killed snapshot/restore left: found, and cleaned without losing the dev data
(in addition to the real-engine tests in tests/integration/test_db_data.py)."""

from __future__ import annotations

import os

from periph_env.data import leftovers

DEAD = 4194399  # above Linux's largest pid_max


class FakePg:
    """The two queries ``leftovers`` makes, and the statements it runs."""

    maintenance_db = "postgres"

    def __init__(self, databases: list[str]) -> None:
        self.databases = databases
        self.ran: list[str] = []

    def query(self, sql: str, db: str | None = None) -> list[list[str]]:
        assert db == "postgres"  # never the dev database: it may be missing
        if "count(*)" in sql:
            name = sql.split("datname = '")[1].rstrip("'")
            return [[str(int(name in self.databases))]]
        return [[d, "1024"] for d in self.databases if leftovers.PATTERN.match(d)]

    def run(self, sql, db=None) -> str:
        assert db == "postgres"
        self.ran += [sql] if isinstance(sql, str) else list(sql)
        return ""


def test_leftovers_of_live_periph_processes_are_not_touched():
    pg = FakePg(["periph", f"periph_tmp_{os.getpid()}", f"periph_tmp_{DEAD}"])
    assert [x.database for x in leftovers.find(pg)] == [f"periph_tmp_{DEAD}"]


def test_an_old_dev_database_is_renamed_back_when_the_dev_database_is_missing():
    pg = FakePg([f"periph_old_{DEAD}"])
    done = leftovers.cleanup(pg, "periph")
    assert done == [
        f"periph_old_{DEAD} renamed back to periph (the restore was cut before its copy)"
    ]
    assert not any(s.startswith("DROP") for s in pg.ran)


def test_an_old_dev_database_is_dropped_when_the_restore_had_made_its_copy():
    pg = FakePg(["periph", f"periph_old_{DEAD}"])
    assert leftovers.cleanup(pg, "periph") == [
        f"periph_old_{DEAD} dropped (the dev database as it was before an interrupted "
        "restore or reset)"
    ]
