"""Which migrations the code a deploy or rollback moves to carries, against what the
database has applied: the difference and whether it may be left applied. Pure: no cluster.

The kinds (``-- periph: expand|contract`` headers) and the image labels are
``periph_env.common.migration_kinds``; reading the labels from the registry and the
database through a Job is ``periph_env.deploy.schema_read``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from periph_env.common.migration_kinds import (
    CONTRACT,
    CONTRACT_LABEL,
    EXPAND,
    MIGRATIONS_LABEL,
    Migration,
)


@dataclass(frozen=True)
class Carried:
    """What one image's labels say it carries: versions, and the contract ones."""

    versions: frozenset[str]
    contract: frozenset[str]


def carried(labels: dict[str, Any] | None) -> Carried | None:
    """The migrations an image's config labels name; None for an image without the label
    (built before periph recorded them, or by something else)."""
    value = (labels or {}).get(MIGRATIONS_LABEL)
    if not isinstance(value, str):
        return None
    contract = (labels or {}).get(CONTRACT_LABEL)
    return Carried(_versions(value), _versions(contract if isinstance(contract, str) else ""))


def _versions(value: str) -> frozenset[str]:
    return frozenset(v.strip() for v in value.split(",") if v.strip())


@dataclass(frozen=True)
class Difference:
    """A database's applied migrations against what the code being moved to carries.

    ``left``: applied but not carried (left applied under that code), each with its kind;
    ``pending``: carried but not applied (a deploy's migration Job applies them).
    """

    applied: list[str]  # "0001_strategies.sql", in version order
    left: list[tuple[str, str]] = field(default_factory=list)  # (name, kind)
    pending: list[str] = field(default_factory=list)  # versions

    @property
    def contract(self) -> list[str]:
        """The names of the left-applied migrations the older code breaks on."""
        return [name for name, kind in self.left if kind == CONTRACT]

    def as_record(self, forced: bool = False) -> dict[str, Any]:
        """What the history record keeps (no secret: versions and names only)."""
        return {
            "applied": [_version(n) for n in self.applied],
            "left_applied": [name for name, _ in self.left],
            "contract": self.contract,
            "pending": list(self.pending),
            "forced": forced,
        }


def _version(name: str) -> str:
    return name.split("_", 1)[0]


def difference(
    applied: list[str], target: Carried, kinds: dict[str, str] | None = None
) -> Difference:
    """How ``applied`` (names as ``schema_migrations`` holds them) differs from ``target``.

    The kind of a left-applied migration: ``target``'s contract list cannot say (it does
    not carry it), so ``kinds`` (version -> kind, from the running image's labels and the
    checkout's headers) does; a migration no source declares counts as contract.
    """
    kinds = kinds or {}
    have = {_version(n) for n in applied}
    left = [
        (name, kinds.get(_version(name), CONTRACT))
        for name in applied
        if _version(name) not in target.versions
    ]
    pending = sorted(v for v in target.versions if v not in have)
    return Difference(list(applied), left, pending)


def back_across(
    applied: list[str], target: Carried, previous: Carried | None, kinds: dict[str, str]
) -> list[str]:
    """The contract migrations (versions) a return to ``previous`` would leave applied once
    a deploy of ``target`` has applied everything it carries: what an automatic rollback
    of that deploy would cross. [] when ``previous`` carries no label (cannot be told)."""
    if previous is None:
        return []
    after = {_version(n) for n in applied} | target.versions
    return sorted(
        v for v in after if v not in previous.versions and kinds.get(v, CONTRACT) == CONTRACT
    )


def kinds_from(sources: Iterable[Carried | list[Migration]]) -> dict[str, str]:
    """version -> kind, the first source to know a version wins (the running image's
    labels before the checkout: the image is what applied it)."""
    out: dict[str, str] = {}
    for source in sources:
        if isinstance(source, Carried):
            for version in source.versions:
                out.setdefault(version, CONTRACT if version in source.contract else EXPAND)
        else:
            for m in source:
                out.setdefault(m.version, m.effective_kind)
    return out


def describe(diff: Difference, moving_to: str) -> list[str]:
    """What a person reads: "rolling back to deploy #12 leaves 0007_x (expand) applied"."""
    lines = [f"database has applied {_list([_version(n) for n in diff.applied]) or 'nothing'}"]
    if diff.left:
        left = ", ".join(f"{name} ({kind})" for name, kind in diff.left)
        lines.append(f"{moving_to} leaves {left} applied")
    else:
        lines.append(f"{moving_to} carries every applied migration")
    if diff.pending:
        lines.append(f"not applied yet: {_list(diff.pending)} (the migration Job applies them)")
    return lines


def refusal(diff: Difference, moving_to: str) -> tuple[str, str]:
    """(message, hint) refusing a move across contract migrations."""
    names = ", ".join(diff.contract)
    return (
        f"{moving_to} would run code that does not know contract migration(s) {names}, "
        "applied in the database: that code breaks on this schema",
        "restore the schema first, or deploy a release that carries them; "
        "--force-schema to go ahead anyway",
    )


def _list(versions: list[str]) -> str:
    return ", ".join(versions)
