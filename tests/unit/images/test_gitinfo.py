"""What git says about a build context: commit, branch, and uncommitted changes per context."""

from __future__ import annotations

import subprocess
from pathlib import Path

from periph_env.images import gitinfo


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=root, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


def repo(tmp_path: Path) -> Path:
    for rel in ("services/a/x.txt", "services/b/y.txt", "docs/readme.md"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("1\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "init")
    return tmp_path


def test_a_clean_tree_has_its_commit_and_branch(tmp_path):
    root = repo(tmp_path)

    state = gitinfo.state(root)

    assert state.sha == git(root, "rev-parse", "HEAD") and state.branch == "main"
    assert state.dirty == []


def test_changes_count_only_under_the_context_they_are_in(tmp_path):
    root = repo(tmp_path)
    (root / "services/b/y.txt").write_text("2\n")
    (root / "services/b/new.txt").write_text("new\n")
    (root / "docs/readme.md").write_text("2\n")

    state = gitinfo.state(root, [root / "services/a", root / "services/b"])

    assert state.dirty_under(root / "services/a") == []
    assert sorted(state.dirty_under(root / "services/b")) == [
        "services/b/new.txt",
        "services/b/y.txt",
    ]
    assert "docs/readme.md" not in state.dirty


def test_a_detached_head_has_no_branch(tmp_path):
    root = repo(tmp_path)
    git(root, "checkout", "-q", "--detach")

    assert gitinfo.state(root).branch is None


def test_outside_git_there_is_no_commit(tmp_path):
    state = gitinfo.state(tmp_path)

    assert (state.sha, state.branch, state.dirty) == (None, None, [])
