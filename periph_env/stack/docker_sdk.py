"""The docker SDK, wrapped once: how periph makes its clients and reads their errors.

Every docker SDK client periph uses (image builds and pushes, log streams, the status
events stream, hot-reload archives) is made by ``client()``, and every error the SDK or
the libraries under it raise (``docker.errors.*``, requests' ``ConnectionError`` and
``ReadTimeout``, urllib3's errors, ``OSError``, JSON that does not decode) becomes a
``PeriphError`` in ``translate()`` — the one place these are read. Call sites wrap their
calls in ``with sdk_errors(what):`` and callers above them see only ``PeriphError``s.

Timeouts: the first contact (the API version query and ``/_ping``) waits at most
``PING_TIMEOUT`` seconds, so an engine that accepts connections but never answers fails
in seconds, not the SDK's default 60 (or the 600 periph used for builds). Later calls
get ``CALL_TIMEOUT`` per read; long streams choose their own (builds: ``BUILD_TIMEOUT``
between two messages; log follows have a heartbeat instead, see ``logs.py``).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from periph_env.common.waiting import waiting_for
from periph_env.errors import EngineError, PeriphError
from periph_env.stack.engine_api import docker_host, unavailable

__all__ = [
    "Heartbeat",
    "client",
    "docker_host",
    "lying",
    "responses_of_this_thread",
    "sdk_errors",
    "shutdown",
    "translate",
]

PING_TIMEOUT = 5.0
CALL_TIMEOUT = 60.0
BUILD_TIMEOUT = 900.0  # a build step may be silent for minutes (a compile, a download)


def client(host: str | None = None, timeout: float | None = CALL_TIMEOUT) -> Any:
    """A ``docker.DockerClient`` for ``host`` (default ``DOCKER_HOST``) that has answered a
    ping within ``PING_TIMEOUT`` seconds; its later calls time out after ``timeout``
    (None: no read timeout, for an events stream that a heartbeat watches instead)."""
    import docker

    from periph_env.images.credentials import check_config

    host = host or docker_host()
    check_config()  # the SDK reads config.json on creation and crashes on a malformed one
    with sdk_errors("connect", host), waiting_for(f"the Docker engine at {host}"):
        try:
            if host == docker_host():
                made = docker.from_env(timeout=int(PING_TIMEOUT))  # honours DOCKER_TLS_* too
            else:
                made = docker.DockerClient(base_url=host, timeout=int(PING_TIMEOUT))
        except (ValueError, docker.errors.DockerException) as exc:
            # Only the API version query talks to the engine (and chains its cause):
            # anything else is an address the SDK cannot use (a bad port, ssh without
            # paramiko, npipe on Linux).
            if isinstance(exc, docker.errors.DockerException) and exc.__cause__ is not None:
                raise
            raise unavailable(
                host, f"DOCKER_HOST is not an address periph can use: {exc}"
            ) from None
        made.api.ping()
    made.api.timeout = timeout
    return made


@contextmanager
def sdk_errors(what: str, host: str | None = None) -> Iterator[None]:
    """Run the body; any docker SDK / transport error leaves it as a ``PeriphError``."""
    try:
        yield
    except PeriphError:
        raise
    except Exception as exc:
        translated = translate(exc, what, host)
        if translated is None:
            raise
        raise translated from None


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _is_timeout(exc: BaseException) -> bool:
    import requests
    import urllib3

    return isinstance(
        exc,
        (
            requests.exceptions.Timeout,
            urllib3.exceptions.TimeoutError,
            socket.timeout,
            TimeoutError,
        ),
    )


def translate(exc: BaseException, what: str, host: str | None = None) -> PeriphError | None:
    """``exc`` (from the docker SDK or below it) as the ``PeriphError`` a user should see,
    or None when it is not an engine error (a bug of ours: let it show)."""
    import docker.errors
    import requests
    import urllib3

    host = host or docker_host()
    if isinstance(exc, PeriphError):
        return exc
    chain = _chain(exc)
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return unavailable(host, f"connection refused while trying to {what}")
    if any(isinstance(e, socket.gaierror) for e in chain):
        return unavailable(host, f"its host name does not resolve (while trying to {what})")
    # urllib3's NewConnectionError is a ConnectTimeoutError too: only a real timeout is one.
    new_connection = urllib3.exceptions.NewConnectionError
    if any(isinstance(e, new_connection) for e in chain) and not any(
        isinstance(e, (socket.timeout, TimeoutError)) for e in chain
    ):
        return unavailable(host, f"cannot connect while trying to {what}")
    if any(_is_timeout(e) for e in chain):
        return unavailable(host, f"it did not answer in time while trying to {what}")
    if isinstance(exc, docker.errors.APIError):
        explanation = str(exc.explanation or exc)
        if exc.status_code == 404:
            return EngineError(f"{what}: not found ({explanation})")
        return EngineError(
            f"the Docker engine at {host} refused to {what}: HTTP {exc.status_code}: {explanation}"
        )
    for cause in chain:
        lies = (json.JSONDecodeError, UnicodeDecodeError, requests.exceptions.InvalidJSONError)
        if isinstance(cause, lies):
            return lying(host, what, type(cause).__name__)
    for cause in chain:
        if isinstance(
            cause,
            (
                requests.exceptions.ConnectionError,
                requests.exceptions.ChunkedEncodingError,
                urllib3.exceptions.HTTPError,
                ConnectionError,
                OSError,
            ),
        ):
            return unavailable(host, f"{_reason(cause)} while trying to {what}")
    for cause in chain:
        # The SDK reading an answer of the wrong shape (a list where it indexes a key).
        odd = isinstance(cause, (KeyError, TypeError, AttributeError, ValueError))
        if odd and (isinstance(exc, docker.errors.DockerException) or _from_docker(cause)):
            return lying(host, what, type(cause).__name__)
    if isinstance(exc, (docker.errors.DockerException, requests.exceptions.RequestException)):
        return EngineError(
            f"the Docker engine at {host}: cannot {what} ({type(exc).__name__}: {exc})",
            hint="`periph doctor` checks the engine",
        )
    return None


def lying(host: str, what: str, kind: str) -> EngineError:
    """An endpoint that answered, but not as the Engine API does."""
    return EngineError(
        f"the Docker engine at {host} answered, but not as the Docker Engine API does, "
        f"while trying to {what} ({kind})",
        hint="is DOCKER_HOST pointing at a Docker engine (not a proxy or another service)?",
    )


def _from_docker(exc: BaseException) -> bool:
    """Whether ``exc`` was raised inside the docker SDK or the HTTP libraries under it."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    name = tb.tb_frame.f_globals.get("__name__", "") if tb else ""
    return name.split(".", 1)[0] in ("docker", "requests", "urllib3", "json", "http")


def _reason(exc: BaseException) -> str:
    """A short reason without the SDK's pool reprs: ``connection refused``."""
    for cause in _chain(exc):
        if isinstance(cause, FileNotFoundError):
            return "no socket there"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, PermissionError):
            return "permission denied on the socket"
        if isinstance(cause, ConnectionResetError):
            return "the connection was reset"
    text = str(exc)
    if "Connection aborted" in text or "RemoteDisconnected" in text:
        return "the engine closed the connection"
    return type(exc).__name__


# --- long streams: a heartbeat instead of an endless read ------------------------------


def shutdown(response: Any) -> None:
    """Shut a streaming response's socket down, which wakes a thread blocked reading it
    (a plain close would wait for that reader). Uses the SDK's ``CancellableStream``,
    which knows how to find the socket under requests and urllib3."""
    from docker.types.daemon import CancellableStream

    with contextlib.suppress(Exception):
        CancellableStream(iter(()), response).close()


@contextlib.contextmanager
def responses_of_this_thread(api: Any) -> Iterator[list[Any]]:
    """Collect the HTTP responses the SDK's ``api`` gets in this thread (the SDK's
    streaming calls return a generator and keep the response to themselves)."""
    me = threading.get_ident()
    got: list[Any] = []

    def hook(response: Any, *_args: Any, **_kwargs: Any) -> Any:
        if threading.get_ident() == me:
            got.append(response)
        return response

    api.hooks["response"].append(hook)
    try:
        yield got
    finally:
        api.hooks["response"].remove(hook)


class Heartbeat:
    """Pings the engine every ``every`` seconds while a long stream (a build) runs; after
    ``misses`` unanswered pings in a row it shuts the stream down, so the reader wakes
    within ~``every * misses + PING_TIMEOUT`` seconds of the engine going silent instead
    of waiting out the stream's read timeout. ``lost`` then says what happened."""

    def __init__(self, host: str, response: Any, every: float = 5.0, misses: int = 2) -> None:
        self.host, self.response, self.every, self.misses = host, response, every, misses
        self.lost: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="periph-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        if self.response is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()

    def _run(self) -> None:
        pinger = None
        missed = 0
        while not self._done.wait(self.every):
            try:
                pinger = pinger or client(self.host, timeout=PING_TIMEOUT)
                with sdk_errors("ping", self.host):
                    pinger.api.ping()
                missed = 0
            except PeriphError:
                pinger, missed = None, missed + 1
            if missed >= self.misses and not self._done.is_set():
                self.lost = (
                    f"the Docker engine at {self.host} stopped answering "
                    f"({missed} pings in a row unanswered)"
                )
                shutdown(self.response)
                return
