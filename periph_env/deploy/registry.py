"""Does an image exist in its registry at a digest? Registry HTTP API v2, with auth.

``HEAD /v2/<repo>/manifests/<digest>``; on 401 the ``WWW-Authenticate`` challenge says how
to log in: Basic (htpasswd registries) or Bearer (a token service, asked with the same
credentials). Credentials: ``$PERIPH_REGISTRY_USERNAME`` / ``$PERIPH_REGISTRY_PASSWORD``, else
``$DOCKER_USERNAME`` / ``$DOCKER_PASSWORD`` (as the seed's CI sets them), else the docker
client's ``config.json`` (``$DOCKER_CONFIG`` or ``~/.docker``) ``auths`` entry.
Loopback registries speak plain HTTP, others HTTPS.
"""

from __future__ import annotations

import os
import re

import httpx

MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


def split(repository: str) -> tuple[str, str]:
    """``host[:port]/path`` -> (host, path)."""
    host, _, path = repository.partition("/")
    return host, path


def base_url(host: str) -> str:
    """http:// for loopback registries (as dockerd treats them), https:// otherwise."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    loopback = name in ("localhost", "::1", "[::1]") or name.startswith("127.")
    return f"{'http' if loopback else 'https'}://{host}"


def credentials(host: str) -> tuple[str, str] | None:
    """Username and password for ``host`` from the environment or docker's config.json."""
    for prefix in ("PERIPH_REGISTRY", "DOCKER"):
        user, password = os.environ.get(f"{prefix}_USERNAME"), os.environ.get(f"{prefix}_PASSWORD")
        if user and password:
            return user, password
    # One reader of config.json (images.credentials): a malformed file is a clear error
    # naming the file and the field, never a crash or a value in a message.
    from periph_env.images.credentials import from_docker_config

    found = from_docker_config(host)
    return (found.username, found.password) if found else None


def _bearer(client: httpx.Client, challenge: str, auth: tuple[str, str] | None) -> str | None:
    params = dict(_CHALLENGE.findall(challenge))
    realm = params.pop("realm", None)
    if not realm:
        return None
    response = client.get(realm, params=params, auth=auth)
    if response.status_code != 200:
        return None
    body = response.json()
    return body.get("token") or body.get("access_token")


def manifest_exists(repository: str, digest: str, timeout: float = 10.0) -> tuple[bool, str]:
    """(exists, why not) for ``repository@digest``; never raises for network trouble."""
    host, path = split(repository)
    url = f"{base_url(host)}/v2/{path}/manifests/{digest}"
    headers = {"Accept": MANIFEST_TYPES}
    auth = credentials(host)
    try:
        with httpx.Client(timeout=timeout) as client:
            response = client.head(url, headers=headers)
            if response.status_code == 401:
                challenge = response.headers.get("www-authenticate", "")
                if challenge.lower().startswith("bearer"):
                    token = _bearer(client, challenge, auth)
                    if token:
                        headers["Authorization"] = f"Bearer {token}"
                    response = client.head(url, headers=headers)
                elif auth:
                    response = client.head(url, headers=headers, auth=auth)
    except httpx.HTTPError as exc:
        return False, f"registry {host} unreachable: {type(exc).__name__}"
    if response.status_code == 200:
        return True, ""
    if response.status_code == 401:
        hint = (
            "credentials refused"
            if auth
            else "no credentials (docker login, or PERIPH_REGISTRY_USERNAME/PASSWORD)"
        )
        return False, f"registry {host}: 401 unauthorized ({hint})"
    if response.status_code == 404:
        return False, "not in the registry"
    return False, f"registry {host} answered {response.status_code}"
