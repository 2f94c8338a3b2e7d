"""Snapshot names and the Postgres databases they live in.

A snapshot ``NAME`` is the database ``periph_snap_NAME`` in the dev stack's Postgres
cluster. Names are short, lowercase and shell- and SQL-safe, so a name never needs
quoting rules beyond Postgres's double quotes and stays under its 63-byte identifier
limit.
"""

from __future__ import annotations

import re

from periph_env.errors import UsageError

PREFIX = "periph_snap_"
MAX_LEN = 40
_NAME = re.compile(rf"^[a-z0-9][a-z0-9_-]{{0,{MAX_LEN - 1}}}$")


def validate(name: str) -> str:
    """``name`` if it is a valid snapshot name, else a ``UsageError`` (exit 2) that says
    what a name may contain."""
    if not _NAME.match(name):
        raise UsageError(
            f"bad snapshot name {name!r}: use 1-{MAX_LEN} characters a-z, 0-9, '-' and '_', "
            "starting with a letter or digit",
            hint="e.g. `periph db snapshot before-refactor`",
        )
    return name


def database(name: str) -> str:
    """The database that holds snapshot ``name``."""
    return PREFIX + validate(name)


def from_database(datname: str) -> str | None:
    """The snapshot name of database ``datname``, or None when it is not a snapshot."""
    if not datname.startswith(PREFIX):
        return None
    name = datname[len(PREFIX) :]
    return name if _NAME.match(name) else None


def from_branch(branch: str) -> str:
    """A valid snapshot name for git branch ``branch`` (``feature/Auth`` -> ``feature-auth``)."""
    name = re.sub(r"[^a-z0-9_-]+", "-", branch.lower()).strip("-_")[:MAX_LEN].rstrip("-_")
    return name or "detached"


def ident(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """``text`` as a SQL string literal (standard_conforming_strings is on since PG 9.1)."""
    return "'" + text.replace("'", "''") + "'"
