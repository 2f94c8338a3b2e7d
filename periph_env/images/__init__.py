"""Production images: content-hash tags, parallel builds, pushes with verified digests,
the build record and digest pins (no Textual).

Public API (the CLI, the TUI and the deploy engine use only these names):

- ``build(root, BuildOptions(...)) -> Iterator[Event]`` (``pipeline``): plan each service,
  skip it when its content tag exists locally or in the registry, build the rest in
  parallel, push (``push=True``) and pin (``pin="demo"``). Each service's events end
  with ``Done(result: ServiceResult)``.
- ``push(root, services=None) -> Iterator[Event]``: push the last recorded builds.
- ``list_images(root) -> list[ServiceImages]`` (``listing``): local and remote images.
- ``read_pins(root, env) -> {service: "registry/peripheral-<svc>@sha256:…"}`` and
  ``write_pins(root, env, {service: (repository, digest)})`` (``pins``): the digests in
  ``k8s/overlays/<env>/release/kustomization.yaml``.
- ``read_record(root)`` (``record.load``): the last build of each service on this machine.

Events and results live in ``models``; errors are ``BuildFailed``, ``PushFailed``,
``PushRefused`` (``EngineError``s) and ``DirtyTree``. Nothing is imported eagerly: reading
pins must not pay for the docker SDK, and a no-op build not for PyYAML.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from periph_env.images.listing import ServiceImages
    from periph_env.images.models import Event
    from periph_env.images.pipeline import BuildOptions


def build(root: str | Path, options: BuildOptions | None = None, **kwargs: Any) -> Iterator[Event]:
    """See ``pipeline.build``."""
    from periph_env.images.pipeline import BuildOptions, build

    return build(root, options or BuildOptions(), **kwargs)


def push(root: str | Path, services: list[str] | None = None, **kwargs: Any) -> Iterator[Event]:
    """See ``pipeline.push``."""
    from periph_env.images.pipeline import push

    return push(root, services, **kwargs)


def list_images(root: str | Path, **kwargs: Any) -> list[ServiceImages]:
    """See ``listing.list_images``."""
    from periph_env.images.listing import list_images

    return list_images(root, **kwargs)


def read_pins(root: str | Path, env: str, config: dict[str, Any] | None = None) -> dict[str, str]:
    """See ``pins.read_pins``: ``{service: "<registry>/peripheral-<svc>@sha256:…"}``."""
    from periph_env.images.pins import read_pins

    return read_pins(root, env, config)


def write_pins(
    root: str | Path,
    env: str,
    pins: dict[str, tuple[str, str]],
    config: dict[str, Any] | None = None,
) -> Path:
    """See ``pins.write_pins``."""
    from periph_env.images.pins import write_pins

    return write_pins(root, env, pins, config)


def read_record(root: str | Path) -> dict[str, Any]:
    """The build record of the project at ``root`` (``{"services": {svc: entry}}``)."""
    from pathlib import Path

    from periph_env.images.record import load

    return load(Path(root))


__all__ = ["build", "list_images", "push", "read_pins", "read_record", "write_pins"]
