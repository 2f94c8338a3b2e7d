"""A deploy target (``demo``, ``prod``) resolved from ``periph.toml`` and its overrides."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from periph_env.common.config import CONFIG_NAME, load
from periph_env.errors import UsageError

_REQUIRED = ("branch", "namespace", "context", "overlay")


@dataclass(frozen=True)
class Target:
    """Everything a deploy needs to know about one environment."""

    name: str
    root: Path
    branch: str
    namespace: str
    context: str
    overlay: Path
    tag: str
    secrets_file: Path
    allow_branch_override: bool
    registry: str
    kubeconfig: str | None  # None: kubectl's own default (KUBECONFIG or ~/.kube/config)

    @property
    def migrate_overlay(self) -> Path:
        """``<overlay>/migrate``: the migration Job sharing the overlay's image pins."""
        return self.overlay / "migrate"

    @property
    def persistent_overlay(self) -> Path:
        """``<overlay>/persistent``: the Namespace and claims, applied first, never pruned."""
        return self.overlay / "persistent"

    @property
    def release_dir(self) -> Path:
        """``<overlay>/release``: the component holding the image pins."""
        return self.overlay / "release"

    @property
    def is_production(self) -> bool:
        """Production-like targets need explicit confirmation (``--yes``)."""
        return not self.allow_branch_override


def environments(root: str | Path) -> list[str]:
    """Names of the configured environments."""
    return sorted(load(root).get("environments", {}))


def resolve(root: str | Path, name: str) -> Target:
    """The target ``name`` from the merged configuration; UsageError when incomplete."""
    root = Path(root)
    config = load(root)
    envs = config.get("environments", {})
    if name not in envs:
        known = ", ".join(sorted(envs)) or "none"
        raise UsageError(
            f"no environment {name!r} in {root / CONFIG_NAME} (configured: {known})",
            hint=f"add an [environments.{name}] table",
        )
    env = envs[name]
    missing = [k for k in _REQUIRED if not env.get(k)]
    if missing:
        raise UsageError(
            f"[environments.{name}] in {root / CONFIG_NAME} lacks {', '.join(missing)}"
        )
    registry = str(config.get("images", {}).get("registry", "")).rstrip("/")
    return Target(
        name=name,
        root=root,
        branch=str(env["branch"]),
        namespace=str(env["namespace"]),
        context=str(env["context"]),
        overlay=root / env["overlay"],
        tag=str(env.get("tag", name)),
        secrets_file=root / env.get("secrets_file", f".env.{name}"),
        allow_branch_override=bool(env.get("allow_branch_override", False)),
        registry=registry,
        kubeconfig=os.environ.get("KUBECONFIG") or None,
    )
