"""The watch's streams: one thread per resource (list, then watch from its
resourceVersion, resuming after a dropped connection) and the API server probe.

``RolloutWatch`` (``periph_env.deploy.watch``) starts them and reads their queue.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from periph_env.deploy.kube_rest import namespaced, open_get
from periph_env.deploy.outage import CALL_TIMEOUT, describe, quick_client

WATCH_SECONDS = 50  # server-side timeout of one watch request; it is then resumed
RETRY_SECONDS = 0.5  # the first retry; failures in a row double it, up to RETRY_MAX_FACTOR x
RETRY_MAX_FACTOR = 8  # 4 s: a server away for minutes is not asked twelve times a second
API_PROBE_SECONDS = 2.0
API_PROBE_FAILURES = 2  # one slow answer on a busy machine is not an outage


# What the watch streams, by kind: (apiVersion, plural) of built-in resources.
RESOURCES = {
    "Deployment": ("apps/v1", "deployments"),
    "StatefulSet": ("apps/v1", "statefulsets"),
    "Pod": ("v1", "pods"),
    "Event": ("v1", "events"),
    "PersistentVolumeClaim": ("v1", "persistentvolumeclaims"),
    "Job": ("batch/v1", "jobs"),
}


def lister(api_client: Any, kind: str) -> Callable[..., Any]:
    """A list/watch call of ``kind`` with the generated API's signature, over plain REST
    (``kube_rest.open_get``): the raw response, never the client's model classes."""
    api_version, plural = RESOURCES[kind]

    def list_or_watch(
        namespace: str,
        *,
        watch: bool = False,
        resource_version: str = "",
        allow_watch_bookmarks: bool = False,
        timeout_seconds: int | None = None,
        _preload_content: bool = False,
        _request_timeout: Any = None,
    ) -> Any:
        query = {"watch": "true"} if watch else {}
        if resource_version:
            query["resourceVersion"] = resource_version
        if allow_watch_bookmarks:
            query["allowWatchBookmarks"] = "true"
        if timeout_seconds is not None:
            query["timeoutSeconds"] = str(timeout_seconds)
        path = namespaced(api_version, plural, namespace)
        return open_get(api_client, path, query, _request_timeout)

    return list_or_watch


class _Gone(Exception):
    """The server no longer has the resourceVersion we resume from (HTTP 410)."""


class ResourceWatch(threading.Thread):
    """List then watch one namespaced resource, putting ``(kind, type, object)`` on a queue.

    ``on_error`` (optional) hears every failed request (the exception) and, once a request
    succeeds again, ``None``: a reader that shows the failure can take it back. A stream
    that drops after it was answered is not a failure until its resumption fails too (an
    idle connection cut by a proxy resumes at once: no banner flickers for it).
    """

    def __init__(
        self,
        kind: str,
        lister: Callable[..., Any],
        namespace: str,
        out: queue.Queue,
        on_error: Callable[[BaseException | None], None] | None = None,
    ) -> None:
        super().__init__(daemon=True, name=f"periph-watch-{kind}")
        self.kind, self.lister, self.namespace, self.out = kind, lister, namespace, out
        self.on_error = on_error
        self.stopping = threading.Event()
        self.resource_version = ""
        self.reconnects = 0
        self._connected = False  # a failed retry while the server is away is no new drop
        self._failing = False  # the last request failed (told to ``on_error``)
        self._response: Any = None

    def stop(self) -> None:
        """Stop after the current line; closes the open connection."""
        self.stopping.set()
        self.drop()

    def drop(self) -> None:
        """Close the current connection (the watch resumes from its resourceVersion)."""
        response = self._response
        if response is not None:
            _shutdown(response)

    def _answered(self) -> None:
        """A request got its answer: the connection is up (again)."""
        self._connected = True
        if self._failing:
            self._failing = False
            if self.on_error is not None:
                self.on_error(None)

    def _list(self) -> None:
        resp = self.lister(self.namespace, _preload_content=False, _request_timeout=(5, 30))
        data = json.loads(resp.data)
        self._answered()
        self.resource_version = data.get("metadata", {}).get("resourceVersion", "")
        for item in data.get("items", []):
            self.out.put((self.kind, "LISTED", item))
        self.out.put((self.kind, "SYNCED", {}))

    def _watch(self) -> bool:
        """Follow one watch request; True when the server ended it at its timeout."""
        from kubernetes.watch.watch import iter_resp_lines

        opened = time.monotonic()
        self._response = self.lister(
            self.namespace,
            watch=True,
            resource_version=self.resource_version,
            allow_watch_bookmarks=True,
            timeout_seconds=WATCH_SECONDS,
            _preload_content=False,
            _request_timeout=(5, WATCH_SECONDS + 15),
        )
        self._answered()
        try:
            # stop() may have run while the request was in flight (it saw no response).
            if self.stopping.is_set():
                _shutdown(self._response)
                return True
            for line in iter_resp_lines(self._response):
                if self.stopping.is_set():
                    return True
                event = json.loads(line)
                obj = event.get("object") or {}
                if event.get("type") == "ERROR":
                    if obj.get("code") == 410:
                        raise _Gone
                    return False
                rv = obj.get("metadata", {}).get("resourceVersion")
                if rv:
                    self.resource_version = rv
                if event.get("type") != "BOOKMARK":
                    self.out.put((self.kind, event["type"], obj))
        finally:
            self._response = None
        return time.monotonic() - opened >= WATCH_SECONDS - 1

    def run(self) -> None:
        listed = False
        failures = 0  # failed requests in a row (an answered request resets it)
        while not self.stopping.is_set():
            try:
                if not listed:
                    self._list()
                    listed = True
                expired = self._watch()
            except _Gone:
                listed = False
            except Exception as exc:
                if self.stopping.is_set():
                    return
                if getattr(exc, "status", None) == 410:  # the version is gone: list again
                    listed = False
                dropped = self._connected  # an open stream ended: resumed before it is said
                if dropped:
                    failures = 0
                if self._connected:
                    self.reconnects += 1
                    self._connected = False
                if not dropped:  # a request failed: the server is away (or refuses)
                    self._failing = True
                    if self.on_error is not None:
                        self.on_error(exc)
                    failures += 1
                self.stopping.wait(retry_delay(failures))
            else:
                if not expired and not self.stopping.is_set():
                    self.reconnects += 1


def retry_delay(failures: int) -> float:
    """Seconds before the next request after ``failures`` failed ones in a row: a dropped
    stream (0) is resumed after ``RETRY_SECONDS``; an away server is asked less and less
    often, up to ``RETRY_MAX_FACTOR`` times that."""
    factor = min(2 ** max(failures - 1, 0), RETRY_MAX_FACTOR)
    return RETRY_SECONDS * factor


class ApiProbe(threading.Thread):
    """Ask the API server for its version every few seconds, with short timeouts.

    Puts ``("Api", "DOWN", {"reason": ...})`` after ``API_PROBE_FAILURES`` failures in a
    row (and on every further failure, so the watch can give up on time), and
    ``("Api", "UP", {})`` on the first answer after that.
    """

    def __init__(self, api_client: Any, out: queue.Queue, every: float = API_PROBE_SECONDS):
        super().__init__(daemon=True, name="periph-watch-api-probe")
        self.client = quick_client(api_client)
        self.out, self.every = out, every
        self.stopping = threading.Event()
        self.reconnects = 0  # the interface RolloutWatch sums over its threads

    def stop(self) -> None:
        """Stop after the current probe (at most its timeouts)."""
        self.stopping.set()

    def drop(self) -> None:
        """Nothing to drop: every probe is a short request of its own."""

    def run(self) -> None:
        failures = 0
        while not self.stopping.wait(self.every):
            try:
                open_get(self.client, "/version", timeout=CALL_TIMEOUT).read()  # whole answer
            except Exception as exc:
                failures += 1
                if failures >= API_PROBE_FAILURES and not self.stopping.is_set():
                    self.out.put(("Api", "DOWN", {"reason": describe(exc)}))
            else:
                if failures >= API_PROBE_FAILURES:
                    self.out.put(("Api", "UP", {}))
                failures = 0


def _shutdown(response: Any) -> None:
    """Wake the thread blocked reading ``response``: shut its socket down, then close it.

    urllib3's ``shutdown()`` only shuts the read side, which leaves a blocked TLS read
    waiting, and ``close()`` alone does not wake it either.
    """
    with contextlib.suppress(Exception):
        response._fp.fp.raw._sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(Exception):
        response.close()
