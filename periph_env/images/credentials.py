"""Registry credentials: ``DOCKER_USERNAME``/``DOCKER_PASSWORD`` (as the seed's CI sets
them), else the Docker config and its credential helpers (``docker login``).

The password lives only in a ``repr=False`` field; it is sent in request headers, never
in argv, and every message built here names the source and the user, never the secret.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from periph_env.errors import EngineError


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    source: str = ""  # where they came from, for messages ("DOCKER_USERNAME/DOCKER_PASSWORD")

    def auth_config(self) -> dict[str, str]:
        """What the docker SDK's push takes as ``auth_config``."""
        return {"username": self.username, "password": self.password}

    def describe(self) -> str:
        return f"user {self.username!r} from {self.source}"


def registry_host(registry: str) -> str:
    """The host[:port] part of a registry reference (``ghcr.io/org`` -> ``ghcr.io``)."""
    return registry.split("/", 1)[0]


def resolve(registry: str) -> Credentials | None:
    """Credentials for ``registry``, or None to go anonymous."""
    user, password = os.environ.get("DOCKER_USERNAME"), os.environ.get("DOCKER_PASSWORD")
    if user and password:
        return Credentials(user, password, "DOCKER_USERNAME/DOCKER_PASSWORD")
    from docker import auth
    from docker.errors import DockerException

    host = registry_host(registry)
    try:
        config = auth.load_config()
        found = auth.resolve_authconfig(config, host)
    except DockerException as exc:
        # A credential helper's own message may quote what it got back; keep only its kind.
        raise EngineError(
            f"cannot read Docker credentials for {host} ({type(exc).__name__})",
            hint="check `credsStore`/`credHelpers` in ~/.docker/config.json, or set "
            "DOCKER_USERNAME and DOCKER_PASSWORD",
        ) from None
    if not found:
        return None
    username = found.get("username") or found.get("Username") or ""
    secret = found.get("password") or found.get("Password") or found.get("IdentityToken") or ""
    if not secret:
        return None
    where = os.environ.get("DOCKER_CONFIG") or "~/.docker"
    return Credentials(username, secret, f"the Docker config ({where}/config.json)")
