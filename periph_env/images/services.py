"""Which services have images, where their build contexts are, and what they are tagged.

Conventions (overridable per service in ``periph.toml`` under ``[images.build.<svc>]``
with ``context``, ``dockerfile`` and ``args``): the context is ``services/<svc>`` and the
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


def spec(root: Path, config: dict[str, Any], service: str) -> ServiceSpec:
    """Where ``service`` builds from (the Dockerfile may not exist; the build says so)."""
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
    args = {str(k): str(v) for k, v in override.get("args", {}).items()}
    return ServiceSpec(service, context, str(dockerfile).replace("\\", "/"), args)
