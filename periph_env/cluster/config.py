"""``[dev.cluster]`` in periph.toml: where ``periph up --cluster [NAME]`` puts the dev stack.

::

    [dev.cluster]
    context = "dev-cluster"          # kube context (required)
    registry = "registry:5000/dev"   # default: [images] registry
    user = "alice"                   # default: your login name -> peripheral-dev-alice
    storage = "ephemeral"            # or "claim" (PersistentVolumeClaims for named volumes)
    storage_class = "local"          # claims only; default: the cluster's default class
    volume_size = "1Gi"
    node_selector = { "pool" = "dev" }
    tolerations = [{ key = "pool", value = "dev", effect = "NoSchedule" }]
    quota = { pods = "20", "requests.cpu" = "4" }
    timeout = 600                    # seconds `up` waits for every service to be Ready

    [dev.cluster.gpu]                # `periph up --cluster gpu`: these keys win
    context = "gpu-cluster"

A sub-table (a named cluster) is recognised by being a table; every other key is a
setting. ``$PERIPH_DEV_CLUSTER_CONTEXT`` overrides the context (CI, tests).
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from periph_env.cluster import translate as t
from periph_env.common import config as project_config
from periph_env.errors import UsageError

KNOWN = frozenset(
    {
        "context",
        "registry",
        "user",
        "storage",
        "storage_class",
        "volume_size",
        "node_selector",
        "tolerations",
        "quota",
        "timeout",
    }
)


@dataclass(frozen=True)
class ClusterSettings:
    """One cluster's settings, resolved."""

    name: str | None
    context: str
    registry: str
    user: str
    storage: str = "ephemeral"
    storage_class: str | None = None
    volume_size: str = "1Gi"
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict[str, Any]] = field(default_factory=list)
    quota: dict[str, str] = field(default_factory=lambda: dict(t.DEFAULT_QUOTA))
    timeout: float = 600.0

    @property
    def namespace(self) -> str:
        """``peripheral-dev-<user>``."""
        return t.namespace_for(self.user)


def resolve(
    config: dict[str, Any], name: str | None, where: str = "periph.toml"
) -> ClusterSettings:
    """The settings of cluster ``name`` (None: the ``[dev.cluster]`` defaults) from a
    loaded configuration (pure but for the login-name and environment defaults)."""
    table = (config.get("dev") or {}).get("cluster")
    if not isinstance(table, dict):
        raise UsageError(
            f"{where}: no [dev.cluster] table: periph does not know which cluster to use",
            hint='add [dev.cluster] with context = "<kube context>" (see docs/stack.md)',
        )
    base = {k: v for k, v in table.items() if not isinstance(v, dict) or k in KNOWN}
    if name is not None:
        named = table.get(name)
        if not isinstance(named, dict) or name in KNOWN:
            known = sorted(k for k, v in table.items() if isinstance(v, dict) and k not in KNOWN)
            raise UsageError(
                f"{where}: no cluster named {name!r} under [dev.cluster]",
                hint=f"known: {', '.join(known) or 'none (use `--cluster` alone)'}",
            )
        base.update(named)
    unknown = sorted(set(base) - KNOWN)
    if unknown:
        raise UsageError(
            f"{where}: [dev.cluster{'.' + name if name else ''}]: unknown key(s) "
            f"{', '.join(unknown)}",
            hint=f"known keys: {', '.join(sorted(KNOWN))}",
        )
    context = os.environ.get("PERIPH_DEV_CLUSTER_CONTEXT") or base.get("context")
    if not context:
        raise UsageError(f'{where}: [dev.cluster] needs context = "<kube context>"')
    registry = base.get("registry") or (config.get("images") or {}).get("registry")
    if not registry:
        raise UsageError(
            f"{where}: no registry for the dev images", hint="set registry under [dev.cluster]"
        )
    storage = str(base.get("storage", "ephemeral"))
    if storage not in t.STORAGE_KINDS:
        raise UsageError(
            f"{where}: [dev.cluster] storage = {storage!r}: use one of {', '.join(t.STORAGE_KINDS)}"
        )
    try:
        timeout = float(base.get("timeout", 600))
    except (TypeError, ValueError):
        raise UsageError(f"{where}: [dev.cluster] timeout must be a number of seconds") from None
    user = str(base.get("user") or _login())
    t.user_slug(user)  # a user name that makes no namespace fails here, named
    return ClusterSettings(
        name=name,
        context=str(context),
        registry=str(registry),
        user=user,
        storage=storage,
        storage_class=base.get("storage_class"),
        volume_size=str(base.get("volume_size", "1Gi")),
        node_selector={str(k): str(v) for k, v in (base.get("node_selector") or {}).items()},
        tolerations=list(base.get("tolerations") or []),
        quota={str(k): str(v) for k, v in (base.get("quota") or t.DEFAULT_QUOTA).items()},
        timeout=timeout,
    )


def load(root: Path, name: str | None) -> ClusterSettings:
    """The settings for the project at ``root`` (periph.toml plus the user's overrides)."""
    return resolve(project_config.load(root), name, str(root / project_config.CONFIG_NAME))


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER") or ""
