"""Helpers for the env tests: write an example and an env file, run the CLI in-process."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from periph_env.cli import main
from periph_env.env import Report, check

# A small annotated contract used by most rule tests.
EXAMPLE = """\
# @host required
DB_HOST=localhost
# @port required
DB_PORT=5432
# @secret required demo,prod:not-default
DB_PASSWORD=devpassword
# @secret required demo,prod:strong
JWT_SECRET=not-a-placeholder-but-the-default
# @url required
BACKEND_URL=http://localhost:5058
# @bool required demo,prod:off
HOT_RELOAD=true
# @enum=development|staging|production
# @local:value=development demo:value=staging prod:value=production
VITE_ENVIRONMENT=development
# @secret group=google
GOOGLE_CLIENT_SECRET=<your-google-oauth-secret>
# @string group=google
GOOGLE_CLIENT_ID=<your-google-oauth-client-id>
# @email optional
EMAIL_FROM_ADDRESS="Support <no-reply@example.com>"
# @secret optional demo:prefix=sk_test_ prod:prefix=sk_live_
STRIPE_SECRET_KEY=<your-stripe-secret-key>
# @int optional
WORKERS=4
# @secret optional prod:required
POLYGON_API_KEY=<your-polygon-api-key>
"""

# An env file that satisfies EXAMPLE on target local.
GOOD_LOCAL = """\
DB_HOST=localhost
DB_PORT=5432
DB_PASSWORD=devpassword
JWT_SECRET=not-a-placeholder-but-the-default
BACKEND_URL=http://localhost:5058
HOT_RELOAD=true
VITE_ENVIRONMENT=development
"""


def dedent(text: str) -> str:
    """Strip the common indentation of a triple-quoted test file."""
    return textwrap.dedent(text).lstrip("\n")


class Workspace:
    """A temporary project directory with an example and (optionally) an env file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.example = root / ".env.example"
        self.env = root / ".env"
        self.example.write_text(EXAMPLE)

    def write_env(self, text: str, *, extend_good: bool = False) -> Path:
        """Write .env (optionally on top of the good local file) and return its path."""
        self.env.write_text((GOOD_LOCAL if extend_good else "") + dedent(text))
        return self.env

    def check(self, target: str = "local") -> Report:
        """Run the checker on the workspace files."""
        env = str(self.env) if self.env.exists() else None
        return check(env, str(self.example), target)

    def codes(self, target: str = "local") -> list[str]:
        """Codes of all findings, in output order."""
        return [f.code for f in self.check(target).sorted()]

    def finding(self, code: str, target: str = "local"):
        """The single finding with ``code``; fails when there is not exactly one."""
        found = [f for f in self.check(target).findings if f.code == code]
        assert len(found) == 1, f"expected one {code}, got {found}"
        return found[0]


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """A workspace with the test example written and no .env yet."""
    return Workspace(tmp_path)


@pytest.fixture
def run_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str, str]]:
    """Run ``periph ARGS`` in-process in ``cwd``; return (exit code, stdout, stderr)."""

    def run(*args: str, cwd: Path) -> tuple[int, str, str]:
        monkeypatch.chdir(cwd)
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run
