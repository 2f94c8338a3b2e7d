"""The clean-tree guard: a deploy must match a commit, except for the image pins that
`periph build --pin` writes right before it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from periph_env.deploy.guards import clean_tree_guard

PINS = Path("k8s/overlays/demo/release/kustomization.yaml")


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / PINS).parent.mkdir(parents=True)
    (tmp_path / PINS).write_text("images: []\n")
    (tmp_path / "app.txt").write_text("v1\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    return tmp_path


def test_a_committed_tree_passes(repo: Path):
    assert clean_tree_guard(repo, repo / PINS).ok


def test_changed_image_pins_alone_pass(repo: Path):
    (repo / PINS).write_text("images: [{name: x, digest: 'sha256:00'}]\n")
    result = clean_tree_guard(repo, repo / PINS)
    assert result.ok
    assert "pins" in result.message


def test_any_other_change_refuses_and_names_the_file(repo: Path):
    (repo / PINS).write_text("changed\n")
    (repo / "app.txt").write_text("v2\n")
    result = clean_tree_guard(repo, repo / PINS)
    assert not result.ok
    assert "app.txt" in result.message
    assert "kustomization" not in result.message


def test_an_untracked_file_with_an_odd_name_refuses(repo: Path):
    (repo / "a\nb").write_text("x")
    result = clean_tree_guard(repo, repo / PINS)
    assert not result.ok
