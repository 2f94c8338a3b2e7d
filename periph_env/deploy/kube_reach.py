"""Where a kube context's API server is, whether it answers, and what its failures mean.

The one place that turns "the cluster is not there" into words: kubectl's stderr, urllib3's
and ssl's exceptions and the kubernetes client's ``ApiException`` all become a
``ClusterUnreachable`` (or ``KubeApiError``) naming the API server's address and the
context, with a hint. ``periph_env.deploy.kube.Kube`` raises them; nothing else should
need to catch a transport exception.

``probe`` is a cheap liveness check (TCP connect, TLS handshake, one unauthenticated
``GET /version``) bounded by a few seconds, so an API server that accepts connections and
never answers (a stopped process, a black-holed port) is reported within seconds instead
of after kubectl's discovery retries (55 s against a black hole with
``--request-timeout=10s``).
"""

from __future__ import annotations

import os
import re
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from periph_env.errors import EngineError

CONNECT_TIMEOUT = 5.0  # seconds to open a connection (TLS handshake included)
READ_TIMEOUT = 10.0  # seconds for one answer of the API server (not a watch)
PROBE_CONNECT = 3.0
PROBE_ANSWER = 5.0


@dataclass(frozen=True)
class Endpoint:
    """A context's API server address as the kubeconfig gives it ("" when unknown)."""

    context: str
    server: str = ""
    proxied: bool = False  # a proxy sits in between: probing the server directly says nothing

    def describe(self) -> str:
        """``the API server https://host:port (context NAME)``."""
        where = f" {self.server}" if self.server else ""
        return f"the API server{where} (context {self.context})"

    def hint(self) -> str:
        """What to check when it cannot be reached."""
        return (
            f"is the cluster up? `kubectl --context {self.context} cluster-info`; "
            "for the test cluster: `periph testenv status`"
        )


class ClusterUnreachable(EngineError):
    """The API server refused, dropped or did not answer a request."""

    def __init__(self, endpoint: Endpoint, reason: str, *, hint: str | None = None) -> None:
        super().__init__(f"{endpoint.describe()} {reason}", hint=hint or endpoint.hint())
        self.endpoint = endpoint
        self.reason = reason


def _kubeconfig_files(kubeconfig: str | None) -> list[Path]:
    if kubeconfig:
        return [Path(p).expanduser() for p in kubeconfig.split(os.pathsep) if p]
    return [Path.home() / ".kube" / "config"]


def _named(entries: Any, name: str) -> dict[str, Any] | None:
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry
    return None


def _documents(kubeconfig: str | None) -> list[dict[str, Any]]:
    docs = []
    for path in _kubeconfig_files(kubeconfig if kubeconfig is not None else _env_kubeconfig()):
        try:
            data = yaml.safe_load(path.read_text(errors="replace"))
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict):
            docs.append(data)
    return docs


def contexts(kubeconfig: str | None = None) -> tuple[list[str], str]:
    """The context names of the kubeconfig files and the current context, merged as kubectl
    merges them; read here, not by kubectl: some kubectl wrappers (gcloud's) contact the
    API server even for ``kubectl config``."""
    names: list[str] = []
    current = ""
    for data in _documents(kubeconfig):
        entries = data.get("contexts")
        for entry in entries if isinstance(entries, list) else []:
            name = entry.get("name") if isinstance(entry, dict) else None
            if isinstance(name, str) and name not in names:
                names.append(name)
        if not current and isinstance(data.get("current-context"), str):
            current = data["current-context"]
    return names, current


def endpoint(context: str, kubeconfig: str | None = None) -> Endpoint:
    """The server of ``context``, read from the kubeconfig files as kubectl merges them
    (the first file naming a context or cluster wins); unknown parts stay empty."""
    docs = _documents(kubeconfig)
    cluster_name = None
    for data in docs:
        entry = _named(data.get("contexts"), context)
        if entry is not None:
            cluster_name = (entry.get("context") or {}).get("cluster")
            break
    if not isinstance(cluster_name, str):
        return Endpoint(context)
    for data in docs:
        entry = _named(data.get("clusters"), cluster_name)
        if entry is not None:
            cluster = entry.get("cluster") or {}
            server = cluster.get("server")
            if not isinstance(server, str):
                return Endpoint(context)
            return Endpoint(context, server.rstrip("/"), bool(cluster.get("proxy-url")))
    return Endpoint(context)


def _env_kubeconfig() -> str | None:
    return os.environ.get("KUBECONFIG") or None


def _env_proxy(scheme: str) -> bool:
    names = ("https_proxy", "HTTPS_PROXY") if scheme == "https" else ("http_proxy", "HTTP_PROXY")
    return any(os.environ.get(n) for n in names)


def probe(ep: Endpoint) -> str | None:
    """Why the API server cannot be used (a reason for ``ClusterUnreachable``), or None
    when it answered (any HTTP status counts: it is alive) or cannot be probed directly."""
    parts = urlsplit(ep.server)
    if not parts.hostname or parts.scheme not in ("http", "https"):
        return None
    if ep.proxied or _env_proxy(parts.scheme):
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        sock = socket.create_connection((parts.hostname, port), timeout=PROBE_CONNECT)
    except ConnectionRefusedError:
        return "refused the connection"
    except TimeoutError:
        return f"did not accept a connection within {PROBE_CONNECT:.0f} s"
    except socket.gaierror:
        return f"cannot be found: no address for host {parts.hostname}"
    except OSError as exc:
        return f"cannot be reached: {exc.strerror or exc}"
    deadline = time.monotonic() + PROBE_ANSWER
    try:
        sock.settimeout(PROBE_ANSWER)
        if parts.scheme == "https":
            # Liveness only: the request carries no credential, so the certificate is not
            # checked here (kubectl and the client check it on every real request).
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(sock, server_hostname=parts.hostname)
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        sock.sendall(f"GET /version HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        first = sock.recv(16)
    except TimeoutError:
        return f"accepted the connection but did not answer within {PROBE_ANSWER:.0f} s"
    except ssl.SSLError as exc:
        text = str(exc)
        return tls_reason(text if "[SSL:" in text or "EOF" in text else f"[SSL: X] {exc.reason}")
    except OSError as exc:
        return f"dropped the connection ({exc.strerror or type(exc).__name__})"
    finally:
        sock.close()
    if not first:
        return "closed the connection without answering"
    return None


NOT_KUBERNETES = "answered with something that is not the Kubernetes API"
# kubectl (client-go) wording of transport failures -> what it means, most specific first.
_KUBECTL_REASONS = (
    ("connection refused", "refused the connection"),
    ("was refused", "refused the connection"),
    ("no such host", "cannot be found (no such host)"),
    ("tls handshake timeout", "did not complete the TLS handshake in time"),
    ("client.timeout exceeded", f"did not answer within {READ_TIMEOUT:.0f} s"),
    ("context deadline exceeded", f"did not answer within {READ_TIMEOUT:.0f} s"),
    ("i/o timeout", f"did not answer within {READ_TIMEOUT:.0f} s"),
    ("x509:", "presented a certificate kubectl does not trust (x509)"),
    ("tls: failed to verify", "presented a certificate kubectl does not trust"),
    ("connection reset by peer", "dropped the connection (reset by peer)"),
    ("unexpected eof", "dropped the connection"),
    ("server sent goaway", "dropped the connection"),
    ("no route to host", "cannot be reached (no route to host)"),
    ("network is unreachable", "cannot be reached (network unreachable)"),
    ("unable to connect to the server", "cannot be reached"),
    # Something answers, but not as a Kubernetes API server (a web page, another service).
    ("invalid character", "answered with something that is not the Kubernetes API"),
    (
        "unable to parse the server version",
        "answered with something that is not the Kubernetes API",
    ),
)
_KLOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ \S+:\d+\] ")


def kubectl_output(text: str) -> str:
    """kubectl's output without client-go's log lines (``E1202 13:26:30.29 ... memcache.go:265]
    ...``, repeated per retry), unless they are all there is."""
    lines = text.strip().splitlines()
    kept = [line for line in lines if not _KLOG_LINE.match(line)]
    return "\n".join(kept or lines)


def kubectl_reason(stderr: str) -> str | None:
    """The transport failure in kubectl's stderr, as a reason; None for any other error
    (an answer of the API server, a bad manifest)."""
    lowered = stderr.lower()
    for needle, reason in _KUBECTL_REASONS:
        if needle in lowered:
            return reason
    return None


def exception_reason(exc: BaseException) -> str:
    """urllib3 / ssl / socket exceptions as a reason (the cause inside MaxRetryError)."""
    import urllib3.exceptions as u

    cause: BaseException = exc
    if isinstance(exc, u.MaxRetryError) and exc.reason is not None:
        cause = exc.reason
    if isinstance(cause, (u.NewConnectionError, ConnectionRefusedError)):
        text = str(cause).lower()
        if "refused" in text or isinstance(cause, ConnectionRefusedError):
            return "refused the connection"
        if "name or service not known" in text or "nodename nor servname" in text:
            return "cannot be found (no such host)"
        return "cannot be reached"
    if isinstance(cause, u.ConnectTimeoutError):
        return f"did not accept a connection within {CONNECT_TIMEOUT:.0f} s"
    if isinstance(cause, (u.ReadTimeoutError, TimeoutError, socket.timeout)):
        return "accepted the connection but did not answer in time"
    if isinstance(cause, (u.SSLError, ssl.SSLError)):
        return tls_reason(str(cause))
    if isinstance(cause, (u.ProtocolError, ConnectionError)):
        return "dropped the connection"
    return f"cannot be reached ({type(cause).__name__})"


def tls_reason(text: str) -> str:
    """A TLS failure, with OpenSSL's own words when ``text`` has them."""
    if "EOF" in text:  # accepted, then hung up: a proxy or a server going down
        return "closed the connection during the TLS handshake"
    found = re.search(r"\[SSL: [A-Z_]+\] ([^'\"]+)", text)
    words = re.sub(r"\s*\(_ssl\.c:\d+\)", "", found.group(1)).strip() if found else ""
    return "failed the TLS handshake" + (f" ({words})" if words else "")


_API_ERROR_CLASS: type | None = None


def api_error_class() -> type:
    """``KubeApiError``: an ``EngineError`` that is also the client's ``ApiException``,
    so code catching ``ApiException`` (a 404 check) keeps working while an uncaught one
    prints as one clear line. Built on first use: the client costs 0.6 s to import."""
    global _API_ERROR_CLASS
    if _API_ERROR_CLASS is None:
        from kubernetes.client.exceptions import ApiException

        class KubeApiError(EngineError, ApiException):
            """The API server answered a request with an error status."""

            def __init__(self, original: Any, message: str, hint: str | None) -> None:
                EngineError.__init__(self, message, hint=hint)
                self.status = original.status
                self.reason = original.reason
                self.body = original.body
                self.data = getattr(original, "data", None)
                self.headers = original.headers

            __str__ = EngineError.__str__

        _API_ERROR_CLASS = KubeApiError
    return _API_ERROR_CLASS


def status_message(body: Any) -> str:
    """The ``message`` of a Kubernetes Status body, or ""."""
    import json

    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    try:
        data = json.loads(body) if isinstance(body, str) else None
    except ValueError:
        return ""
    return str(data.get("message") or "") if isinstance(data, dict) else ""


def api_error(exc: Any, ep: Endpoint, mask: Any) -> EngineError:
    """An ``ApiException`` as a ``KubeApiError`` naming the endpoint (``mask``: str -> str)."""
    status = exc.status
    detail = status_message(exc.body)
    what = f"answered {status} {exc.reason or ''}".rstrip()
    message = mask(f"{ep.describe()} {what}" + (f": {detail}" if detail else ""))
    hint = None
    if status == 401:
        hint = f"the credentials of context {ep.context} were rejected: log in again"
    elif status == 403:
        hint = f"the user of context {ep.context} lacks this permission (RBAC)"
    elif status in (429, 500, 502, 503, 504):
        hint = "the API server is overloaded or restarting: try again shortly"
    return api_error_class()(exc, message, hint)
