"""A tiny Engine API client over the Docker socket, for the hot, short paths.

Why not the docker SDK here: importing it costs ~0.25 s, and ``periph ps`` must answer in
well under 0.3 s. ``ps`` needs two endpoints (list and inspect), so a small HTTP client
over ``http.client`` does it. The long-running parts (events, logs, archives) use the
docker SDK (``engine.py``). Supports ``unix://`` and ``tcp://`` hosts from ``DOCKER_HOST``.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import urllib.parse
from typing import Any

from periph_env.stack.errors import EngineUnavailable

DEFAULT_HOST = "unix:///var/run/docker.sock"
API_VERSION = "v1.41"


def docker_host() -> str:
    """The engine address docker clients use: ``$DOCKER_HOST`` or the default socket."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def unavailable(host: str, reason: str) -> EngineUnavailable:
    """The error every entry point raises when the engine does not answer."""
    return EngineUnavailable(
        f"the Docker engine at {host} is not reachable ({reason})",
        hint="start it (`periph testenv up --tier docker`, or your Docker service), "
        "or point DOCKER_HOST at a running engine; `periph doctor` checks the setup",
    )


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class EngineAPI:
    """GET JSON from the engine; every connection failure becomes ``EngineUnavailable``."""

    def __init__(self, host: str | None = None, timeout: float = 5.0) -> None:
        self.host = host or docker_host()
        self.timeout = timeout

    def _connection(self) -> http.client.HTTPConnection:
        parsed = urllib.parse.urlparse(self.host)
        if parsed.scheme == "unix":
            return _UnixConnection(parsed.path, self.timeout)
        if parsed.scheme in ("tcp", "http"):
            return http.client.HTTPConnection(
                parsed.hostname, parsed.port or 2375, timeout=self.timeout
            )
        raise unavailable(self.host, f"unsupported DOCKER_HOST scheme {parsed.scheme!r}")

    def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        """``GET /v1.41<path>`` decoded from JSON; None for 404."""
        query = "?" + urllib.parse.urlencode(params) if params else ""
        conn = self._connection()
        try:
            conn.request("GET", f"/{API_VERSION}{path}{query}")
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise unavailable(self.host, str(exc) or type(exc).__name__) from None
        finally:
            conn.close()
        if response.status == 404:
            return None
        if response.status >= 400:
            raise unavailable(self.host, f"HTTP {response.status}: {body[:200]!r}")
        return json.loads(body) if body else None

    def ping(self) -> bool:
        """Raise ``EngineUnavailable`` unless the engine answers ``/_ping``."""
        conn = self._connection()
        try:
            conn.request("GET", "/_ping")
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise unavailable(self.host, str(exc) or type(exc).__name__) from None
        finally:
            conn.close()
        return response.status == 200

    def project_containers(self, project: str) -> list[dict]:
        """Every container (running or not) labelled with compose ``project``, inspected."""
        filters = json.dumps({"label": [f"com.docker.compose.project={project}"]})
        listed = self.get("/containers/json", {"all": "1", "filters": filters}) or []
        inspected = []
        for item in listed:
            detail = self.get(f"/containers/{item['Id']}/json")
            if detail is not None:
                inspected.append(detail)
        return inspected
