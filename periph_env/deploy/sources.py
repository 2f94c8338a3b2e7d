"""Inputs a deploy reads from the work tree: image pins and the secrets source.

Image pins: ``images[]`` of ``<overlay>/release/kustomization.yaml``, written by
``periph build --push``. Read here in one place (``read_pins``) so it can switch to
``periph_env.images.read_pins`` once that exists.

Secrets: ``.env.<env>`` parsed exactly as the services read it (python-dotenv: quotes
removed, escapes applied, ``${VAR}`` expanded from earlier lines) through the env
engine; in CI (``CI=true``) without that file, the process environment.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from periph_env.deploy.target import Target
from periph_env.errors import UsageError

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}\Z")


@dataclass(frozen=True)
class Pin:
    """One image as the release pins it."""

    name: str  # the name the manifests use (peripheral-backend)
    repository: str  # where it is pulled from (registry/peripheral-backend)
    tag: str
    digest: str  # "" when not pinned

    @property
    def reference(self) -> str:
        """``repository@digest`` (``repository:tag`` when not pinned)."""
        return (
            f"{self.repository}@{self.digest}" if self.digest else f"{self.repository}:{self.tag}"
        )


def read_pins(target: Target) -> list[Pin]:
    """The pins of ``target``'s release component; UsageError naming the file if unreadable."""
    try:
        from periph_env.images import read_pins as images_read_pins  # issue 10's API
    except ImportError:
        images_read_pins = None
    path = target.release_dir / "kustomization.yaml"
    if images_read_pins is not None:
        try:
            entries = images_read_pins(target.root, target.name)
        except (TypeError, AttributeError):
            entries = None
        if entries is not None and all(isinstance(e, dict) for e in entries):
            return [_pin(e, target, path) for e in entries]
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: invalid YAML: {exc}") from None
    return [_pin(entry, target, path) for entry in data.get("images") or []]


def _pin(entry: dict, target: Target, path: Path) -> Pin:
    name = str(entry.get("name", ""))
    digest = str(entry.get("digest", "") or "")
    if digest and not _DIGEST.match(digest):
        raise UsageError(f"{path}: image {name}: {digest!r} is not a sha256 digest")
    new_name = str(entry.get("newName") or name)
    first = new_name.split("/", 1)[0]
    has_registry = "/" in new_name and ("." in first or ":" in first or first == "localhost")
    repository = (
        new_name if has_registry or not target.registry else f"{target.registry}/{new_name}"
    )
    return Pin(name, repository, str(entry.get("newTag") or target.tag), digest)


@dataclass(frozen=True)
class SecretSource:
    """Where the secret values came from and the values (never printed)."""

    origin: str  # the file path, or "process environment"
    path: Path | None
    values: dict[str, str]

    def secret_values(self) -> list[str]:
        """Every non-trivial value, for masking (short values would mask ordinary words)."""
        return [v for v in self.values.values() if len(v) >= 4]


def in_ci() -> bool:
    """Whether periph runs in CI (``CI=true``), where secrets come from the environment."""
    return os.environ.get("CI", "").lower() == "true"


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY -> value`` as python-dotenv reads ``path`` (via the env engine's parser)."""
    from periph_env.env.checker import effective, load

    parsed = load(str(path), "secrets file")
    return {key: value.expanded for key, value in effective(parsed.entries).items()}


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
        return SecretSource(str(path), path, read_env_file(path))
    if in_ci():
        keys = example_keys(target.root)
        values = {k: os.environ[k] for k in keys if k in os.environ}
        return SecretSource("process environment", None, values)
    raise UsageError(
        f"secrets file {path} not found",
        hint=f"create it from .env.example (periph env init --env-file {path.name}); "
        "in CI set CI=true and export the keys instead",
    )
