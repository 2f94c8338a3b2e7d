"""The engine's streams that logs are read from: a container's logs and the project's
events, over the engine's socket in large reads.

``EngineStream`` speaks HTTP/1.0 to a ``unix://`` or plain ``tcp://`` engine, so the body
comes unchunked and is read ``READ_BYTES`` at a time (the docker SDK hands out one HTTP
chunk per read: a Python call per log line); a TLS engine goes through the SDK
(``SdkLogs``, ``SdkEvents``). ``pumped`` keeps a socket read ahead of the parsing in its
own thread, so the engine keeps writing while a read is demultiplexed.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from periph_env.errors import EngineError
from periph_env.stack.docker_sdk import PING_TIMEOUT, sdk_errors
from periph_env.stack.engine_api import API_VERSION, unavailable

if TYPE_CHECKING:
    from periph_env.stack.control import Stack

READ_BYTES = 1 << 18  # one read of a logs stream: 256 KiB, a few thousand lines
PUMP_READS = 16  # socket reads a reader may be ahead of its parsing (4 MiB at most)


def log_params(
    follow: bool, since: float | None, tail: int | None, since_ns: int | None = None
) -> dict[str, Any]:
    """The logs request's query. ``since_ns`` (a cursor: the stamp of the last line
    delivered, in nanoseconds) is sent exactly, as ``seconds.nanoseconds``; a float
    ``since`` only to the nanosecond a float holds (~240 ns)."""
    params: dict[str, Any] = {
        "stdout": 1,
        "stderr": 1,
        "timestamps": 1,
        "follow": 1 if follow else 0,
        "tail": "all" if tail is None else str(tail),
    }
    if since_ns is not None:
        params["since"] = f"{since_ns // 1_000_000_000}.{since_ns % 1_000_000_000:09d}"
    elif since is not None:
        params["since"] = f"{since:.9f}"
    return params


class EngineStream:
    """``GET /containers/{id}/logs`` over a socket of its own, as HTTP/1.0.

    Why not the docker SDK: the engine answers HTTP/1.1 in chunked encoding, one chunk
    per log line, and urllib3 hands out one chunk per read: ~200,000 Python reads for
    200,000 lines, which alone capped a follow at ~15-20k lines/s. Asked as HTTP/1.0, the
    engine (Go's net/http) sends the body unchunked and ends it by closing, so a read is
    up to ``READ_BYTES`` of frames. For ``unix://`` and plain ``tcp://`` hosts; a TLS
    host (``DOCKER_TLS_VERIFY``) goes through the SDK (``SdkLogs``)."""

    def __init__(self, host: str, path: str, params: dict[str, Any], timeout: float) -> None:
        import socket
        import urllib.parse

        parsed = urllib.parse.urlparse(host)
        if parsed.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: Any = parsed.path
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            address = (parsed.hostname, parsed.port or 2375)
        self._sock = sock
        self._body = b""
        try:
            sock.settimeout(timeout)
            sock.connect(address)
            query = urllib.parse.urlencode(params)
            sock.sendall(
                f"GET /{API_VERSION}{path}?{query} HTTP/1.0\r\nHost: docker\r\n\r\n".encode()
            )
            head = b""
            while b"\r\n\r\n" not in head:
                got = sock.recv(65536)
                if not got:
                    raise ConnectionError("the engine closed the connection before answering")
                head += got
        except BaseException:
            sock.close()
            raise
        head, _, self._body = head.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)
        }
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()

    def error(self) -> str:
        """The engine's error message of a failed request (its JSON ``message``)."""
        body = self._body + b"".join(iter(lambda: self._sock.recv(65536), b""))
        try:
            return str(json.loads(body).get("message") or body[:200])
        except (ValueError, AttributeError):
            return body[:200].decode(errors="replace")

    def follow(self) -> None:
        """No read timeout from now on: a quiet service is not a dead engine (the
        follower's heartbeat watches the engine instead)."""
        self._sock.settimeout(None)

    def chunks(self) -> Iterator[bytes]:
        """The body, in reads of up to ``READ_BYTES``."""
        if self._chunked:  # an HTTP/1.0 answer should never be chunked; a proxy might
            yield from dechunk(self._raw())
            return
        yield from self._raw()

    def _raw(self) -> Iterator[bytes]:
        if self._body:
            yield self._body
        recv = self._sock.recv
        while chunk := recv(READ_BYTES):
            yield chunk

    def close(self) -> None:
        """Shut the socket down (wakes a thread blocked reading it) and close it."""
        import socket

        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()


def dechunk(reads: Iterator[bytes]) -> Iterator[bytes]:
    """HTTP/1.1 chunked transfer coding undone, a read at a time."""
    pending = b""
    for data in reads:
        pending += data
        out, pos = [], 0
        while True:
            eol = pending.find(b"\r\n", pos)
            if eol < 0:
                break
            size = int(pending[pos:eol].split(b";", 1)[0] or b"0", 16)
            if size == 0:
                yield b"".join(out)
                return
            if eol + 2 + size + 2 > len(pending):
                break
            out.append(pending[eol + 2 : eol + 2 + size])
            pos = eol + 2 + size + 2
        pending = pending[pos:]
        if out:
            yield b"".join(out)


def open_events(host: str, filters: str) -> EngineStream | SdkEvents:
    """The engine's events stream (no read timeout: the heartbeat watches the engine)."""
    import os

    if host.startswith(("unix://", "tcp://", "http://")) and not os.environ.get(
        "DOCKER_TLS_VERIFY"
    ):
        stream = EngineStream(host, "/events", {"filters": filters}, PING_TIMEOUT)
        if stream.status != 200:
            message = stream.error()
            stream.close()
            raise EngineError(f"the engine refused its events stream: {message}")
        stream.follow()
        return stream
    return SdkEvents(host, filters)


def event_actions(chunks: Iterator[bytes]) -> Iterator[str]:
    """The action (``start``, ``die``, ``destroy``…) of each event in a JSON-lines stream."""
    pending = b""
    for data in chunks:
        *complete, pending = (pending + data).split(b"\n")
        for raw in complete:
            with contextlib.suppress(ValueError, AttributeError):
                event = json.loads(raw)
                yield str(event.get("status") or event.get("Action") or "")


class SdkEvents:
    """The events stream through the docker SDK (TLS hosts), as JSON-lines bytes."""

    def __init__(self, host: str, filters: str) -> None:
        from periph_env.stack import docker_sdk

        self._client = docker_sdk.client(host, timeout=None)
        with sdk_errors("follow the engine's events", host):
            self._stream = self._client.events(filters=json.loads(filters))

    def chunks(self) -> Iterator[bytes]:
        """Each event's bytes."""
        for event in self._stream:
            yield event + b"\n"

    def close(self) -> None:
        """Close the stream (wakes its reader) and the client."""
        with contextlib.suppress(Exception):
            self._stream.close()
        with contextlib.suppress(Exception):
            self._client.close()


class SdkLogs:
    """The same request through the docker SDK (TLS hosts): one HTTP chunk per read."""

    def __init__(self, api: Any, container_id: str, params: dict[str, Any]) -> None:
        url = api._url("/containers/{0}/logs", container_id)
        self._api = api
        self._response = api._get(url, params=params, stream=True)
        api._raise_for_status(self._response)

    def follow(self) -> None:
        """No read timeout from now on (see ``EngineStream.follow``)."""
        self._api._disable_socket_timeout(self._api._get_raw_response_socket(self._response))

    def chunks(self) -> Iterator[bytes]:
        """The body as urllib3 hands it out."""
        raw = self._response.raw
        read = raw.read1 if hasattr(raw, "read1") else raw.read
        while chunk := read(READ_BYTES):
            yield chunk

    def close(self) -> None:
        """Shut the response down (wakes its reader) and close it."""
        from periph_env.stack.docker_sdk import shutdown

        shutdown(self._response)
        with contextlib.suppress(Exception):
            self._response.close()


def open_stream(
    stack: Stack,
    container_id: str,
    *,
    follow: bool,
    since: float | None,
    tail: int | None = None,
    since_ns: int | None = None,
) -> tuple[EngineStream | SdkLogs, bool]:
    """Open the container's logs; (stream, whether the container has a TTY: its stream is
    then raw bytes, not frames). Failures raise ``PeriphError``s naming the engine."""
    import os

    host = stack.api.host
    params = log_params(follow, since, tail, since_ns)
    detail = stack.api.get(f"/containers/{container_id}/json")
    if detail is None:
        raise EngineError(f"container {container_id[:12]} is gone")
    tty = bool((detail.get("Config") or {}).get("Tty"))
    stream: EngineStream | SdkLogs
    if host.startswith(("unix://", "tcp://", "http://")) and not os.environ.get(
        "DOCKER_TLS_VERIFY"
    ):
        try:
            stream = EngineStream(host, f"/containers/{container_id}/logs", params, PING_TIMEOUT)
        except (OSError, ValueError) as exc:
            raise unavailable(host, str(exc) or type(exc).__name__) from None
        if stream.status != 200:
            message = stream.error()
            stream.close()
            raise EngineError(f"the engine refused the logs of {container_id[:12]}: {message}")
    else:
        with sdk_errors("open a logs stream", host):
            stream = SdkLogs(stack.sdk().api, container_id, params)
    if follow:
        stream.follow()
    return stream, tty


def pumped(chunks: Iterator[bytes], name: str, depth: int = PUMP_READS) -> Iterator[bytes]:
    """``chunks`` read by a thread of their own, ``depth`` reads ahead, handed out joined
    (what arrived while the caller was busy comes as one piece).

    Why: a reader that parses between two socket reads leaves the engine blocked on a
    full socket buffer meanwhile; a socket read releases the GIL, so the engine keeps
    writing while this thread parses. An error of the read is raised here."""
    ahead: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=depth)
    done = threading.Event()

    def pump() -> None:
        item: bytes | BaseException | None = None
        try:
            for chunk in chunks:
                while not done.is_set():
                    try:
                        ahead.put(chunk, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if done.is_set():
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            item = exc
        with contextlib.suppress(queue.Full):
            while not done.is_set():
                try:
                    ahead.put(item, timeout=0.2)
                    return
                except queue.Full:
                    continue

    threading.Thread(target=pump, name=name, daemon=True).start()
    try:
        while True:
            item = ahead.get()
            parts = [item]
            while isinstance(item, bytes) and not ahead.empty():
                item = ahead.get_nowait()
                parts.append(item)
            end = parts.pop() if not isinstance(parts[-1], bytes) else False
            if parts:
                yield b"".join(parts)  # type: ignore[arg-type]
            if end is not False:
                if isinstance(end, BaseException):
                    raise end
                return
    finally:
        done.set()
