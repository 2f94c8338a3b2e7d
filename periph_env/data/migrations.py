"""The checkout's migrations against what a database has applied.

Migrations are ``services/db/migrations/NNNN_name.sql``; ``backend migrate`` records
each applied file's name in ``schema_migrations``. A database that has applied a file
the checkout does not have was migrated on another branch: the code here does not know
its schema. periph says so (``periph up``, ``periph db status``) and never acts on it
by itself.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILE = re.compile(r"^\d{4}_[a-z0-9_]+\.sql$")  # the backend's own rule (migrate/files.go)


def project_root(stack: Any) -> Path:
    """The project whose ``services/db`` (migrations, seed) belong to ``stack``: the
    periph project around its compose file (``PERIPH_COMPOSE_FILE`` names
    ``compose/compose.yaml``, one level below the root)."""
    from periph_env.common.paths import find_project_root
    from periph_env.errors import PeriphError

    try:
        return find_project_root(stack.compose_path.parent)
    except PeriphError:
        return Path(stack.root)


def checkout(root: Path) -> list[str]:
    """Migration file names in ``root``'s ``services/db/migrations``, in order."""
    folder = root / "services" / "db" / "migrations"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if FILE.match(p.name))


def applied(pg: Any, db: str | None = None) -> list[str]:
    """Names of the migrations ``db`` has applied (none when it was never migrated)."""
    rows = pg.query(
        "SELECT CASE WHEN to_regclass('public.schema_migrations') IS NULL THEN 'no' ELSE 'yes' END",
        db,
    )
    if rows[0][0] != "yes":
        return []
    return [r[0] for r in pg.query("SELECT name FROM schema_migrations ORDER BY version", db)]


@dataclass(frozen=True)
class Drift:
    """How a database's applied migrations differ from the checkout's."""

    unknown: list[str] = field(default_factory=list)  # applied, but not in this checkout
    pending: list[str] = field(default_factory=list)  # in the checkout, not applied yet

    @property
    def clean(self) -> bool:
        """True when the database has exactly the checkout's migrations."""
        return not self.unknown and not self.pending


def drift(applied_names: list[str], checkout_names: list[str]) -> Drift:
    """Compare a database's applied migrations with the checkout's."""
    have = set(checkout_names)
    done = set(applied_names)
    return Drift(
        unknown=[m for m in applied_names if m not in have],
        pending=[m for m in checkout_names if m not in done],
    )


def missing_in_checkout(snapshot_migrations: list[str], checkout_names: list[str]) -> list[str]:
    """The snapshot's applied migrations this checkout does not have (restore refuses)."""
    return drift(snapshot_migrations, checkout_names).unknown


def rev_parse(root: Path, *args: str) -> str:
    """``git rev-parse ARGS`` in ``root``: its answer, '' outside git or on any failure."""
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", *args],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def branch(root: Path) -> str:
    """The checkout's git branch ('' outside git; the short commit when detached)."""
    name = rev_parse(root, "--abbrev-ref", "HEAD")
    if name == "HEAD":  # detached: the commit says more than "HEAD"
        return rev_parse(root, "--short", "HEAD")
    return name


def hint(d: Drift, current_branch: str, branch_snapshot: str | None, flag: str = "") -> list[str]:
    """What to tell the developer about ``d`` (no lines when there is nothing to say).

    ``branch_snapshot`` is a snapshot taken on ``current_branch``, if one exists; ``flag``
    is what each named command needs to reach the database (``" --cluster"``).
    """
    from periph_env.data.names import from_branch
    from periph_env.data.pg import with_flag

    if not d.unknown:
        if d.pending:
            return [
                f"the database has not applied {_names(d.pending)} yet; "
                f"{with_flag('`periph up`', flag)} runs the migrate service"
            ]
        return []
    one = len(d.unknown) == 1
    lines = [
        f"the database has {_names(d.unknown)} which this checkout does not have "
        f"({'it was' if one else 'they were'} applied on another branch); "
        "the code here may not match its schema"
    ]
    keep = f"{with_flag('`periph db snapshot <old-branch>`', flag)} keeps that data"
    if branch_snapshot:
        restore = with_flag(f"`periph db restore {branch_snapshot}`", flag)
        lines.append(f"{keep}; then {restore} (taken on this branch)")
    else:
        name = from_branch(current_branch) if current_branch else "<name>"
        reset = with_flag("`periph db reset`", flag)
        lines.append(f"{keep}; then {reset} for a fresh database for {name}")
    return lines


def _names(items: list[str]) -> str:
    shown = [m.removesuffix(".sql") for m in items]
    return ", ".join(shown)


@dataclass(frozen=True)
class Report:
    """The dev database's migrations against the checkout's (``periph db status``)."""

    branch: str
    applied: list[str]
    checkout: list[str]
    drift: Drift
    hint: list[str]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "branch": self.branch,
            "applied": self.applied,
            "checkout": self.checkout,
            "unknown": self.drift.unknown,
            "pending": self.drift.pending,
            "hint": self.hint,
        }


def report(pg: Any, root: Path) -> Report:
    """Compare the dev database with the checkout and say what to do about it."""
    from periph_env.data.snapshots import list_snapshots

    current = branch(root)
    done = applied(pg)
    have = checkout(root)
    d = drift(done, have)
    mine = None
    if d.unknown:
        # A snapshot taken on this branch that this checkout can restore.
        for snap in reversed(list_snapshots(pg)):
            if snap.branch == current and not drift(snap.migrations, have).unknown:
                mine = snap.name
                break
    return Report(current, done, have, d, hint(d, current, mine, getattr(pg, "cli_flag", "")))


def up_notes(stack: Any, pg: Any = None) -> list[str]:
    """``periph up``'s migration note: lines to print, none when in step (the branch
    switch note of ``branches.notice`` first, then the foreign-migrations one). Best effort:
    a db that is not up yet, or any engine error, gives no note and never fails ``up``.
    ``pg`` is the database to read (default: the stack's db container)."""
    from periph_env.data import branches
    from periph_env.data.pg import Postgres
    from periph_env.errors import PeriphError

    try:
        pg, root = pg or Postgres(stack), project_root(stack)
        with pg.session():
            said = branches.notice(pg, root)
            r = report(pg, root)
    except PeriphError:
        return []
    return combined(said, r)


def combined(switch: list[str], r: Report) -> list[str]:
    """One note from the branch switch's lines and the report's: the foreign migrations
    first (a fact), then what to do (``db switch`` when it applies, else snapshot/reset)."""
    fact = r.hint[:1] if r.drift.unknown else []
    if switch:
        return fact + switch
    return r.hint if r.drift.unknown else []
