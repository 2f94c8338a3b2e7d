"""Where periph finds the project and keeps its own files (cache, user config).

The cache (``$PERIPH_CACHE``, default ``~/.cache/periph``) lives outside the repository so
heavy builds survive fresh clones. User config follows XDG (``$XDG_CONFIG_HOME/periph``).
"""

from __future__ import annotations

import os
from pathlib import Path

from periph_env.errors import UsageError

# A directory is the project root when it holds both of these.
_ROOT_MARKERS = ("compose/compose.yaml", ".env.example")


def cache_dir() -> Path:
    """periph's cache directory (not created)."""
    return Path(os.environ.get("PERIPH_CACHE", Path.home() / ".cache" / "periph"))


def config_dir() -> Path:
    """periph's per-user config directory (not created), ``$XDG_CONFIG_HOME/periph``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "periph"


def find_project_root(start: str | Path | None = None) -> Path:
    """The nearest directory at or above ``start`` (default: cwd) that is a periph project.

    ``$PERIPH_PROJECT`` overrides the search. Raises ``UsageError`` when none is found.
    """
    override = os.environ.get("PERIPH_PROJECT")
    if override:
        return Path(override).resolve()
    here = Path(start or os.getcwd()).resolve()
    for candidate in (here, *here.parents):
        if all((candidate / marker).exists() for marker in _ROOT_MARKERS):
            return candidate
    raise UsageError(
        f"{here} is not inside a periph project (no compose/compose.yaml and .env.example)",
        hint="run periph from the repository, or set PERIPH_PROJECT",
    )
