"""What git says about the work tree: commit, branch, and uncommitted changes under paths."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from periph_env.common import run


@dataclass(frozen=True)
class GitState:
    sha: str | None  # None outside a git repository (or before the first commit)
    branch: str | None  # None on a detached HEAD or outside git
    dirty: list[str]  # changed or untracked paths under the paths asked about
    top: Path | None = None  # the work tree's top directory (dirty paths are relative to it)

    def dirty_under(self, path: Path) -> list[str]:
        """The dirty paths inside ``path``."""
        if self.top is None:
            return []
        try:
            prefix = path.resolve().relative_to(self.top).as_posix()
        except ValueError:
            return []
        if prefix in ("", "."):
            return list(self.dirty)
        return [d for d in self.dirty if d == prefix or d.startswith(prefix + "/")]


def state(root: Path, paths: list[Path] | None = None) -> GitState:
    """The commit, branch and uncommitted changes (under ``paths`` only, when given).

    Only the build contexts matter for an image: a changed doc does not make the
    backend image differ from its commit. Two git calls (this is on the no-op path).
    """
    if shutil.which("git") is None:
        return GitState(None, None, [])
    top = run(["git", "-C", str(root), "rev-parse", "--show-toplevel"], check=False)
    if top.returncode != 0:
        return GitState(None, None, [])
    pathspec = [str(p) for p in (paths or [])]
    status = run(
        ["git", "-C", str(root), "status", "--porcelain=v2", "--branch",
         "--untracked-files=all", "--", *pathspec],
        check=False,
    )  # fmt: skip
    sha = branch = None
    dirty: list[str] = []
    for line in status.stdout.splitlines():
        if line.startswith("# branch.oid "):
            value = line.split(" ", 2)[2]
            sha = None if value == "(initial)" else value
        elif line.startswith("# branch.head "):
            value = line.split(" ", 2)[2]
            branch = None if value == "(detached)" else value
        elif line[:2] in ("1 ", "2 ", "u ", "? "):
            fields = {"1": 8, "2": 9, "u": 10, "?": 1}[line[0]]
            dirty.append(line.split(" ", fields)[fields].split("\t", 1)[0])
    return GitState(sha, branch, dirty, Path(top.stdout.strip()).resolve())
