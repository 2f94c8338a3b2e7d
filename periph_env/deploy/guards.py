"""The checks a deploy must pass before anything is applied, all run and reported together.

context (the configured one, never current-context), branch (overridable for demo only),
a clean work tree, ``periph env check --target <env>`` on the secrets source, every image
present in the registry at its pinned digest, and confirmation for production.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from periph_env.common.process import run
from periph_env.deploy import registry
from periph_env.deploy.events import GuardResult
from periph_env.deploy.kube import Kube
from periph_env.deploy.kube_reach import ClusterUnreachable
from periph_env.deploy.sources import SecretSource
from periph_env.deploy.target import Target
from periph_env.errors import PeriphError


def git(root: Path, *args: str) -> str:
    """``git -C root ARGS`` stdout, stripped ("" when git fails: not a repository)."""
    proc = run(["git", "-C", str(root), *args], check=False)
    return proc.stdout.strip() if proc.returncode == 0 else ""


@dataclass(frozen=True)
class GitState:
    """What a deploy needs of the work tree, from one ``git status`` process: the commit,
    the branch ("" when detached) and every uncommitted or untracked path."""

    work_tree: bool
    sha: str = ""
    branch: str = ""
    changed: tuple[str, ...] = ()


def read_git(root: Path) -> GitState:
    """``git status --porcelain=v2 --branch -z`` at ``root``, parsed (one process: the
    branch guard, the clean-tree guard, the lock and the history record all read it)."""
    proc = run(["git", "-C", str(root), "status", "--porcelain=v2", "--branch", "-z"], check=False)
    if proc.returncode != 0:
        return GitState(False)
    sha = branch = ""
    changed: list[str] = []
    records = iter(r for r in proc.stdout.split("\0") if r)
    for record in records:
        if record.startswith("# branch.oid "):
            sha = record.split(" ", 2)[2]
            sha = "" if sha == "(initial)" else sha
        elif record.startswith("# branch.head "):
            head = record.split(" ", 2)[2]
            branch = "" if head == "(detached)" else head
        elif record.startswith(("1 ", "u ")):  # changed (1: 8 fields, u: 10) then the path
            changed.append(record.split(" ", 8 if record[0] == "1" else 10)[-1])
        elif record.startswith("2 "):  # renamed or copied: the path, then its source
            changed.append(record.split(" ", 9)[-1])
            next(records, None)
        elif record.startswith("? "):
            changed.append(record[2:])
    return GitState(True, sha, branch, tuple(changed))


def context_guard(target: Target, kube: Kube) -> GuardResult:
    """The configured context exists in the kubeconfig and its API server answers."""
    names, current = kube.contexts()
    var = f"PERIPH_{target.name.upper()}_CONTEXT"
    if target.context not in names:
        return GuardResult(
            "context",
            False,
            f"kube context {target.context!r} is not in the kubeconfig "
            f"(current-context is {current or 'unset'}; periph never uses it)",
            hint=f"set [environments.{target.name}] context in periph.toml, or {var}",
        )
    try:
        kube.version()  # through the client: no kubectl process
    except ClusterUnreachable:
        raise  # one clear failure naming the endpoint, as every other request's
    except PeriphError as exc:  # an error status (401, 403): the context is not usable
        return GuardResult("context", False, exc.message, hint=exc.hint)
    return GuardResult("context", True, f"kube context {target.context}")


def branch_guard(target: Target, branch: str, override: bool) -> GuardResult:
    """HEAD is on the environment's branch, unless overridden where that is allowed."""
    if branch == target.branch:
        return GuardResult("branch", True, f"on branch {branch}")
    shown = branch or "(no branch: detached HEAD or not a git repository)"
    if override and target.allow_branch_override:
        return GuardResult(
            "branch", True, f"on branch {shown}, overridden (expected {target.branch})"
        )
    hint = (
        f"check out {target.branch}, or pass --allow-branch"
        if target.allow_branch_override
        else f"check out {target.branch}; {target.name} allows no branch override"
    )
    return GuardResult(
        "branch", False, f"on branch {shown}, {target.name} deploys {target.branch}", hint
    )


def clean_tree_guard(
    root: Path, pins: Path | None = None, state: GitState | None = None
) -> GuardResult:
    """No uncommitted change, staged or not, and no untracked file (ignored files are fine).

    ``pins`` (the environment's release kustomization) may differ: ``periph build --pin``
    writes the digests there right before a deploy (CI does exactly that), and the image
    guard checks every pinned digest against the registry anyway. ``state``: the work
    tree as already read (``read_git``), else read here.
    """
    state = state if state is not None else read_git(root)
    if not state.work_tree:
        return GuardResult("clean-tree", False, f"{root} is not a git work tree")
    allowed = str(pins.resolve().relative_to(root.resolve())) if pins is not None else None
    dirty = [path for path in state.changed if path != allowed]
    if dirty:
        shown = ", ".join(dirty[:5]) + (" ..." if len(dirty) > 5 else "")
        return GuardResult(
            "clean-tree",
            False,
            f"{len(dirty)} uncommitted change(s): {shown}",
            hint="commit or stash them: a deploy must match a commit",
        )
    note = " (image pins excepted)" if state.changed else ""
    return GuardResult("clean-tree", True, f"work tree clean{note}")


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def env_check_guard(
    target: Target, source: SecretSource | None, error: PeriphError | None
) -> GuardResult:
    """``periph env check --target <env>`` passes on the secrets source."""
    from periph_env.env import ERROR, check

    if source is None:
        if error is None:
            return GuardResult("env-check", False, "no secrets source")
        return GuardResult("env-check", False, error.message, error.hint)
    example = str(target.root / ".env.example")
    if source.path is not None:
        report = check(str(source.path), example, target.name, env_required=True)
    else:
        # CI: the values live in the process environment; the checker reads files, so hand
        # it a private temporary copy that is removed at once.
        fd, tmp = tempfile.mkstemp(prefix="periph-secrets-", suffix=".env")
        try:
            with os.fdopen(fd, "w") as out:
                out.writelines(f"{k}={_quoted(v)}\n" for k, v in source.values.items())
            report = check(tmp, example, target.name, env_required=True)
        finally:
            os.unlink(tmp)
    errors = [f for f in report.findings if f.severity == ERROR]
    if errors:
        shown = "; ".join(f"{f.code} {f.key or ''}: {f.message}" for f in errors[:3])
        more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
        return GuardResult(
            "env-check",
            False,
            f"{source.origin}: {len(errors)} error(s): {shown}{more}",
            hint=f"run: periph env check --env-file {source.origin} --target {target.name}",
        )
    return GuardResult(
        "env-check", True, f"{source.origin} passes env check --target {target.name}"
    )


def _repository(image: str) -> str:
    """``host/path/name`` of an image reference, without tag or digest."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return name[: len(name) - len(last)] + last.split(":", 1)[0]


def images_guard(rendered: list[str], env: str = "ENV") -> GuardResult:
    """Every image the manifests use is pinned by digest and present in the registry.

    ``env`` is the target's name: the hint names the command that pins for it.
    """
    problems = []
    checked: set[str] = set()
    for image in sorted(set(rendered)):
        if "@sha256:" not in image:
            problems.append(f"{image}: not pinned by digest")
            continue
        repo, digest = _repository(image), image.split("@", 1)[1]
        first = repo.split("/", 1)[0]
        if "/" not in repo or not ("." in first or ":" in first or first == "localhost"):
            problems.append(f"{image}: names no registry")
            continue
        checked.add(f"{repo}@{digest}")
    problems += registry.missing(checked)
    if problems:
        return GuardResult(
            "images",
            False,
            "; ".join(problems),
            # `--push` alone records digests but leaves the overlay unpinned: `--pin` writes them.
            hint=f"build, push and pin them: `periph build --push --pin {env}`",
        )
    return GuardResult("images", True, f"{len(checked)} images present at their pinned digests")


def confirmation_guard(target: Target, yes: bool) -> GuardResult:
    """Production deploys need ``--yes``."""
    if target.is_production and not yes:
        return GuardResult(
            "confirmation",
            False,
            f"{target.name} is production: refusing without --yes",
            hint=f"periph deploy {target.name} --yes",
        )
    return GuardResult("confirmation", True, "confirmed" if target.is_production else "not needed")


def safely(name: str, check: Callable[[], GuardResult]) -> GuardResult:
    """Run one guard; an error inside it refuses with its (masked) message instead of raising."""
    try:
        return check()
    except PeriphError as exc:
        return GuardResult(name, False, exc.message, exc.hint)
