"""Which services have images, where their build contexts are, and what they are tagged.

Conventions (overridable per service in ``periph.toml`` under ``[images.build.<svc>]``
with ``context``, ``dockerfile`` and ``args``; ``args`` also per environment under
``[environments.<env>.build.<svc>]``): the context is ``services/<svc>`` and the
Dockerfile is its ``Dockerfile.prod``, or its ``Dockerfile`` when there is no prod one
(db, cache). The backend is the exception: its context is ``services/`` so its image can
carry ``db/migrations`` for the migrate Job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from periph_env.errors import UsageError

IMAGE_PREFIX = "peripheral-"
DEFAULT_SERVICES = ("backend", "frontend", "worker", "db", "cache")
# Built-in per-service overrides of the convention (paths relative to the project root).
_BUILTIN = {"backend": {"context": "services", "dockerfile": "backend/Dockerfile.prod"}}
_TAG_BAD = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class ServiceSpec:
    """How to build one service's production image."""

    name: str
    context: Path  # absolute
    dockerfile: str  # relative to the context, forward slashes
    args: dict[str, str] = field(default_factory=dict)

    @property
    def dockerfile_path(self) -> Path:
        return self.context / self.dockerfile


def image_repository(registry: str, service: str) -> str:
    """``<registry>/peripheral-<service>``."""
    return f"{registry.rstrip('/')}/{IMAGE_PREFIX}{service}"


def service_of(image_name: str) -> str | None:
    """The service an image name (``[registry/]peripheral-<svc>``) belongs to, if any."""
    last = image_name.rsplit("/", 1)[-1]
    return last[len(IMAGE_PREFIX) :] if last.startswith(IMAGE_PREFIX) else None


def tag_for_branch(branch: str) -> str:
    """A branch name as a valid image tag (``feature/x`` -> ``feature-x``, ≤ 128 chars)."""
    tag = _TAG_BAD.sub("-", branch).strip(".-") or "detached"
    if not re.match(r"[A-Za-z0-9_]", tag):
        tag = "b" + tag
    return tag[:128]


def configured_services(config: dict[str, Any]) -> list[str]:
    """The services with images, from ``[images] services`` (default: the five)."""
    services = config.get("images", {}).get("services") or list(DEFAULT_SERVICES)
    return [str(s) for s in services]


def select(config: dict[str, Any], wanted: list[str] | None) -> list[str]:
    """``wanted`` checked against the configured services (all of them when empty)."""
    known = configured_services(config)
    if not wanted:
        return known
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise UsageError(
            f"unknown service(s): {', '.join(unknown)}",
            hint=f"services with images: {', '.join(known)}",
        )
    return list(dict.fromkeys(wanted))


def environment_for(config: dict[str, Any], pin: str | None, branch: str | None) -> str | None:
    """The environment a build is for: the one ``--pin`` names, else the one whose
    ``branch`` (or ``tag``) the current branch is, else None (a feature branch)."""
    if pin:
        return pin
    if not branch:
        return None
    tag = tag_for_branch(branch)
    for name, env in (config.get("environments") or {}).items():
        if tag in (tag_for_branch(str(env.get("branch", name))), str(env.get("tag", name))):
            return str(name)
    return None


def _build_args(table: Any, where: str) -> dict[str, str]:
    """``args`` of one periph.toml build table as strings; anything but scalars refused."""
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise UsageError(f"periph.toml: {where} args must be a table of NAME = value")
    bad = [k for k, v in table.items() if not isinstance(v, (str, int, float, bool))]
    if bad:
        raise UsageError(
            f"periph.toml: {where} args.{bad[0]} must be a string, number or boolean",
            hint="build arguments are passed to docker as NAME=value",
        )
    return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in table.items()}


def spec(
    root: Path, config: dict[str, Any], service: str, environment: str | None = None
) -> ServiceSpec:
    """Where ``service`` builds from (the Dockerfile may not exist; the build says so).

    Build arguments come from ``[images.build.<svc>] args``, overridden for one
    environment by ``[environments.<env>.build.<svc>] args`` (how prod builds the db on
    a TimescaleDB base while dev and demo keep plain Postgres).
    """
    override = {
        **_BUILTIN.get(service, {}),
        **config.get("images", {}).get("build", {}).get(service, {}),
    }
    context = (root / override.get("context", f"services/{service}")).resolve()
    dockerfile = override.get("dockerfile")
    if dockerfile is None:
        dockerfile = "Dockerfile.prod" if (context / "Dockerfile.prod").exists() else "Dockerfile"
        if not (context / dockerfile).exists():
            dockerfile = "Dockerfile.prod"  # the one a missing-Dockerfile error names
    args = _build_args(override.get("args"), f"[images.build.{service}]")
    if environment:
        env_build = (config.get("environments") or {}).get(environment, {}).get("build", {})
        env_table = env_build.get(service, {}) if isinstance(env_build, dict) else {}
        where = f"[environments.{environment}.build.{service}]"
        args.update(
            _build_args(env_table.get("args") if isinstance(env_table, dict) else env_table, where)
        )
    return ServiceSpec(service, context, str(dockerfile).replace("\\", "/"), args)
