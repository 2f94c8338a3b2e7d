"""The project's configuration: ``periph.toml``, a per-user override, then the environment.

Layers, later wins: the committed ``periph.toml`` at the project root, the user's
``$XDG_CONFIG_HOME/periph/config.toml`` (same tables, merged key by key), then environment
variables (``PERIPH_REGISTRY``, ``PERIPH_<ENV>_CONTEXT``). A malformed file is a
``UsageError`` naming the file and the line.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from periph_env.common.paths import config_dir
from periph_env.errors import UsageError

CONFIG_NAME = "periph.toml"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends with "(at line L, column C)": keep it, lead with the file.
        raise UsageError(f"{path}: invalid TOML: {exc}") from None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load(root: str | Path) -> dict[str, Any]:
    """The merged configuration for the project at ``root`` (environment overrides applied)."""
    config = _merge(_read_toml(Path(root) / CONFIG_NAME), _read_toml(config_dir() / "config.toml"))
    images = config.setdefault("images", {})
    if os.environ.get("PERIPH_REGISTRY"):
        images["registry"] = os.environ["PERIPH_REGISTRY"]
    for name, env in config.get("environments", {}).items():
        var = "PERIPH_" + re.sub(r"[^A-Z0-9]", "_", name.upper()) + "_CONTEXT"
        if os.environ.get(var):
            env["context"] = os.environ[var]
    return config


def registry(root: str | Path) -> str:
    """The image registry (host[:port][/path]) builds push to and deploys pull from."""
    value = load(root).get("images", {}).get("registry")
    if not value:
        raise UsageError(
            f"no image registry configured in {Path(root) / CONFIG_NAME}",
            hint="set [images] registry there, or PERIPH_REGISTRY",
        )
    return str(value).rstrip("/")
