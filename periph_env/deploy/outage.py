"""Ride out an API server that stops answering mid-deploy; give up clearly when it is gone.

A real control plane stalls (a long GC pause, etcd compaction, a restart behind a load
balancer) and comes back: the deploy waits, says so, and resumes. One that stays away for
``GIVE_UP_SECONDS`` is gone: the deploy ends with one line naming the endpoint instead of
a urllib3 traceback. ``Outage`` is the bookkeeping, shared by the rollout watch and the
migration Job's wait; it never sleeps or talks to the network itself.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from periph_env.deploy.kube_reach import ClusterUnreachable
from periph_env.errors import EngineError

GIVE_UP_SECONDS = 60.0  # a stall of 20-30 s is survived; a dead API server ends the deploy
# Connect and read timeouts of the short calls made while waiting (a probe, a Job's GET).
CALL_TIMEOUT = (3, 5)
# HTTP statuses an API server answers with while it starts, stops or is overloaded.
TRANSIENT_STATUSES = {0, 429, 500, 502, 503, 504}


def quick_client(api_client: Any) -> Any:
    """A copy of ``api_client`` whose calls urllib3 never retries by itself.

    By default urllib3 retries a timed-out GET three times, so one call to a stalled API
    server blocks for four timeouts (and logs a warning each time) before the caller can
    say anything; the waits here retry on their own terms instead.
    """
    from kubernetes.client import ApiClient

    configuration = copy.deepcopy(api_client.configuration)
    configuration.retries = False
    return ApiClient(configuration=configuration)


def describe(exc: BaseException) -> str:
    """A short reason for a failed call: "connection refused", "read timed out", "HTTP 503"."""
    if isinstance(exc, ClusterUnreachable):
        return exc.reason
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status:
        return f"HTTP {status} {getattr(exc, 'reason', '') or ''}".strip()
    text = f"{type(exc).__name__}: {exc}"
    lowered = text.lower()
    for needle, reason in (
        ("connection refused", "connection refused"),
        ("read timed out", "read timed out"),
        ("timed out", "timed out"),
        ("connection reset", "connection reset"),
        ("remote end closed", "connection closed by the server"),
        ("name or service not known", "host not found"),
        ("certificate verify failed", "TLS certificate not trusted"),
    ):
        if needle in lowered:
            return reason
    return type(exc).__name__


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is the API server being away (retry), not a refusal to retry on."""
    if isinstance(exc, ClusterUnreachable):
        return True
    status = getattr(exc, "status", None)
    # KubeApiError: the Kube facade's translated ApiException (same status semantics).
    if isinstance(status, int) and type(exc).__name__ in ("ApiException", "KubeApiError"):
        return status in TRANSIENT_STATUSES
    if isinstance(exc, OSError | TimeoutError):
        return True
    module = type(exc).__module__ or ""
    return module.startswith(("urllib3", "http.client"))


class Outage:
    """Whether the API server at ``server`` answers, and for how long it has not.

    ``failure`` and ``success`` return a line to tell the user when the state changes
    (None otherwise); ``failure`` raises EngineError once the server has been away for
    ``give_up`` seconds.
    """

    def __init__(
        self,
        server: str,
        give_up: float = GIVE_UP_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.server, self.give_up, self.clock = server, give_up, clock
        self.since: float | None = None
        self.reason = ""
        self.outages = 0

    @property
    def away(self) -> bool:
        """Whether the server is currently not answering."""
        return self.since is not None

    def failure(self, reason: str) -> str | None:
        """A call failed with ``reason``; raises EngineError once away for ``give_up``."""
        now = self.clock()
        self.reason = reason
        if self.since is None:
            self.since = now
            self.outages += 1
            return f"API server {self.server} not answering ({reason}); retrying"
        if now - self.since >= self.give_up:
            # One line, no hint: it ends up in the deploy's last line and its history record.
            raise EngineError(
                f"API server {self.server} unreachable for {now - self.since:.0f}s ({reason})"
            )
        return None

    def success(self) -> str | None:
        """A call succeeded: ends an outage (and says how long it lasted)."""
        if self.since is None:
            return None
        lasted = self.clock() - self.since
        self.since = None
        return f"API server {self.server} answering again after {lasted:.0f}s; resuming"
