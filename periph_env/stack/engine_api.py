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

from periph_env.common.waiting import waiting_for
from periph_env.errors import EngineError
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


def not_the_engine(host: str, what: str) -> EngineError:
    """The error for an endpoint that answers, but not as the Engine API does."""
    return EngineError(
        f"the Docker engine at {host} answered {what}, which is not the Docker Engine API",
        hint="is DOCKER_HOST pointing at a Docker engine (not a proxy or another service)?",
    )


class EngineAPI:
    """GET JSON from the engine; every connection failure becomes ``EngineUnavailable``
    and every answer that is not the Engine API's an ``EngineError``. Each call waits at
    most ``timeout`` seconds to connect and ``timeout`` per read."""

    def __init__(self, host: str | None = None, timeout: float = 5.0) -> None:
        self.host = host or docker_host()
        self.timeout = timeout

    def _connection(self) -> http.client.HTTPConnection:
        parsed = urllib.parse.urlparse(self.host)
        if parsed.scheme == "unix":
            return _UnixConnection(parsed.path, self.timeout)
        if parsed.scheme in ("tcp", "http") and parsed.hostname:
            try:
                port = parsed.port or 2375
            except ValueError:  # a port that is not a number
                raise unavailable(self.host, "DOCKER_HOST has an invalid port") from None
            return http.client.HTTPConnection(parsed.hostname, port, timeout=self.timeout)
        if parsed.scheme in ("tcp", "http"):
            raise unavailable(self.host, "DOCKER_HOST names no host")
        raise unavailable(self.host, f"unsupported DOCKER_HOST scheme {parsed.scheme!r}")

    def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        """``GET /v1.41<path>`` decoded from JSON; None for 404."""
        query = "?" + urllib.parse.urlencode(params) if params else ""
        status, content_type, body = self._request(f"/{API_VERSION}{path}{query}")
        if status == 404:
            return None
        if status >= 400:
            raise unavailable(self.host, f"HTTP {status} for GET {path}")
        if not body:
            return None
        try:
            return json.loads(body)
        except ValueError:
            shown = content_type or "no content type"
            raise not_the_engine(
                self.host, f"GET {path} with a body that is not JSON ({shown}, {len(body)} bytes)"
            ) from None

    def open_stream(
        self, path: str, params: dict[str, str] | None = None
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """``GET /v1.41<path>`` left open for reading a stream (the stats stream): the
        connection (close it to stop) and the response; transport failures and an
        HTTP error raise as ``get`` does. The read timeout stays ``timeout``."""
        query = "?" + urllib.parse.urlencode(params) if params else ""
        conn = self._connection()
        try:
            conn.request("GET", f"/{API_VERSION}{path}{query}")
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise unavailable(self.host, str(exc) or type(exc).__name__) from None
        if response.status >= 400:
            conn.close()
            raise unavailable(self.host, f"HTTP {response.status} for GET {path}")
        return conn, response

    def ping(self) -> bool:
        """Raise ``EngineUnavailable`` unless the engine answers ``/_ping``."""
        status, _type, body = self._request("/_ping")
        if status != 200:
            raise unavailable(self.host, f"HTTP {status} for /_ping")
        if body.strip() != b"OK":  # what every engine answers; anything else is not one
            raise not_the_engine(self.host, f"/_ping with {len(body)} bytes other than OK")
        return True

    def _request(self, target: str) -> tuple[int, str, bytes]:
        """(status, content type, body) of ``GET target``; transport failures raise
        ``EngineUnavailable`` naming the host and what went wrong."""
        conn = self._connection()
        try:
            with waiting_for(f"the Docker engine at {self.host}"):
                conn.request("GET", target)
                response = conn.getresponse()
                body = response.read()
        except TimeoutError:
            raise unavailable(
                self.host, f"accepted the connection but did not answer within {self.timeout:g} s"
            ) from None
        except ConnectionRefusedError:
            raise unavailable(self.host, "connection refused") from None
        except FileNotFoundError:
            raise unavailable(self.host, "no socket there") from None
        except socket.gaierror:
            raise unavailable(self.host, "its host name does not resolve") from None
        except (OSError, http.client.HTTPException) as exc:
            raise unavailable(self.host, str(exc) or type(exc).__name__) from None
        finally:
            conn.close()
        return response.status, response.getheader("Content-Type", ""), body

    def project_containers(self, project: str) -> list[dict]:
        """Every container (running or not) labelled with compose ``project``, inspected."""
        filters = json.dumps({"label": [f"com.docker.compose.project={project}"]})
        listed = self.get("/containers/json", {"all": "1", "filters": filters}) or []
        if not isinstance(listed, list) or not all(
            isinstance(item, dict) and isinstance(item.get("Id"), str) for item in listed
        ):
            raise not_the_engine(self.host, "a container list of an unexpected shape")
        inspected = []
        for item in listed:
            detail = self.get(f"/containers/{item['Id']}/json")
            if detail is None:
                continue
            if not isinstance(detail, dict) or not all(
                isinstance(detail.get(k) or {}, dict) for k in ("State", "Config", "HostConfig")
            ):
                raise not_the_engine(self.host, "a container of an unexpected shape")
            inspected.append(detail)
        return inspected
