"""Inputs a deploy reads from the work tree: image pins and the secrets source.

Image pins: ``images[]`` of ``<overlay>/release/kustomization.yaml``, written by
``periph build --push``; read in one place (``periph_env.images.read_pins``).

Secrets: ``.env.<env>`` parsed exactly as the services read it (python-dotenv: quotes
removed, escapes applied, ``${VAR}`` expanded from earlier lines) through the env
engine; in CI (``CI=true``) without that file, the process environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from periph_env.deploy.target import Target
from periph_env.errors import UsageError


def pinned_images(target: Target) -> dict[str, str]:
    """``{service: "<registry>/peripheral-<svc>@sha256:..."}`` for every digest-pinned image,
    as ``periph_env.images.read_pins`` reads them (the one reader: it writes them too)."""
    from periph_env.images.pins import read_pins

    return dict(read_pins(target.root, target.name))


@dataclass(frozen=True)
class SecretSource:
    """Where the Secrets' values came from, the values, and which are secret (never
    printed). ``secrets``: see ``periph_env.env.secret_values``."""

    origin: str  # the file path, or "process environment"
    path: Path | None
    values: dict[str, str]
    secrets: tuple[str, ...] = ()

    def secret_values(self) -> list[str]:
        """The values every output of a deploy masks (a user name or a port stays readable:
        masking them would turn every "5432" or "peripheral" in a log into ****)."""
        return list(self.secrets)


def in_ci() -> bool:
    """Whether periph runs in CI (``CI=true``), where secrets come from the environment."""
    return os.environ.get("CI", "").lower() == "true"


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY -> value`` as python-dotenv reads ``path`` (via the env engine's parser)."""
    from periph_env.env import read_values

    return read_values(str(path), "secrets file")


def _source(origin: str, path: Path | None, values: dict[str, str], root: Path) -> SecretSource:
    from periph_env.env import secret_values

    secrets = secret_values(values, str(root / ".env.example"))
    return SecretSource(origin, path, values, tuple(secrets))


def example_keys(root: Path) -> list[str]:
    """Keys the contract (``.env.example``) defines."""
    path = root / ".env.example"
    if not path.is_file():
        return []
    return list(read_env_file(path))


def read_source(target: Target) -> SecretSource:
    """The secrets for ``target``: its env file, or in CI the process environment."""
    path = target.secrets_file
    if path.is_file():
        return _source(str(path), path, read_env_file(path), target.root)
    if in_ci():
        keys = example_keys(target.root)
        values = {k: os.environ[k] for k in keys if k in os.environ}
        return _source("process environment", None, values, target.root)
    raise UsageError(
        f"secrets file {path} not found",
        hint=f"create it from .env.example (periph env init --env-file {path.name}); "
        "in CI set CI=true and export the keys instead",
    )
