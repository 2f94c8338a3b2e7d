"""A small client of the Registry HTTP API v2 (distribution): manifests, tags, config blobs.

Used where the docker engine has no answer: "does this tag exist remotely" (skip a build
on a fresh runner), the digest a push produced, re-tagging in the registry without a
pull, and `periph images`' remote listing. Auth follows the registry's challenge: Basic
(htpasswd, like the test registry) or a Bearer token from the realm it names. Loopback
registries are spoken to over plain HTTP, as dockerd does.

This is the one place registry errors are read: every transport failure (refused,
timeout, reset, a redirect loop) leaves ``_send`` as ``RegistryUnreachable`` naming the
registry, and every body is decoded by ``_json`` or ``Manifest``, which turn garbage,
truncated JSON or an unexpected shape into an ``EngineError`` saying the registry did
not answer as a registry does. Each request waits at most ``CONNECT_TIMEOUT`` to connect
and ``READ_TIMEOUT`` per read, and says what it waits for after two seconds.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
from dataclasses import dataclass

import httpx

from periph_env.common.waiting import waiting_for
from periph_env.errors import EngineError, UsageError
from periph_env.images.credentials import Credentials, registry_host
from periph_env.images.models import PushRefused

MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.index.v1+json",
    )
)
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0


class RegistryUnreachable(EngineError):
    """The registry did not answer (down, wrong address): transient for retry purposes."""


def not_a_registry(host: str, what: str, detail: str) -> EngineError:
    """An answer that is not what the Registry API v2 sends (garbage, truncated, odd shape)."""
    return EngineError(
        f"registry {host}: {what}: the answer is not the Registry API's ({detail})",
        hint="is the registry address right (a proxy or a web page answering instead)?",
    )


@dataclass(frozen=True)
class Manifest:
    digest: str
    media_type: str
    raw: bytes
    host: str = ""  # the registry it came from, for messages

    def json(self) -> dict:
        """The manifest as an object; ``EngineError`` when it does not decode as one."""
        try:
            data = json.loads(self.raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise not_a_registry(self.host, f"manifest {self.digest}", "not a JSON object")
        return data

    def config_digest(self) -> str | None:
        """The digest of the image config this manifest points to (None for an index)."""
        config = self.json().get("config")
        digest = config.get("digest") if isinstance(config, dict) else None
        return digest if isinstance(digest, str) else None

    def size(self) -> int:
        """Compressed size: config plus layers (what a pull downloads)."""
        data = self.json()
        try:
            layers = data.get("layers") or []
            return int((data.get("config") or {}).get("size", 0)) + sum(
                int(x["size"]) for x in layers
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            raise not_a_registry(self.host, f"manifest {self.digest}", "sizes missing") from None


def _is_loopback(host: str) -> bool:
    name = host[1:].split("]")[0] if host.startswith("[") else host.rsplit(":", 1)[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class RegistryClient:
    """Talks to one registry as one user; reuse it for many calls (tokens are cached)."""

    def __init__(
        self,
        registry: str,
        credentials: Credentials | None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,  # tests hand in a MockTransport
    ) -> None:
        self.registry = registry.rstrip("/")
        self.host = registry_host(self.registry)
        api_host = "registry-1.docker.io" if self.host == "docker.io" else self.host
        scheme = "http" if _is_loopback(self.host) else "https"
        self.base = f"{scheme}://{api_host}"
        try:
            httpx.URL(self.base + "/v2/")
        except (httpx.InvalidURL, ValueError):
            raise UsageError(
                f"registry {registry!r} is not a valid address (host[:port][/path])",
                hint="fix [images] registry in periph.toml, or PERIPH_REGISTRY",
            ) from None
        self.credentials = credentials
        self._timeout = httpx.Timeout(
            min(timeout, READ_TIMEOUT), connect=min(timeout, CONNECT_TIMEOUT)
        )
        self._client = httpx.Client(
            timeout=self._timeout, follow_redirects=True, transport=transport
        )
        self._tokens: dict[str, str] = {}
        self._basic: str | None = None  # Basic auth covers every scope once accepted

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def repository_path(self, repository: str) -> str:
        """``127.0.0.1:5000/peripheral-backend`` -> ``peripheral-backend``."""
        prefix = self.host + "/"
        path = repository[len(prefix) :] if repository.startswith(prefix) else repository
        if self.host == "docker.io" and "/" not in path:
            path = "library/" + path
        return path

    # -- transport -------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, scope: str = "", headers=None, content=None
    ) -> httpx.Response:
        url = self.base + path
        headers = dict(headers or {})
        auth = self._basic or self._tokens.get(scope)
        if auth:
            headers["Authorization"] = auth
        response = self._send(method, url, headers, content)
        if response.status_code == 401:
            auth = self._authorize(response, scope)
            if auth:
                headers["Authorization"] = auth
                response = self._send(method, url, headers, content)
            if response.status_code == 401:
                raise self._refused()
        return response

    def _send(self, method: str, url: str, headers: dict | None = None, content=None, **kw):
        """One request; every httpx failure leaves as ``RegistryUnreachable``."""
        try:
            with waiting_for(f"the registry at {self.base}"):
                return self._client.request(method, url, headers=headers, content=content, **kw)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None

    def _unreachable(self, exc: Exception) -> RegistryUnreachable:
        if isinstance(exc, httpx.TimeoutException):
            limit = self._timeout.connect if isinstance(exc, httpx.ConnectTimeout) else None
            why = (
                f"no connection within {limit:g} s"
                if limit
                else f"accepted the connection but did not answer within {self._timeout.read:g} s"
            )
        elif isinstance(exc, httpx.ConnectError):
            text = str(exc).lower()
            why = (
                "connection refused"
                if "refused" in text
                else "its host name does not resolve"
                if "name or service" in text or "name resolution" in text
                else "the TLS handshake failed"
                if "ssl" in text or "certificate" in text
                else "cannot connect"
            )
        else:
            why = type(exc).__name__
        return RegistryUnreachable(
            f"registry {self.host} is not reachable at {self.base}: {why}",
            hint="is it running? `periph testenv up --tier registry` starts the test one",
        )

    def _json(self, response: httpx.Response, what: str) -> dict:
        """The body as a JSON object, or an error saying the registry did not send one."""
        try:
            data = response.json()
        except (ValueError, UnicodeDecodeError):
            kind = response.headers.get("Content-Type", "no content type")
            raise not_a_registry(self.host, what, f"{kind}, not JSON") from None
        if not isinstance(data, dict):
            raise not_a_registry(self.host, what, f"a JSON {type(data).__name__}, not an object")
        return data

    def _refused(self) -> PushRefused:
        if self.credentials is None:
            return PushRefused(
                f"registry {self.host} requires credentials and none were found",
                hint="`docker login " + self.host + "`, or set DOCKER_USERNAME and DOCKER_PASSWORD",
            )
        return PushRefused(
            f"registry {self.host} refused the credentials ({self.credentials.describe()})",
            hint="check the username and password (`docker login " + self.host + "`)",
        )

    def _authorize(self, challenge: httpx.Response, scope: str) -> str | None:
        header = challenge.headers.get("WWW-Authenticate", "")
        kind = header.split(" ", 1)[0].lower()
        if self.credentials is None and kind != "bearer":
            return None
        if kind == "basic":
            pair = f"{self.credentials.username}:{self.credentials.password}"
            value = "Basic " + base64.b64encode(pair.encode()).decode()
            self._basic = value
        elif kind == "bearer":
            params = dict(_CHALLENGE.findall(header))
            query = {"service": params.get("service", "")}
            if scope:
                query["scope"] = scope
            auth = (
                (self.credentials.username, self.credentials.password) if self.credentials else None
            )
            got = self._send("GET", params.get("realm", ""), params=query, auth=auth)
            if got.status_code != 200:
                raise self._refused()
            body = self._json(got, "token")
            token = body.get("token") or body.get("access_token")
            if not isinstance(token, str) or not token:
                raise not_a_registry(self.host, "token", "no token in the answer")
            value = "Bearer " + token
        else:
            return None
        self._tokens[scope] = value
        return value

    @staticmethod
    def _scope(path: str, push: bool = False) -> str:
        return f"repository:{path}:{'pull,push' if push else 'pull'}"

    def _check(self, response: httpx.Response, what: str) -> httpx.Response:
        if response.status_code >= 500:
            raise RegistryUnreachable(f"registry {self.host}: {what}: HTTP {response.status_code}")
        if response.status_code >= 400:
            detail = _error_text(response)
            raise EngineError(f"registry {self.host}: {what}: HTTP {response.status_code} {detail}")
        return response

    # -- API -------------------------------------------------------------------------

    def ping(self) -> None:
        """Check that the registry answers and accepts our credentials (raises otherwise)."""
        response = self._check(self._request("GET", "/v2/"), "ping")
        # Every v2 registry sends this header or a JSON object here; a web page does not.
        if not response.headers.get("Docker-Distribution-API-Version"):
            self._json(response, "ping")

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        """The digest of ``repository:reference`` in the registry, or None if absent."""
        path = self.repository_path(repository)
        response = self._request(
            "HEAD",
            f"/v2/{path}/manifests/{reference}",
            scope=self._scope(path),
            headers={"Accept": MANIFEST_TYPES},
        )
        if response.status_code == 404:
            return None
        self._check(response, f"manifest {path}:{reference}")
        digest = response.headers.get("Docker-Content-Digest")
        if digest:
            return digest
        manifest = self.manifest(repository, reference)
        return manifest.digest if manifest else None

    def manifest(self, repository: str, reference: str) -> Manifest | None:
        """The manifest of ``repository:reference`` (None if absent)."""
        path = self.repository_path(repository)
        response = self._request(
            "GET",
            f"/v2/{path}/manifests/{reference}",
            scope=self._scope(path),
            headers={"Accept": MANIFEST_TYPES},
        )
        if response.status_code == 404:
            return None
        self._check(response, f"manifest {path}:{reference}")
        digest = response.headers.get("Docker-Content-Digest") or (
            "sha256:" + hashlib.sha256(response.content).hexdigest()
        )
        media = response.headers.get("Content-Type", "").split(";")[0]
        manifest = Manifest(digest, media, response.content, self.host)
        manifest.json()  # garbage with a 200 is an error here, not a crash later
        return manifest

    def put_manifest(self, repository: str, tag: str, manifest: Manifest) -> str:
        """Tag ``manifest`` as ``repository:tag`` in the registry (no pull); its digest."""
        path = self.repository_path(repository)
        response = self._request(
            "PUT",
            f"/v2/{path}/manifests/{tag}",
            scope=self._scope(path, push=True),
            headers={"Content-Type": manifest.media_type},
            content=manifest.raw,
        )
        self._check(response, f"tag {path}:{tag}")
        return response.headers.get("Docker-Content-Digest", manifest.digest)

    def tags(self, repository: str) -> list[str]:
        """Every tag of ``repository`` ([] when the repository does not exist)."""
        path = self.repository_path(repository)
        response = self._request("GET", f"/v2/{path}/tags/list", scope=self._scope(path))
        if response.status_code == 404:
            return []
        self._check(response, f"tags of {path}")
        tags = self._json(response, f"tags of {path}").get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise not_a_registry(self.host, f"tags of {path}", "tags are not a list of names")
        return sorted(tags)

    def config_blob(self, repository: str, digest: str) -> dict:
        """The image config a manifest points to (its ``created`` time, labels, …)."""
        path = self.repository_path(repository)
        response = self._request("GET", f"/v2/{path}/blobs/{digest}", scope=self._scope(path))
        self._check(response, f"config {path}@{digest}")
        return self._json(response, f"config {path}@{digest}")


def _error_text(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors", [])
        return "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)[:300]
    except (ValueError, AttributeError):
        return ""
