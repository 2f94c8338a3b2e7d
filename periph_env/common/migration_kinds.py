"""Migration kinds: what a migration's header comment declares, and the image labels that
carry it. Pure and light (images and deploy both use it; neither imports the other).

Each file of ``services/db/migrations/`` declares itself in its header comment::

    -- periph: expand      (safe to leave applied under older code: adds, never removes)
    -- periph: contract    (older code breaks on it: drops, renames, tightens)

A file without the line is treated as ``contract`` (the safe assumption) and named by
``undeclared`` (``periph doctor``, a unit test). ``periph build`` labels every image whose
build context carries migrations with their versions (``MIGRATIONS_LABEL``) and the
contract ones among them (``CONTRACT_LABEL``): ``periph_env.deploy.schema`` reads them
from the registry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

MIGRATIONS_LABEL = "dev.periph.migrations"  # "0001,0002,0003"
CONTRACT_LABEL = "dev.periph.migrations.contract"  # "0003" (the contract ones)
EXPAND, CONTRACT = "expand", "contract"
FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")  # the backend's own rule (migrate/files.go)
# The declaration, exactly as the backend's checksum leaves it out (migrate/files.go):
# one whole line of the leading comment block.
HEADER = re.compile(r"^--\s*periph:\s*(\S+)\s*$")


class HeaderError(ValueError):
    """A ``-- periph:`` line that does not say expand or contract (file and line named)."""


@dataclass(frozen=True)
class Migration:
    """One migration file: its version, name and declared kind (None: undeclared)."""

    version: str
    name: str
    kind: str | None

    @property
    def effective_kind(self) -> str:
        """The kind a decision uses: undeclared counts as contract."""
        return self.kind or CONTRACT


def declared_kind(text: str, where: str = "migration") -> str | None:
    """The kind a migration's header comment declares; None when it declares none.

    Only the leading comment block counts (a ``-- periph:`` inside the SQL is not a
    header). ``HeaderError`` names ``where`` and the line for a word other than
    expand/contract, or for two declarations.
    """
    found: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("--"):
            break  # the header comment ended: the SQL begins
        match = HEADER.match(stripped)
        if not match:
            continue
        kind = match.group(1).lower()
        if kind not in (EXPAND, CONTRACT):
            raise HeaderError(
                f"{where}:{number}: '-- periph: {match.group(1)}' must say expand or contract"
            )
        if found is not None:
            raise HeaderError(f"{where}:{number}: a second '-- periph:' declaration")
        found = kind
    return found


def read_folder(folder: Path) -> list[Migration]:
    """Every ``NNNN_name.sql`` in ``folder`` with its declared kind, in version order."""
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.iterdir()):
        match = FILE.match(path.name)
        if match and path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            out.append(Migration(match.group(1), path.name, declared_kind(text, str(path))))
    return out


def migrations_folder(root: Path) -> Path:
    """The project's ``services/db/migrations``."""
    return root / "services" / "db" / "migrations"


def undeclared(folder: Path) -> list[str]:
    """Names of the migrations in ``folder`` that declare neither expand nor contract."""
    return [m.name for m in read_folder(folder) if m.kind is None]


def image_labels(context: Path, paths: Iterable[str]) -> dict[str, str]:
    """The labels ``periph build`` puts on an image whose build context (``context``,
    the files ``paths`` relative to it) carries migration files; {} when it carries none.

    A file counts when it is ``NNNN_name.sql`` in a folder named ``migrations`` (the
    backend's context is ``services/``, so its files are ``db/migrations/NNNN_x.sql``).
    """
    carried: list[Migration] = []
    for rel in sorted(set(paths)):
        parts = rel.replace("\\", "/").split("/")
        match = FILE.match(parts[-1])
        if match and len(parts) >= 2 and parts[-2] == "migrations" and (context / rel).is_file():
            text = (context / rel).read_text(encoding="utf-8", errors="replace")
            carried.append(Migration(match.group(1), parts[-1], declared_kind(text, rel)))
    if not carried:
        return {}
    carried.sort(key=lambda m: m.version)
    return {
        MIGRATIONS_LABEL: ",".join(m.version for m in carried),
        CONTRACT_LABEL: ",".join(m.version for m in carried if m.effective_kind == CONTRACT),
    }
