"""Watch-rule matching (pure): changed paths in, one reload plan per service out.

No I/O except what the caller passes in (``exists`` / ``is_dir`` / ``walk`` callables and
the ``.dockerignore`` matchers), so every decision — which rule fires, what is ignored,
where a path lands in the container, whether a batch is a sync or a rebuild — is
unit-tested without an engine.

The meaning is ``docker compose watch``'s (``develop.watch`` is the one source of truth):

- a path belongs to a rule when it is the rule's ``path`` or under it, matches the
  rule's ``include`` (if any), and is not ignored by the service's ``.dockerignore``,
  the editor temporaries (``patterns.EPHEMERAL``) or the rule's ``ignore``. Pattern
  meaning is in ``patterns.py`` (``*.pyc`` is top-level only; ``**/*.pyc`` is anywhere).
- a path that is gone is deleted in the container (``rm -rf``: a file or a directory);
- a directory that appeared is copied whole, directories included (so an empty one is
  created), exactly as Compose tars it: ignore entries filter the changed paths, not the
  content of a directory that appears in the batch;
- anything else is copied to ``target / <path relative to the rule path>``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from periph_env.stack.compose_file import WatchRule
from periph_env.stack.reload.patterns import PathMatcher, ephemeral

# Strength: when rules of several kinds fire for one service in a batch, the strongest wins.
KIND_ORDER = ("sync", "sync+exec", "sync+restart", "rebuild")
_NOTHING = PathMatcher("/", ())


@dataclass(frozen=True, slots=True)
class Rule:
    """A ``WatchRule`` with Compose's matchers: its include/ignore entries (relative to
    the rule path) and the service's ``.dockerignore`` (relative to the build context)."""

    rule: WatchRule
    include: PathMatcher | None
    ignore: PathMatcher
    context_ignore: PathMatcher

    @classmethod
    def of(cls, rule: WatchRule, context_ignore: PathMatcher | None = None) -> Rule:
        """Compile ``rule`` (``context_ignore``: its service's ``.dockerignore``)."""
        include = PathMatcher(rule.path, rule.include) if rule.include else None
        return cls(rule, include, PathMatcher(rule.path, rule.ignore), context_ignore or _NOTHING)

    def relative(self, path: Path) -> PurePosixPath | None:
        """``path`` relative to the rule path (``.`` for the path itself); None outside."""
        if path == self.rule.path:
            return PurePosixPath(".")
        if self.rule.path in path.parents:
            return PurePosixPath(path.relative_to(self.rule.path).as_posix())
        return None

    def ignores(self, path: Path) -> bool:
        """Whether a changed ``path`` under the rule is left out (Compose's composite
        matcher: .dockerignore, editor temporaries, the rule's ignore; not included)."""
        if self.include is not None and not self.include.matches(path):
            return True
        return self.context_ignore.matches(path) or ephemeral(path) or self.ignore.matches(path)

    def match(self, path: Path) -> PurePosixPath | None:
        """``path`` relative to the rule when the rule takes it, else None."""
        rel = self.relative(path)
        if rel is None or self.ignores(path):
            return None
        return rel


RuleLike = WatchRule | Rule


def compile_rules(
    rules: Iterable[RuleLike], context_ignores: Mapping[str, PathMatcher] | None = None
) -> list[Rule]:
    """``Rule``s for ``rules``; ``context_ignores`` maps a service to its .dockerignore."""
    ignores = context_ignores or {}
    return [r if isinstance(r, Rule) else Rule.of(r, ignores.get(r.service)) for r in rules]


@dataclass(slots=True)
class ServicePlan:
    """What one batch of changes means for one service."""

    service: str
    kind: str
    # host path (file, directory or symlink) → container path; directories come before
    # what is inside them
    copies: list[tuple[Path, str]] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)  # container paths
    files: list[Path] = field(default_factory=list)  # changed host paths that matched
    trigger: Path | None = None  # the file that forced a rebuild
    exec_command: tuple[str, ...] = ()


def rule_for(path: Path, rules: Iterable[RuleLike]) -> list[tuple[Rule, PurePosixPath]]:
    """Every rule that takes ``path``, with ``path`` relative to it."""
    out = []
    for rule in compile_rules(rules):
        rel = rule.match(path)
        if rel is not None:
            out.append((rule, rel))
    return out


def container_path(rule: WatchRule, rel: PurePosixPath) -> str:
    """Where a host path under ``rule.path`` lands in the container."""
    target = PurePosixPath(rule.target or "/")
    return str(target if rel == PurePosixPath(".") else target / rel)


def plan(
    paths: Iterable[Path],
    rules: Iterable[RuleLike],
    exists: Callable[[Path], bool],
    walk: Callable[[Path], Iterable[Path]] = lambda _p: (),
    is_dir: Callable[[Path], bool] = Path.is_dir,
) -> dict[str, ServicePlan]:
    """The reload each service needs for a batch of changed ``paths``.

    ``exists(path)`` says whether a path is still there (absent means deleted, decided
    now rather than from the event type, since a batch may create and delete a path);
    ``is_dir``/``walk`` list what is inside a directory that appeared (every entry under
    it, directories too). Rebuild wins over sync; the strongest sync kind wins.
    """
    compiled = compile_rules(rules)
    plans: dict[str, ServicePlan] = {}
    copies: dict[str, dict[str, Path]] = {}  # service → container path → host path
    deletes: dict[str, dict[str, None]] = {}
    for path in sorted(set(paths)):
        for rule, rel in rule_for(path, compiled):
            spec = rule.rule
            plan_ = plans.get(spec.service)
            if plan_ is None:
                plan_ = plans[spec.service] = ServicePlan(spec.service, spec.action)
            elif KIND_ORDER.index(spec.action) > KIND_ORDER.index(plan_.kind):
                plan_.kind = spec.action
            plan_.files.append(path)
            if spec.action == "rebuild":
                plan_.trigger = plan_.trigger or path
                continue
            if spec.action == "sync+exec":
                plan_.exec_command = spec.exec_command
            target = container_path(spec, rel)
            if not exists(path):
                deletes.setdefault(spec.service, {})[target] = None
                continue
            service_copies = copies.setdefault(spec.service, {})
            service_copies[target] = path  # last one wins, as in Compose's archive
            if is_dir(path):
                for entry in sorted(walk(path)):
                    inner = PurePosixPath(entry.relative_to(path).as_posix())
                    service_copies[str(PurePosixPath(target) / inner)] = entry
    for service, plan_ in plans.items():
        if plan_.kind == "rebuild":
            continue
        plan_.deletes = list(deletes.get(service, {}))
        plan_.copies = [(host, target) for target, host in sorted(copies.get(service, {}).items())]
    return plans


def watch_roots(rules: Iterable[RuleLike]) -> tuple[list[Path], list[Path]]:
    """(directories to watch recursively, directories to watch non-recursively).

    A rule on a single file watches its parent non-recursively, so ``package.json`` does
    not put ``node_modules`` under inotify; nested roots are dropped."""
    recursive, flat = set(), set()
    for rule in rules:
        spec = rule.rule if isinstance(rule, Rule) else rule
        if spec.path.is_file() or (not spec.path.exists() and spec.path.suffix):
            flat.add(spec.path.parent)
        else:
            recursive.add(spec.path)
    recursive = {p for p in recursive if not any(q in p.parents for q in recursive)}
    flat = {p for p in flat if p not in recursive and not any(q in p.parents for q in recursive)}
    return sorted(recursive), sorted(flat)
