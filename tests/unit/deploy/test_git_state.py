"""The work tree read once per deploy: commit, branch and changes from one `git status`,
and the deployer's e-mail from git's config files without a process."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from periph_env.deploy.guards import read_git
from periph_env.deploy.history_store import git_email


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "a.txt").write_text("1\n")
    (tmp_path / "old name.txt").write_text("x\n")
    _git(tmp_path, "init", "-q", "-b", "demo")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    return tmp_path


def test_a_clean_tree_gives_its_commit_and_branch(repo: Path):
    state = read_git(repo)
    assert (state.work_tree, state.sha, state.branch, state.changed) == (
        True, _git(repo, "rev-parse", "HEAD"), "demo", (),
    )  # fmt: skip


def test_a_detached_head_has_no_branch(repo: Path):
    _git(repo, "checkout", "-q", "--detach")
    assert read_git(repo).branch == ""


def test_modified_renamed_and_untracked_paths_are_named_once_each(repo: Path):
    (repo / "a.txt").write_text("2\n")
    _git(repo, "mv", "old name.txt", "new name.txt")
    (repo / "with space.txt").write_text("u\n")
    assert sorted(read_git(repo).changed) == ["a.txt", "new name.txt", "with space.txt"]


def test_a_directory_that_is_no_repository_is_said_so(tmp_path: Path):
    assert not read_git(tmp_path / "nowhere").work_tree


def test_the_deployer_email_is_read_from_the_repository_config(
    repo: Path, monkeypatch: pytest.MonkeyPatch
):
    _git(repo, "config", "user.email", "deployer@example.test")
    monkeypatch.chdir(repo)
    assert git_email() == _git(repo, "config", "user.email") == "deployer@example.test"
