"""Snapshots of the dev database with Postgres's own machinery.

A snapshot is a database in the same cluster, ``CREATE DATABASE periph_snap_NAME
TEMPLATE <dev db>``: a file-level copy, no dump and no reload, so its cost is the disk
copy. Restore is the reverse (the dev database becomes a copy of the snapshot).

Metadata (name, time, git branch, applied migrations) is a JSON ``COMMENT ON
DATABASE`` of the snapshot itself; the size is ``pg_database_size``. Why there rather
than a file in the user's cache dir: the metadata then lives and dies with the data it
describes (``periph down --volumes`` removes both, a second clone's stack has its own
cluster and its own list), so it can never point at a snapshot that is gone or miss
one that exists.

Copying needs the source database to have no sessions: connections to it are switched
off (``ALLOW_CONNECTIONS false``), the backend's and worker's sessions terminated, and
switched on again in every case; both services reconnect by themselves.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from periph_env.data import migrations, names
from periph_env.data.names import ident, literal
from periph_env.data.pg import db_command
from periph_env.errors import PeriphError, UsageError

META_VERSION = 1


class SnapshotExists(PeriphError):
    """A snapshot of that name exists (and ``--replace`` was not given)."""


class UnknownSnapshot(PeriphError):
    """No snapshot of that name."""


class MigrationsMissing(UsageError):
    """The snapshot has migrations the checkout does not (restore refuses; exit 2)."""


@dataclass
class Snapshot:
    """One snapshot as ``periph db list`` shows it."""

    name: str
    created: str = ""
    branch: str = ""
    migrations: list[str] = field(default_factory=list)
    size_bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (``periph db list --format json``)."""
        return asdict(self)


def _parse(name: str, comment: str, size: str) -> Snapshot:
    try:
        meta = json.loads(comment) if comment else {}
    except ValueError:
        meta = {}  # a comment someone edited by hand: the snapshot is still listed
    if not isinstance(meta, dict):
        meta = {}
    return Snapshot(
        name=name,
        created=str(meta.get("created", "")),
        branch=str(meta.get("branch", "")),
        migrations=[str(m) for m in meta.get("migrations", []) if isinstance(m, str)],
        size_bytes=int(size or 0),
    )


def list_snapshots(pg: Any) -> list[Snapshot]:
    """Every snapshot in the cluster, oldest first."""
    rows = pg.query(
        "SELECT datname, coalesce(shobj_description(oid, 'pg_database'), ''), "
        "pg_database_size(oid) FROM pg_database "
        f"WHERE datname LIKE {literal(names.PREFIX.replace('_', chr(92) + '_') + '%')}"
    )
    out = []
    for datname, comment, size in rows:
        name = names.from_database(datname)
        if name is not None:
            out.append(_parse(name, comment, size))
    return sorted(out, key=lambda s: (s.created, s.name))


def get(pg: Any, name: str) -> Snapshot:
    """Snapshot ``name``, or ``UnknownSnapshot`` (exit 1) listing the ones there are."""
    names.validate(name)
    found = list_snapshots(pg)
    for snap in found:
        if snap.name == name:
            return snap
    there = ", ".join(s.name for s in found) or "none yet"
    raise UnknownSnapshot(f"no snapshot named {name!r} (snapshots: {there})")


def _wait_gone_sql(db: str) -> list[str]:
    """Terminate ``db``'s other sessions and wait (bounded) until they have exited."""
    lit = literal(db)
    return [
        f"""SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
 WHERE datname = {lit} AND pid <> pg_backend_pid();""",
        f"""DO $$
BEGIN
    FOR i IN 1..200 LOOP
        EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_stat_activity
                               WHERE datname = {lit} AND pid <> pg_backend_pid());
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;""",
    ]


@contextmanager
def exclusive(pg: Any, db: str) -> Iterator[None]:
    """No sessions on ``db`` while inside (new ones refused, current ones ended); its
    connections are allowed again afterwards, whatever happened, if it still exists."""
    closing = [f"ALTER DATABASE {ident(db)} ALLOW_CONNECTIONS false;", *_wait_gone_sql(db)]
    pg.run(closing, pg.maintenance_db)
    try:
        yield
    finally:
        pg.run(
            f"SELECT format('ALTER DATABASE %I ALLOW_CONNECTIONS true', datname) "
            f"FROM pg_database WHERE datname = {literal(db)} \\gexec",
            pg.maintenance_db,
        )


def settings(pg: Any, db: str) -> tuple[str, list[str]]:
    """``db``'s owner and its per-database settings (``ALTER DATABASE ... SET``: the
    stack's timezone and idle timeout). A template copy does not carry these."""
    rows = pg.query(
        "SELECT pg_get_userbyid(d.datdba), coalesce(array_to_json(s.setconfig)::text, '[]') "
        "FROM pg_database d LEFT JOIN pg_db_role_setting s "
        "ON s.setdatabase = d.oid AND s.setrole = 0 "
        f"WHERE d.datname = {literal(db)}",
        pg.maintenance_db,
    )
    if not rows:
        raise PeriphError(f"database {db!r} does not exist in the db service")
    return rows[0][0], list(json.loads(rows[0][1]))


def _apply_settings_sql(db: str, entries: list[str]) -> list[str]:
    out = []
    for entry in entries:
        key, _, value = entry.partition("=")
        if key.replace("_", "").replace(".", "").isalnum():
            out.append(f"ALTER DATABASE {ident(db)} SET {key} TO {literal(value)};")
    return out


def replace_dev(pg: Any, template: str | None) -> None:
    """Make the dev database a fresh copy of ``template`` (None: an empty database),
    keeping its owner and settings. The old one is renamed aside first and dropped only
    once the new one exists; any failure puts it back, so data is never lost silently."""
    dev = pg.dev_db
    owner, entries = settings(pg, dev)
    aside = f"periph_old_{os.getpid()}"[:63]
    source = f"TEMPLATE {ident(template)} {pg.copy_strategy}" if template else ""
    with exclusive(pg, dev):
        pg.run(f"ALTER DATABASE {ident(dev)} RENAME TO {ident(aside)};", pg.maintenance_db)
        try:
            pg.run(
                [
                    f"CREATE DATABASE {ident(dev)} {source} OWNER {ident(owner)};",
                    *_apply_settings_sql(dev, entries),
                ],
                pg.maintenance_db,
            )
        except BaseException:
            pg.run(
                [
                    f"DROP DATABASE IF EXISTS {ident(dev)};",
                    f"ALTER DATABASE {ident(aside)} RENAME TO {ident(dev)};",
                    f"ALTER DATABASE {ident(dev)} ALLOW_CONNECTIONS true;",
                ],
                pg.maintenance_db,
            )
            raise
    pg.run(f"DROP DATABASE {ident(aside)};", pg.maintenance_db)


def snapshot(
    pg: Any, root: Path, name: str | None = None, *, replace: bool = False, branch: str = ""
) -> Snapshot:
    """Snapshot the dev database as ``name`` (default: the git branch's name). ``branch``:
    the branch the data belongs to (default: the checkout's; ``db switch`` saves the
    database under the branch it was used on, after the checkout has moved)."""
    branch = branch or migrations.branch(root)
    name = names.validate(name) if name else names.from_branch(branch or "snapshot")
    target = names.database(name)
    existing = {s.name for s in list_snapshots(pg)}
    if name in existing and not replace:
        raise SnapshotExists(
            f"a snapshot named {name!r} exists",
            hint=f"{db_command(pg, f'`periph db snapshot {name} --replace`')} overwrites it, "
            "or pick another name",
        )
    dev = pg.dev_db
    meta = {
        "periph": META_VERSION,
        "name": name,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "branch": branch,
        "migrations": migrations.applied(pg, dev),
    }
    # Copy under a temporary name, then swap: a failed copy leaves an old snapshot intact.
    staging = f"periph_tmp_{os.getpid()}"
    with exclusive(pg, dev):
        pg.run(
            [
                f"DROP DATABASE IF EXISTS {ident(staging)};",
                f"CREATE DATABASE {ident(staging)} TEMPLATE {ident(dev)} {pg.copy_strategy};",
            ],
            pg.maintenance_db,
        )
    try:
        pg.run(
            [
                f"COMMENT ON DATABASE {ident(staging)} IS {literal(json.dumps(meta))};",
                # Nobody works in a snapshot: it stays an exact copy, usable as a template.
                f"ALTER DATABASE {ident(staging)} ALLOW_CONNECTIONS false;",
                f"DROP DATABASE IF EXISTS {ident(target)};",
                f"ALTER DATABASE {ident(staging)} RENAME TO {ident(target)};",
            ],
            pg.maintenance_db,
        )
    except BaseException:
        pg.run(f"DROP DATABASE IF EXISTS {ident(staging)};", pg.maintenance_db)
        raise
    return get(pg, name)


def restore(pg: Any, root: Path, name: str, *, force: bool = False) -> Snapshot:
    """Make the dev database a copy of snapshot ``name``. Refuses (exit 2) when the
    snapshot has applied migrations this checkout does not have, unless ``force``."""
    snap = get(pg, name)
    missing = migrations.missing_in_checkout(snap.migrations, migrations.checkout(root))
    if missing and not force:
        shown = ", ".join(m.removesuffix(".sql") for m in missing)
        raise MigrationsMissing(
            f"snapshot {name!r} has migration(s) {shown} which this checkout does not have "
            f"(taken on branch {snap.branch or 'unknown'}); "
            "the code here may not match its schema",
            hint=f"check out {snap.branch or 'that branch'} first, "
            f"or {db_command(pg, f'`periph db restore {name} --force`')}",
        )
    replace_dev(pg, names.database(name))
    return snap


def remove(pg: Any, name: str) -> None:
    """Drop snapshot ``name`` (``UnknownSnapshot``, exit 1, when there is none)."""
    get(pg, name)
    pg.run(f"DROP DATABASE {ident(names.database(name))};", pg.maintenance_db)
