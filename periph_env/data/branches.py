"""Per-branch dev databases: which branch the dev database belongs to, telling when the
checkout has moved to a branch with other migrations, and ``switch`` (``periph db
switch``, the Stack area's ``m``): snapshot the database under its branch, then restore
the new branch's snapshot or make it a fresh one (migrate, seed).

Nothing here runs by itself: ``notice`` only says, ``switch`` runs on a key or a command.
Nothing is lost: the current database is copied before anything replaces it, and a
snapshot is overwritten only by a newer state of the same branch's database (its owner is
recorded); when the owner was guessed, an existing snapshot of that name is kept and the
copy gets a timestamped name.

The owner record is a JSON ``COMMENT ON DATABASE`` of the dev database: the branch and
the migrations the checkout had when the record was written. "Its migrations differ"
compares the checkout's files with that list, not with what the database has applied:
``periph up`` runs migrate before anyone looks, so the database may already carry the new
branch's migrations on the old branch's data.
"""

from __future__ import annotations

import json
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from periph_env.data import migrations, names, snapshots
from periph_env.data.names import ident, literal
from periph_env.data.pg import DatabaseError, db_command

KEY = "periph_owner"


@dataclass(frozen=True)
class Owner:
    """The branch the dev database's data belongs to, and its checkout's migrations then."""

    branch: str
    migrations: list[str]


def owner(pg: Any) -> Owner | None:
    """The dev database's recorded owner (None: never recorded, or replaced since)."""
    rows = pg.query(
        "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database "
        f"WHERE datname = {literal(pg.dev_db)}",
        pg.maintenance_db,
    )
    try:
        meta = json.loads(rows[0][0]) if rows and rows[0][0] else {}
    except ValueError:
        return None
    if not isinstance(meta, dict) or meta.get(KEY) != 1 or not meta.get("branch"):
        return None
    found = [str(m) for m in meta.get("migrations", []) if isinstance(m, str)]
    return Owner(str(meta["branch"]), found)


def record(pg: Any, branch: str, checkout: list[str]) -> None:
    """Record ``branch`` (with ``checkout``'s migrations) as the dev database's owner."""
    meta = json.dumps({KEY: 1, "branch": branch, "migrations": checkout})
    pg.run(f"COMMENT ON DATABASE {ident(pg.dev_db)} IS {literal(meta)};", pg.maintenance_db)


def previous_branch(root: Path) -> str:
    """The branch checked out before this one (git's ``@{-1}``), '' when unknown."""
    return migrations.rev_parse(root, "--abbrev-ref", "@{-1}")


@dataclass(frozen=True)
class Plan:
    """What a switch would do, and why it is worth doing."""

    old: str  # the branch whose data the dev database holds
    new: str  # the checkout's branch
    recorded: bool  # ``old`` comes from the owner record (not a guess)
    added: list[str]  # migrations the checkout has and the old branch had not
    removed: list[str]  # migrations the old branch had and the checkout has not

    @property
    def differs(self) -> bool:
        """The two branches' migrations differ (the schema does not match the code)."""
        return bool(self.added or self.removed)


def plan(pg: Any, root: Path) -> Plan | None:
    """The switch the checkout calls for, or None when the database is this branch's."""
    current = migrations.branch(root)
    have = migrations.checkout(root)
    rec = owner(pg)
    if rec is not None:
        if rec.branch == current:
            return None
        added = [m for m in have if m not in rec.migrations]
        removed = [m for m in rec.migrations if m not in have]
        return Plan(rec.branch, current, True, added, removed)
    d = migrations.drift(migrations.applied(pg), have)
    if not d.unknown:
        return None  # never recorded and nothing foreign in it: it is this branch's
    old = previous_branch(root) or "previous-branch"
    return Plan(old, current, False, d.pending, d.unknown)


def notice(pg: Any, root: Path) -> list[str]:
    """What ``periph up`` and the Stack area say (nothing when there is nothing to do).
    Records the owner of a database that has none and matches the checkout, and keeps
    the record's migrations current while the branch stays the same."""
    p = plan(pg, root)
    if p is None:
        current = migrations.branch(root)
        if current:
            # A role that may not comment leaves no record; the drift note still works.
            with suppress(DatabaseError):
                record(pg, current, migrations.checkout(root))
        return []
    if not p.differs:
        return []  # same migrations: the data fits this branch's code as well
    parts = []
    if p.added:
        parts.append("+" + ", +".join(m.removesuffix(".sql") for m in p.added))
    if p.removed:
        parts.append("-" + ", -".join(m.removesuffix(".sql") for m in p.removed))
    return [
        f"the dev database holds branch {p.old}'s data; {p.new or 'this checkout'} has other "
        f"migrations ({'; '.join(parts)})",
        f"{db_command(pg, '`periph db switch`')} (Stack area: m) keeps it as snapshot "
        f"{names.from_branch(p.old)} and gives {p.new or 'this checkout'} its own database",
    ]


@dataclass(frozen=True)
class Result:
    """What ``switch`` did."""

    old: str
    new: str
    saved_as: str
    restored: str | None  # the new branch's snapshot, or None: a fresh database
    counts: dict[str, int]
    kept: str | None = None  # a snapshot of the new branch not restored, and why

    def lines(self) -> list[str]:
        """The user-facing summary."""
        how = (
            f"restored from snapshot {self.restored}"
            if self.restored
            else "a fresh database (migrated, seeded)"
        )
        out = [f"{self.old}'s database kept as snapshot {self.saved_as}", f"{self.new}: {how}"]
        return out + ([self.kept] if self.kept else [])


def _save_name(pg: Any, branch: str, recorded: bool) -> tuple[str, bool]:
    """The snapshot name to save ``branch``'s database under, and whether it replaces one."""
    name = names.from_branch(branch)
    taken = {s.name for s in snapshots.list_snapshots(pg)}
    if recorded or name not in taken:
        return name, True
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{name[: names.MAX_LEN - len(stamp) - 1]}-{stamp}", False


def _branch_snapshot(pg: Any, branch: str, have: list[str]) -> str | None:
    """The new branch's snapshot this checkout can restore, if there is one."""
    mine = [
        s
        for s in snapshots.list_snapshots(pg)
        if s.name == names.from_branch(branch) or s.branch == branch
    ]
    for snap in reversed(mine):  # newest first
        if not migrations.missing_in_checkout(snap.migrations, have):
            return snap.name
    return None


def switch(pg: Any, stack: Any, root: Path, *, load_seed: bool = True) -> Result | None:
    """Save the dev database under its branch and give the checkout's branch its own:
    its snapshot restored and migrated, or a fresh database migrated and seeded. None
    when the database already is this branch's."""
    from periph_env.data import seed

    p = plan(pg, root)
    if p is None:
        return None
    have = migrations.checkout(root)
    save, replace = _save_name(pg, p.old, p.recorded)
    snapshots.snapshot(pg, root, save, replace=replace, branch=p.old)
    restored = _branch_snapshot(pg, p.new, have)
    if restored:
        snapshots.restore(pg, root, restored)
        seed.migrate(stack)  # the checkout may have migrations the snapshot has not
        counts = seed.counts(pg)
    else:
        counts = seed.reset(pg, stack, root, load_seed=load_seed)
    record(pg, p.new, have)
    return Result(p.old, p.new, save, restored, counts, _not_restored(pg, p.new, have))


def _not_restored(pg: Any, branch: str, have: list[str]) -> str | None:
    """Why the new branch's own snapshot was not restored (it has migrations this
    checkout lacks: ``periph up`` migrated it on another branch), if there is one."""
    name = names.from_branch(branch)
    for snap in snapshots.list_snapshots(pg):
        missing = migrations.missing_in_checkout(snap.migrations, have)
        if snap.name == name and missing:
            shown = ", ".join(m.removesuffix(".sql") for m in missing)
            return (
                f"snapshot {name} was kept, not restored: it has {shown}, which this checkout "
                f"lacks ({db_command(pg, f'`periph db restore {name} --force`')} takes it anyway)"
            )
    return None
