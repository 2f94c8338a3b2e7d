"""Databases a hard kill left behind in the middle of a snapshot or a restore.

``snapshot`` copies into ``periph_tmp_<pid>`` before renaming it to the snapshot's
name; ``restore`` and ``reset`` rename the dev database to ``periph_old_<pid>`` and drop
it once its replacement exists. A ``kill -9`` (or a lost machine) between those steps
leaves them behind, with the disk they hold. A ctrl+c does not: the psql session runs
the clean-up statements on its own.

``find`` lists them (``periph db list`` shows them); ``cleanup`` (``periph db
cleanup``) removes them, and never loses data: a ``periph_old_*`` while the dev
database does not exist IS the dev database (killed between the rename and the copy),
so it is renamed back instead of dropped. Leftovers whose periph process still runs
(an operation in progress in another terminal) are not touched.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from typing import Any

from periph_env.data.names import ident, literal

PATTERN = re.compile(r"^periph_(old|tmp)_(\d+)$")
WHAT = {
    "old": "the dev database as it was before an interrupted restore or reset",
    "tmp": "an unfinished snapshot copy",
}


@dataclass(frozen=True)
class Leftover:
    """One database left by an interrupted operation."""

    database: str
    kind: str  # "old" | "tmp"
    pid: int
    size_bytes: int

    @property
    def what(self) -> str:
        """What it holds, in words."""
        return WHAT[self.kind]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**asdict(self), "what": self.what}


def pid_alive(pid: int) -> bool:
    """True when a process ``pid`` exists on this machine (periph's own pid counts)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: not ours to judge, leave it
    except OSError:
        return False
    return True


def find(pg: Any) -> list[Leftover]:
    """Leftovers of periph processes that no longer run, oldest pid first. Reads only
    the maintenance database, so it works while the dev database is missing."""
    rows = pg.query(
        "SELECT datname, pg_database_size(oid) FROM pg_database "
        "WHERE datname ~ '^periph_(old|tmp)_[0-9]+$'",
        pg.maintenance_db,
    )
    out = []
    for datname, size in rows:
        match = PATTERN.match(datname)
        if match is None or pid_alive(int(match[2])):
            continue
        out.append(Leftover(datname, match[1], int(match[2]), int(size or 0)))
    return sorted(out, key=lambda x: (x.pid, x.database))


def cleanup(pg: Any, dev: str) -> list[str]:
    """Remove the leftovers (the dev database is ``dev``); what was done, one line each.
    When ``dev`` is missing, the newest ``periph_old_*`` becomes ``dev`` again."""
    done = []
    found = find(pg)
    exists = pg.query(
        f"SELECT count(*) FROM pg_database WHERE datname = {literal(dev)}", pg.maintenance_db
    )
    dev_missing = exists[0][0] == "0"
    olds = [x for x in found if x.kind == "old"]
    if dev_missing and olds:
        back = olds[-1]  # the newest interrupted restore held the latest data
        pg.run(
            [
                f"ALTER DATABASE {ident(back.database)} RENAME TO {ident(dev)};",
                f"ALTER DATABASE {ident(dev)} ALLOW_CONNECTIONS true;",
            ],
            pg.maintenance_db,
        )
        done.append(f"{back.database} renamed back to {dev} (the restore was cut before its copy)")
        found.remove(back)
    for left in found:
        # A leftover may refuse connections (it was taken exclusive first): DROP does not
        # need any, and nobody can be connected to it.
        pg.run(f"DROP DATABASE IF EXISTS {ident(left.database)};", pg.maintenance_db)
        done.append(f"{left.database} dropped ({left.what})")
    return done
