"""``services/db/seed/``: sample data for the dev database, and ``reset``.

The seed files are plain SQL, applied in name order in one transaction through psql in
the db container, so a broken file changes nothing. They load into a migrated, empty
database (``periph db reset`` makes one): seeding on top of real work would mix the two.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from periph_env.data import migrations
from periph_env.data.pg import db_command
from periph_env.data.snapshots import replace_dev
from periph_env.errors import PeriphError


class SeedRefused(PeriphError):
    """The dev database is not in a state the seed can load into."""


def seed_files(root: Path) -> list[Path]:
    """The seed's SQL files, in the order they load."""
    folder = root / "services" / "db" / "seed"
    return sorted(folder.glob("*.sql")) if folder.is_dir() else []


def seed(pg: Any, root: Path) -> dict[str, int]:
    """Load the seed into the dev database; returns row counts per seeded table."""
    files = seed_files(root)
    if not files:
        raise SeedRefused(f"no seed files in {root / 'services' / 'db' / 'seed'}")
    if not migrations.applied(pg):
        raise SeedRefused(
            "the dev database has no migrations applied yet",
            hint=f"{db_command(pg, '`periph up`')} (runs migrate) or "
            f"{db_command(pg, '`periph db reset`')}",
        )
    if pg.query("SELECT EXISTS (SELECT 1 FROM strategies)")[0][0] == "t":
        raise SeedRefused(
            "the dev database already has strategies; the seed loads into an empty one",
            hint=f"{db_command(pg, '`periph db snapshot`')} to keep this data, "
            f"then {db_command(pg, '`periph db reset`')}",
        )
    pg.run("\n".join(p.read_text() for p in files), single_transaction=True)
    return counts(pg)


def counts(pg: Any) -> dict[str, int]:
    """Rows in the app's tables."""
    tables = ("strategies", "jobs", "job_results")
    sql = "SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in tables)
    row = pg.query(sql)[0]
    return {t: int(n) for t, n in zip(tables, row, strict=True)}


def migrate(stack: Any) -> None:
    """Run the stack's migrate one-shot against the dev database (``compose run``)."""
    try:
        stack.run_one_shot("migrate")
    except PeriphError as exc:
        raise PeriphError(
            exc.message,
            hint="`periph logs migrate`; a checkout's migration may be broken",
        ) from None


def reset(pg: Any, stack: Any, root: Path, *, load_seed: bool = True) -> dict[str, int]:
    """Drop the dev database, migrate a fresh one, then seed it (unless ``load_seed``
    is False). Returns the row counts."""
    replace_dev(pg, None)
    migrate(stack)
    if load_seed:
        return seed(pg, root)
    return counts(pg)
