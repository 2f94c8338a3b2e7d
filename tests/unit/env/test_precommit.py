"""The pre-commit hooks for real: a temporary git repository, `pre-commit install`, commits.

The hook definitions come from the repo's .pre-commit-hooks.yaml; only the entry is
pointed at this interpreter (language: system) so no hook virtualenv has to be built.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from periph_env.env.commit_guard import is_env_file
from tests.unit.env.conftest import EXAMPLE, GOOD_LOCAL

ROOT = Path(__file__).resolve().parents[3]
SECRET = "Zr8Lq2Nv7Xw4Kt9Bm3Hc6Jd1"


class Repo:
    """A git repository with periph's hooks installed through pre-commit."""

    def __init__(self, path: Path, home: Path) -> None:
        self.path = path
        self.env = {
            **os.environ,
            "PRE_COMMIT_HOME": str(home),
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t.invalid",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t.invalid",
        }

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, cwd=self.path, env=self.env, capture_output=True, text=True,
            check=check, timeout=120,
        )  # fmt: skip

    def write(self, name: str, text: str) -> None:
        (self.path / name).write_text(text)

    def commit(self, *paths: str) -> subprocess.CompletedProcess[str]:
        """Stage ``paths`` and commit; hook output (git prints it on stderr) is in stdout."""
        self.run("git", "add", "-f", *paths)
        result = self.run("git", "commit", "-q", "-m", "change", check=False)
        result.stdout += result.stderr
        return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with the hooks installed and a first commit, made once per module:
    ``pre-commit install`` and a hooked commit were most of each test's time."""
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    for hook in hooks:
        hook["entry"] = f"{sys.executable} -m periph_env {hook['entry'].removeprefix('periph ')}"
        hook["language"] = "system"
    config = {"repos": [{"repo": "local", "hooks": hooks}]}
    base = tmp_path_factory.mktemp("precommit")
    repo = Repo(base / "repo", base / "pre-commit-home")
    repo.path.mkdir()
    repo.run("git", "init", "-q")
    repo.write(".pre-commit-config.yaml", yaml.safe_dump(config))
    repo.write(".env.example", EXAMPLE)
    repo.run(sys.executable, "-m", "pre_commit", "install")
    assert repo.commit(".pre-commit-config.yaml", ".env.example").returncode == 0
    return base


@pytest.fixture
def repo(installed: Path, tmp_path: Path) -> Repo:
    """Each test's own copy of the installed repository (the hook script finds its
    repository at run time, so a copy is a working install)."""
    shutil.copytree(installed, tmp_path / "copy", symlinks=True)
    return Repo(tmp_path / "copy" / "repo", tmp_path / "copy" / "pre-commit-home")


def test_the_hooks_pass_without_a_dot_env(repo: Repo):
    repo.write("app.py", "print('hello')\n")
    result = repo.commit("app.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_check_hook_refuses_a_commit_while_dot_env_is_broken(repo: Repo):
    repo.write(".env", GOOD_LOCAL.replace("DB_PORT=5432", "DB_PORT=abc"))
    repo.write("app.py", "x = 1\n")
    result = repo.commit("app.py")
    assert result.returncode != 0
    assert "PE111" in result.stdout


def test_the_guard_refuses_a_staged_dot_env(repo: Repo):
    repo.write(".env", GOOD_LOCAL)
    result = repo.commit(".env")
    assert result.returncode != 0
    assert ".env:1: PE401 error: .env is a real env file" in result.stdout
    assert repo.run("git", "log", "--oneline").stdout.count("\n") == 1


def test_the_guard_refuses_a_file_holding_a_local_secret_without_printing_it(repo: Repo):
    repo.write(".env", GOOD_LOCAL.replace("not-a-placeholder-but-the-default", SECRET))
    repo.write("settings.py", f"# debug\nJWT = '{SECRET}'\n")
    result = repo.commit("settings.py")
    assert result.returncode != 0
    assert (
        "settings.py:2: PE402 error: settings.py contains the value of JWT_SECRET" in result.stdout
    )
    assert SECRET not in result.stdout


def test_the_guard_ignores_example_defaults_which_are_public_anyway(repo: Repo):
    repo.write(".env", GOOD_LOCAL)
    repo.write("README.md", "The local DB password is devpassword.\n")
    result = repo.commit("README.md")
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        (".env", True),
        ("config/dev/.env", True),
        (".env.prod", True),
        (".env.demo", True),
        ("prod.env", True),
        (".env.bak.20261127-101500", True),
        (".env.example", False),
        (".env.sample", False),
        (".envrc", False),
        ("environment.py", False),
        ("docs/env.md", False),
    ],
)
def test_which_names_count_as_real_env_files(path: str, refused: bool):
    assert is_env_file(path) is refused
