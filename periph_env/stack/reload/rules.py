"""Watch-rule matching (pure): changed paths in, one reload plan per service out.

No I/O except what the caller passes in (``exists`` / ``walk`` callables), so every
decision — which rule fires, what is ignored, where a file lands in the container,
whether a batch is a sync or a rebuild — is unit-tested without an engine.

Ignore patterns follow Compose's ``develop.watch.ignore`` but read like ``.gitignore``
(what users expect): a pattern without ``/`` matches any path component (``*.pyc``,
``__pycache__/``), a pattern with ``/`` matches from the rule's path, and a trailing
``/`` matches a directory and everything under it. Editor temp files are always ignored.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from periph_env.stack.compose_file import WatchRule

# Files editors write next to the real one while saving (vim, emacs, JetBrains, macOS).
EDITOR_TEMP = (
    "*.swp",
    "*.swx",
    "*.swo",
    "*~",
    ".#*",
    "#*#",
    "4913",
    "*.tmp",
    "*___jb_tmp___",
    "*___jb_old___",
    ".DS_Store",
)
# Strength: when rules of several kinds fire for one service in a batch, the strongest wins.
KIND_ORDER = ("sync", "sync+exec", "sync+restart", "rebuild")


@dataclass(slots=True)
class ServicePlan:
    """What one batch of changes means for one service."""

    service: str
    kind: str
    copies: list[tuple[Path, str]] = field(default_factory=list)  # host file, container path
    deletes: list[str] = field(default_factory=list)  # container paths
    files: list[Path] = field(default_factory=list)  # changed host paths that matched
    trigger: Path | None = None  # the file that forced a rebuild
    exec_command: tuple[str, ...] = ()


def _matches(pattern: str, rel: PurePosixPath) -> bool:
    pattern = pattern.strip("/")  # a trailing "/" (directory) matches it and all under it
    if not pattern:
        return False
    parts = rel.parts
    if "/" in pattern:
        # Anchored at the rule path: compare the path's leading components.
        depth = pattern.count("/") + 1
        return len(parts) >= depth and fnmatch.fnmatchcase("/".join(parts[:depth]), pattern)
    return any(fnmatch.fnmatchcase(part, pattern) for part in parts)


def ignored(rel: PurePosixPath, patterns: Iterable[str]) -> bool:
    """Whether ``rel`` (relative to a rule's path) is ignored by ``patterns`` or is an
    editor temp file."""
    name = rel.name
    if any(fnmatch.fnmatchcase(name, p) for p in EDITOR_TEMP):
        return True
    return any(_matches(p, rel) for p in patterns)


def rule_for(path: Path, rules: Iterable[WatchRule]) -> list[tuple[WatchRule, PurePosixPath]]:
    """Every rule whose path is ``path`` or contains it, with ``path`` relative to it
    (``.`` for the rule path itself), leaving out rules that ignore it."""
    out = []
    for rule in rules:
        if path == rule.path:
            rel = PurePosixPath(".")
        elif rule.path in path.parents:
            rel = PurePosixPath(path.relative_to(rule.path).as_posix())
        else:
            continue
        check = PurePosixPath(path.name) if rel == PurePosixPath(".") else rel
        if ignored(check, rule.ignore):
            continue
        out.append((rule, rel))
    return out


def container_path(rule: WatchRule, rel: PurePosixPath) -> str:
    """Where a host file under ``rule.path`` lands in the container."""
    target = PurePosixPath(rule.target or "/")
    return str(target if rel == PurePosixPath(".") else target / rel)


def plan(
    paths: Iterable[Path],
    rules: list[WatchRule],
    exists: Callable[[Path], bool],
    walk: Callable[[Path], Iterable[Path]] = lambda _p: (),
) -> dict[str, ServicePlan]:
    """The reload each service needs for a batch of changed ``paths``.

    ``exists(path)`` says whether a path is still there (absent means deleted, decided
    now rather than from the event type, since a batch may create and delete a file);
    ``walk(dir)`` lists the files under a directory that appeared (a new folder, a
    branch switch). Rebuild wins over sync; the strongest sync kind wins among syncs.
    """
    plans: dict[str, ServicePlan] = {}
    seen: set[tuple[str, str]] = set()
    for path in sorted(set(paths)):
        for rule, rel in rule_for(path, rules):
            plan_ = plans.get(rule.service)
            if plan_ is None:
                plan_ = plans[rule.service] = ServicePlan(rule.service, rule.action)
            elif KIND_ORDER.index(rule.action) > KIND_ORDER.index(plan_.kind):
                plan_.kind = rule.action
            plan_.files.append(path)
            if rule.action == "rebuild":
                plan_.trigger = plan_.trigger or path
                continue
            if rule.action == "sync+exec":
                plan_.exec_command = rule.exec_command
            if not exists(path):
                target = container_path(rule, rel)
                if ("d", target) not in seen:
                    seen.add(("d", target))
                    plan_.deletes.append(target)
                continue
            for file in [path, *walk(path)] if path.is_dir() else [path]:
                if file.is_dir():
                    continue
                sub = rule_for(file, [rule])
                if not sub:
                    continue
                target = container_path(rule, sub[0][1])
                if ("c", target) not in seen:
                    seen.add(("c", target))
                    plan_.copies.append((file, target))
    for plan_ in plans.values():
        if plan_.kind == "rebuild":
            plan_.copies, plan_.deletes = [], []
    return plans


def watch_roots(rules: Iterable[WatchRule]) -> tuple[list[Path], list[Path]]:
    """(directories to watch recursively, directories to watch non-recursively).

    A rule on a single file watches its parent non-recursively, so ``package.json`` does
    not put ``node_modules`` under inotify; nested roots are dropped."""
    recursive, flat = set(), set()
    for rule in rules:
        if rule.path.is_file() or (not rule.path.exists() and rule.path.suffix):
            flat.add(rule.path.parent)
        else:
            recursive.add(rule.path)
    recursive = {p for p in recursive if not any(q in p.parents for q in recursive)}
    flat = {p for p in flat if p not in recursive and not any(q in p.parents for q in recursive)}
    return sorted(recursive), sorted(flat)
