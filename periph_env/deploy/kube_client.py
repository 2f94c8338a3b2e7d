"""The kubernetes ``ApiClient`` periph uses: bounded requests, failures as PeriphErrors.

Every call through the generated API classes (``CoreV1Api(client).list_...``) and every
direct ``call_api`` passes here, so the call sites need no error handling of their own:

- a request without ``_request_timeout`` gets ``(CONNECT_TIMEOUT, READ_TIMEOUT)``; a watch
  (``watch=true``) gets a read timeout ``WATCH_MARGIN`` seconds past its ``timeoutSeconds``
  (the server ends it then; a silent connection is dead after that);
- urllib3, ssl and socket errors become ``ClusterUnreachable``, an error status a
  ``KubeApiError`` (still an ``ApiException``: ``except ApiException`` keeps working);
- a request still unanswered after ``NOTICE_AFTER`` seconds says what it waits for.

Imported only by ``Kube.client()``, after the (slow) kubernetes package itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from periph_env.deploy import kube_reach as reach
from periph_env.errors import PeriphError

if TYPE_CHECKING:
    from periph_env.deploy.kube import Kube

WATCH_MARGIN = 15.0
WATCH_DEFAULT_READ = 60.0  # a watch without timeoutSeconds: the longest silence accepted


def default_timeout(url: str) -> tuple[float, float]:
    """``(connect, read)`` for a request to ``url`` that did not set its own."""
    query = parse_qs(urlsplit(url).query)
    if query.get("watch", [""])[0].lower() in ("true", "1"):
        try:
            seconds = float(query.get("timeoutSeconds", [""])[0])
        except ValueError:
            return reach.CONNECT_TIMEOUT, WATCH_DEFAULT_READ
        return reach.CONNECT_TIMEOUT, seconds + WATCH_MARGIN
    return reach.CONNECT_TIMEOUT, reach.READ_TIMEOUT


def _what(method: str, url: str) -> str:
    path = urlsplit(url).path
    if path == "/version":  # the context check: named as the command users know
        return "`kubectl version` (GET /version)"
    return f"{method} {path}"


class BoundedApiClient(ApiClient):
    """An ``ApiClient`` bound to one ``Kube``: its endpoint, secrets and notices."""

    def __init__(self, configuration: Any, kube: Kube) -> None:
        super().__init__(configuration)
        self._kube = kube

    def call_api(
        self,
        method: str,
        url: str,
        header_params: Any = None,
        body: Any = None,
        post_params: Any = None,
        _request_timeout: Any = None,
    ) -> Any:
        """The HTTP request, bounded, with transport failures translated."""
        import urllib3.exceptions

        timeout = _request_timeout or default_timeout(url)
        headers = self._with_credentials(method, url, header_params)
        try:
            with self._kube.waiting(_what(method, url)):
                return super().call_api(
                    method, url, headers, body, post_params, _request_timeout=timeout
                )
        except PeriphError:
            raise
        except ApiException as exc:
            if exc.status:  # an answer: _call_with_legacy_options translates those
                raise
            # status 0: the REST layer's wrapping of an SSL error
            raise self._kube.unreachable(reach.tls_reason(str(exc.reason))) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._kube.unreachable(reach.exception_reason(exc)) from None

    def _with_credentials(self, method: str, url: str, header_params: Any) -> dict:
        """The request's headers with the client's own and the context's credentials (a
        bearer token, an exec plugin's, refreshed once expired). The generated API classes
        add them before ``call_api``; plain REST (``kube_rest``) calls it directly and went
        out anonymous with a token kubeconfig (403 ``system:anonymous``)."""
        headers = {**self.default_headers, **(header_params or {})}
        if not any(key.lower() == "authorization" for key in headers):
            path = urlsplit(url).path
            self.update_params_for_auth(headers, [], ["BearerToken"], path, method, None)
        return headers

    def _call_with_legacy_options(self, *args: Any, **kwargs: Any) -> Any:
        import urllib3.exceptions

        # Every generated API method ends here (kubernetes==37): the one place an error
        # status of any call can be given the endpoint's name.
        try:
            result = super()._call_with_legacy_options(*args, **kwargs)
            if not isinstance(result, tuple) and hasattr(result, "getheader"):
                self._check_raw(result, args[0][1] if args and len(args[0]) > 1 else "")
            return result
        except PeriphError:
            raise
        except ApiException as exc:
            raise reach.api_error(exc, self._kube.endpoint, self._kube.mask) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:  # reading a body can fail too
            raise self._kube.unreachable(reach.exception_reason(exc)) from None

    def _check_raw(self, response: Any, url: str) -> None:
        """A raw (``_preload_content=False``) JSON answer that is no JSON at all (a login
        page, another service) fails here, once, instead of in every caller's json.loads.
        Streams (watches, followed logs) are left unread."""
        query = parse_qs(urlsplit(url).query)
        if any(query.get(k, [""])[0].lower() in ("true", "1") for k in ("watch", "follow")):
            return
        if "json" not in (response.getheader("content-type") or ""):
            return
        if response.data.lstrip()[:1] not in (b"{", b"["):  # read once, kept by urllib3
            raise self._kube.unreachable(reach.NOT_KUBERNETES)

    def response_deserialize(self, *args: Any, **kwargs: Any) -> Any:
        """As the base class; an error status raises ``KubeApiError``, a body that is not
        what the API promises ``ClusterUnreachable``."""
        try:
            return super().response_deserialize(*args, **kwargs)
        except PeriphError:
            raise
        except ApiException as exc:
            raise reach.api_error(exc, self._kube.endpoint, self._kube.mask) from None
        except (ValueError, TypeError, AttributeError, KeyError):
            # A 2xx whose body is no Kubernetes object (a proxy's page, another service).
            raise self._kube.unreachable(reach.NOT_KUBERNETES) from None
