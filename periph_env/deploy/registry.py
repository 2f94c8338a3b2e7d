"""Does an image exist in its registry at a digest? The deploy's image guard asks here.

One registry client serves images and deploy: ``periph_env.images.registry_api``'s
``RegistryClient`` (Registry HTTP API v2, Basic or Bearer auth from the registry's
challenge, loopback registries over plain HTTP, bounded requests, every failure a
``PeriphError`` naming the registry), with the credentials of
``periph_env.images.credentials.resolve`` (``$PERIPH_REGISTRY_USERNAME`` / ``_PASSWORD``,
``$DOCKER_USERNAME`` / ``_PASSWORD``, then docker's ``config.json``).
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from periph_env.errors import PeriphError
from periph_env.images.credentials import (
    Credentials,
    DockerConfigError,
    registry_host,
    resolve,
)
from periph_env.images.registry_api import RegistryClient


def credentials(host: str) -> Credentials | None:
    """The credentials the image guard uses for ``host`` (the one lookup, ``resolve``)."""
    return resolve(host)


def client(host: str, timeout: float = 10.0) -> RegistryClient:
    """A registry client for ``host`` with its credentials (reuse it: tokens are cached)."""
    return RegistryClient(host, credentials(host), timeout=timeout)


def manifest_exists(
    repository: str, digest: str, registry: RegistryClient | None = None
) -> tuple[bool, str]:
    """(exists, why not) for ``repository@digest``; never raises for registry trouble."""
    own = registry is None
    try:
        registry = registry or client(registry_host(repository))
        try:
            found = registry.manifest_digest(repository, digest)
        finally:
            if own:
                registry.close()
    except DockerConfigError:
        raise  # an unusable docker config.json: the guard refuses with its message
    except PeriphError as exc:  # unreachable, credentials refused, not a registry
        return False, exc.message
    return (True, "") if found else (False, "not in the registry")


def missing(references: Iterable[str]) -> list[str]:
    """``"repo@digest: why"`` for every reference not present, asked side by side with one
    client per registry host."""
    refs = sorted(set(references))
    hosts = {registry_host(r.split("@", 1)[0]) for r in refs}
    clients: dict[str, RegistryClient] = {}
    try:
        for host in hosts:
            clients[host] = client(host)
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(refs)))) as pool:

            def ask(ref: str) -> tuple[str, tuple[bool, str]]:
                repo, digest = ref.split("@", 1)
                return ref, manifest_exists(repo, digest, clients[registry_host(repo)])

            answers = sorted(pool.map(ask, refs))
    finally:
        for each in clients.values():
            each.close()
    return [f"{ref}: {why}" for ref, (ok, why) in answers if not ok]
