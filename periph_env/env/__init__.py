"""The ``.env`` contract: check an env file against the annotated ``.env.example``.

Public API (everything else is internal)::

    check(env_path, example_path, target, env_required=False) -> Report
    diff(env_path, example_path) -> KeyDiff
    init(env_path=".env", example_path=".env.example") -> InitResult
        # InitResult(env_path, created, added, backup, generated, written)
    guard(root=None, env_files=None) -> list[Finding]   # any PE403 means exit 2
    render(report, fmt) -> str            # fmt: text | json | sarif
    read_values(path) -> dict[str, str]   # as python-dotenv reads it
    secret_values(values, example_path) -> list[str]   # what to mask in output

Only ``check`` and ``render`` are imported eagerly: that is the hot path of
``periph env check`` and the pre-commit hook.
"""

from __future__ import annotations

from periph_env.env.checker import check
from periph_env.env.formats import FORMATS, render
from periph_env.env.model import ERROR, WARNING, Finding, Report
from periph_env.env.schema import TARGETS

TYPE_CHECKING = False  # typing itself costs start-up time on the check path
if TYPE_CHECKING:
    from periph_env.env.init_file import InitResult
    from periph_env.env.keydiff import KeyDiff


def diff(env_path: str = ".env", example_path: str = ".env.example") -> KeyDiff:
    """Key names missing from / extra in ``env_path`` compared with the example."""
    from periph_env.env.keydiff import diff as _diff

    return _diff(env_path, example_path)


def init(env_path: str = ".env", example_path: str = ".env.example") -> InitResult:
    """Create ``env_path`` from the example or append the keys it lacks (with a backup).

    ``generate`` keys get fresh random values; symlinks are written through; owner, group
    and mode are kept. Raises UsageError (exit 2) where it cannot read or write safely.
    """
    from periph_env.env.init_file import init as _init

    return _init(env_path, example_path)


def guard(root: str | None = None, env_files: list[str] | None = None) -> list[Finding]:
    """Pre-commit guard findings for what is staged in the git repository at ``root``."""
    from periph_env.env.commit_guard import guard as _guard

    return _guard(root, env_files)


def read_values(path: str, what: str = "env file") -> dict[str, str]:
    """``KEY -> value`` of ``path`` as the services read it (python-dotenv)."""
    from periph_env.env.values_api import read_values as _read_values

    return _read_values(path, what)


def secret_values(values: dict[str, str], example_path: str) -> list[str]:
    """Which of ``values`` are secret (contract, key name, credential shape): to mask."""
    from periph_env.env.values_api import secret_values as _secret_values

    return _secret_values(values, example_path)


__all__ = [
    "ERROR",
    "FORMATS",
    "TARGETS",
    "WARNING",
    "Finding",
    "Report",
    "check",
    "diff",
    "guard",
    "init",
    "read_values",
    "render",
    "secret_values",
]
