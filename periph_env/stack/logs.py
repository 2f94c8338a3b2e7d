"""Service logs: ``read_logs`` (what is there now) and ``LogFollower`` (live, merged).

One reader thread per service follows that service, not a container: when its
container stops, restarts or is recreated by a rebuild, the reader waits for the next
one and attaches from its first line (a new container) or from just after the last line
it delivered (the same container restarted), so no line is lost or repeated. Waiting is
driven by the engine's events stream (filtered to the project's containers), not by
polling: a service without a container costs nothing until the engine says something
changed. Readers read the stream in large pieces (``logstream``: one demultiplex, decode,
mask and split per read, not per line) and hand whole reads through a bounded queue
(back-pressure on the readers, never unbounded memory) to one dispatcher that calls
``on_lines`` with time-ordered batches every ~50 ms.

A lost engine is said, never waited on in silence. A follow stream has no read timeout
(a quiet service is not a dead engine), so a heartbeat thread pings the engine every
``HEARTBEAT_SECONDS``: when a ping fails (engine stopped, restarted, or accepting but
not answering) the follower calls ``on_notice("lost the Docker engine at …; retrying in
1 s…")``, closes the streams, and retries with backoff (1, 2, 4 … ``MAX_BACKOFF`` s),
saying so each time; when the engine answers again it says ``reconnected …`` and the
readers re-attach from just after the last line they delivered.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from periph_env.errors import EngineError, PeriphError
from periph_env.stack.docker_sdk import PING_TIMEOUT, sdk_errors
from periph_env.stack.engine_api import API_VERSION, unavailable
from periph_env.stack.logfilter import compile_grep, parse_since
from periph_env.stack.logstream import StreamReader
from periph_env.stack.models import LogLine

if TYPE_CHECKING:
    import re

    from periph_env.stack.control import Stack

OnLines = Callable[[list[LogLine]], None]
OnNotice = Callable[[str], None]
BATCH_SECONDS = 0.05
MAX_BATCH = 20_000  # lines per on_lines call at most (a backlog drains in a few calls)
HEARTBEAT_SECONDS = 5.0
MAX_BACKOFF = 16.0
READ_BYTES = 1 << 18  # one read of a logs stream: 256 KiB, a few thousand lines
PUMP_READS = 16  # socket reads a reader may be ahead of its parsing (4 MiB at most)
QUEUE_READS = 64  # reads waiting for the dispatcher (bounded: ~16 MiB at most)
# How long a reader waiting for a container sleeps between looks when the events stream
# is not there (connecting, or the engine is gone); with events it waits for them.
POLL_WITHOUT_EVENTS = 0.5
EVENTS_SAFETY = 30.0  # with events: a look anyway this often (an event lost in transit)
_BY_TIME = attrgetter("timestamp")


def _params(follow: bool, since: float | None, tail: int | None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "stdout": 1,
        "stderr": 1,
        "timestamps": 1,
        "follow": 1 if follow else 0,
        "tail": "all" if tail is None else str(tail),
    }
    if since is not None:
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


def _open_events(host: str, filters: str) -> EngineStream | SdkEvents:
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


def _event_actions(chunks: Iterator[bytes]) -> Iterator[str]:
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


def _open_stream(
    stack: Stack, container_id: str, *, follow: bool, since: float | None, tail: int | None = None
) -> tuple[EngineStream | SdkLogs, bool]:
    """Open the container's logs; (stream, whether the container has a TTY: its stream is
    then raw bytes, not frames). Failures raise ``PeriphError``s naming the engine."""
    import os

    host = stack.api.host
    params = _params(follow, since, tail)
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


def _read_container(
    stack: Stack, service: str, container_id: str, since: float | None, tail: int | None = None
) -> list[LogLine]:
    secrets = stack.secrets()
    lines: list[LogLine] = []
    stream, tty = _open_stream(stack, container_id, follow=False, since=since, tail=tail)
    reader = StreamReader(service, container_id, tty)
    try:
        with sdk_errors(f"read the logs of {service}", stack.api.host):
            for chunk in stream.chunks():
                lines.extend(reader.feed(chunk, secrets))
    finally:
        stream.close()
    lines.extend(reader.flush(secrets))
    return lines


def read_logs(
    stack: Stack,
    services: list[str] | None = None,
    since: str | float | None = None,
    grep: str | None = None,
    tail: int | None = None,
) -> list[LogLine]:
    """The logs of ``services`` (default: all) merged in time order, without following.

    ``since`` is a duration (``10m``), a time, or epoch seconds; ``grep`` a regex;
    ``tail`` the last N lines per service. Lines are masked (``redact``) as they are read."""
    since_at = since if isinstance(since, float) else parse_since(since, time.time())
    pattern = compile_grep(grep)
    wanted = set(stack.select(services) or stack.services())
    lines: list[LogLine] = []
    for status in stack.ps():
        if status.service in wanted and status.container_id:
            lines.extend(
                _read_container(stack, status.service, status.container_id, since_at, tail)
            )
    lines = _kept(lines, pattern, since_at)
    lines.sort(key=_BY_TIME)
    return lines


def _kept(lines: list[LogLine], grep: re.Pattern[str] | None, since: float | None) -> list[LogLine]:
    """The lines that pass ``--since`` and ``--grep`` (one pass each, only when set)."""
    if since is not None:
        lines = [line for line in lines if line.timestamp >= since]
    if grep is not None:
        search = grep.search
        lines = [line for line in lines if search(line.text) is not None]
    return lines


class _Changes:
    """The project's containers changed: a counter the events thread bumps and readers
    wait on (a reader notes the count before it looks, so no change falls in between)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.count = 0
        self.live = False  # True while the events stream is connected

    def bump(self) -> None:
        with self._cond:
            self.count += 1
            self._cond.notify_all()

    def wait(self, seen: int, stop: threading.Event) -> None:
        """Until the count moves past ``seen`` (or stop, or the fallback timeout)."""
        timeout = EVENTS_SAFETY if self.live else POLL_WITHOUT_EVENTS
        with self._cond:
            self._cond.wait_for(lambda: self.count != seen or stop.is_set(), timeout)


class LogFollower:
    """Follow services' logs live; ``on_lines`` gets time-ordered batches and
    ``on_notice`` one line each time the engine is lost, retried or found again."""

    first_retry = 1.0  # seconds before the first retry after the engine is lost; doubles

    def __init__(
        self,
        stack: Stack,
        on_lines: OnLines,
        services: list[str] | None = None,
        since: str | float | None = None,
        grep: str | None = None,
        on_notice: OnNotice | None = None,
    ) -> None:
        self.stack = stack
        self.on_lines = on_lines
        self.services = stack.select(services) or stack.services()
        self.since = since if isinstance(since, float) else parse_since(since, time.time())
        self.grep = compile_grep(grep)
        self._queue: queue.Queue[list[LogLine] | None] = queue.Queue(maxsize=QUEUE_READS)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._responses: dict[str, Any] = {}
        self._secrets = stack.secrets()
        self.on_notice = on_notice or (lambda _line: None)
        self._engine_lock = threading.Lock()
        self._lost_at: float | None = None  # monotonic time the engine was lost, or None
        self._backoff = self.first_retry
        self._retry_at = 0.0
        self._changes = _Changes()
        self._events: EngineStream | SdkEvents | None = None  # while connected

    def start(self) -> LogFollower:
        """Start one reader per service, the events watcher, the heartbeat and the
        dispatcher; an engine that is down or does not answer as one raises here, before
        anything is started."""
        self.stack.check_engine()
        self.stack.ps()
        threads = [
            (self._watch_events, "periph-logs-events", ()),
            (self._heartbeat, "periph-logs-heartbeat", ()),
            *((self._follow, f"periph-logs-{s}", (s,)) for s in self.services),
            (self._dispatch, "periph-logs-dispatch", ()),
        ]
        for target, name, args in threads:
            self._threads.append(threading.Thread(target=target, args=args, name=name, daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop following: close every stream, deliver what is queued, join the threads."""
        self._stop.set()
        self._close_streams()
        self._changes.bump()  # wakes the readers waiting for a container
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)  # wakes the dispatcher
        for thread in self._threads:
            thread.join(timeout=5)

    def _put(self, lines: list[LogLine]) -> None:
        """Queue one read's lines (filtered) for the dispatcher; waits while it is full."""
        lines = _kept(lines, self.grep, self.since)
        while lines and not self._stop.is_set():
            try:
                self._queue.put(lines, timeout=0.2)
                return
            except queue.Full:
                continue

    # --- the engine: lost, retried, found again -------------------------------------

    @property
    def engine_lost(self) -> bool:
        """True from a failed engine call until the engine answers again."""
        return self._lost_at is not None

    def _lost(self, error: PeriphError) -> float:
        """Record a failed engine call; say so once per retry; the seconds to wait."""
        host = self.stack.api.host
        with self._engine_lock:
            now = time.monotonic()
            if self._lost_at is None:
                self._lost_at, self._backoff = now, self.first_retry
                self._retry_at = now + self._backoff
                reason = error.message.splitlines()[0]
                self.on_notice(
                    f"lost the Docker engine at {host} ({reason}); "
                    f"retrying in {self._backoff:.0f} s…"
                )
                self._close_streams()
            elif now >= self._retry_at:
                self._backoff = min(self._backoff * 2, MAX_BACKOFF)
                self._retry_at = now + self._backoff
                self.on_notice(
                    f"still no Docker engine at {host} after {now - self._lost_at:.0f} s; "
                    f"retrying in {self._backoff:.0f} s…"
                )
            return max(0.05, self._retry_at - now)

    def _found(self) -> None:
        with self._engine_lock:
            if self._lost_at is None:
                return
            spent = time.monotonic() - self._lost_at
            self._lost_at = None
            self.on_notice(
                f"reconnected to the Docker engine at {self.stack.api.host} after {spent:.0f} s"
            )

    def _close_streams(self) -> None:
        for stream in list(self._responses.values()):
            with contextlib.suppress(Exception):
                stream.close()  # shuts the socket down: wakes the reader blocked on it
        events = self._events
        if events is not None:
            events.close()

    def _statuses(self) -> dict[str, Any] | None:
        """Every service's status, or None (said, and waited for) when the engine is lost."""
        if self.engine_lost and time.monotonic() < self._retry_at:
            self._stop.wait(max(0.05, self._retry_at - time.monotonic()))
            return None
        try:
            statuses = {s.service: s for s in self.stack.ps()}
        except PeriphError as exc:
            self._stop.wait(self._lost(exc))
            return None
        self._found()
        return statuses

    def _heartbeat(self) -> None:
        """Ping the engine while following: a follow stream alone cannot tell a quiet
        service from an engine that stopped answering."""
        while not self._stop.wait(HEARTBEAT_SECONDS if not self.engine_lost else 0.2):
            if self.engine_lost:
                continue  # the readers retry on their own schedule (and say so)
            try:
                self.stack.check_engine()
            except PeriphError as exc:
                self._lost(exc)

    def _watch_events(self) -> None:
        """Follow the engine's container events of the project and bump ``_changes`` on
        each: readers waiting for a container wake on them instead of polling. Losing the
        stream is not losing the engine (the heartbeat and the readers decide that):
        readers fall back to a slow look until it is back."""
        backoff = 0.5
        while not self._stop.is_set():
            try:
                label = f"com.docker.compose.project={self.stack.project}"
                filters = json.dumps({"type": ["container"], "label": [label]})
                self._events = stream = _open_events(self.stack.api.host, filters)
                # Subscribed first, then a look: no change can fall in between.
                self._changes.live, backoff = True, 0.5
                self._changes.bump()
                for action in _event_actions(stream.chunks()):
                    if self._stop.is_set():
                        return
                    if not action.startswith(("exec_", "top", "archive-path", "extract")):
                        self._changes.bump()
            except Exception:  # said by the readers and the heartbeat, not here
                pass
            finally:
                self._changes.live = False
                events, self._events = self._events, None
                if events is not None:
                    events.close()
            self._changes.bump()  # readers switch to looking on their own
            self._stop.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    # --- the readers --------------------------------------------------------------

    def _follow(self, service: str) -> None:
        """Attach to the service's current container, again and again, until stopped."""
        cursors: dict[str, float] = {}  # container id -> timestamp of the last line delivered
        while not self._stop.is_set():
            seen = self._changes.count
            statuses = self._statuses()
            if statuses is None:
                continue
            status = statuses.get(service)
            container_id = status.container_id if status is not None else None
            if container_id is None:
                self._changes.wait(seen, self._stop)
                continue
            since = cursors.get(container_id, self.since)
            with contextlib.suppress(Exception):
                self._attach(service, container_id, since, cursors)
            # Stream ended: the container stopped or was replaced. Wait for a change.
            self._wait_for_next(service, container_id)

    def _attach(
        self, service: str, container_id: str, since: float | None, cursors: dict[str, float]
    ) -> None:
        stream, tty = _open_stream(self.stack, container_id, follow=True, since=since)
        self._responses[service] = stream
        reader = StreamReader(service, container_id, tty)
        # The engine's `since` is inclusive: lines up to the last one delivered are skipped.
        last = cursors.get(container_id)
        try:
            for chunk in pumped(stream.chunks(), f"periph-logs-{service}-pump"):
                self._deliver(reader.feed(chunk, self._secrets), container_id, cursors, last)
                if self._stop.is_set():
                    return
            self._deliver(reader.flush(self._secrets), container_id, cursors, last)
        finally:
            self._responses.pop(service, None)
            with contextlib.suppress(Exception):
                stream.close()

    def _deliver(
        self, lines: list[LogLine], container_id: str, cursors: dict[str, float], last: float | None
    ) -> None:
        if not lines:
            return
        if last is not None and lines[0].timestamp <= last:
            lines = [line for line in lines if line.timestamp > last]
            if not lines:
                return
        cursors[container_id] = max(cursors.get(container_id, 0.0), max(map(_BY_TIME, lines)))
        self._put(lines)

    def _wait_for_next(self, service: str, old_id: str) -> None:
        while not self._stop.is_set():
            seen = self._changes.count
            statuses = self._statuses()
            if statuses is None:
                continue
            status = statuses.get(service)
            if (
                status is not None
                and status.container_id
                and (status.container_id != old_id or status.state in ("running", "restarting"))
            ):
                return
            self._changes.wait(seen, self._stop)

    def _dispatch(self) -> None:
        """Merge the readers' reads into time-ordered batches: block until a read comes,
        then take what else arrives within ``BATCH_SECONDS`` (no wake-ups while idle)."""
        while True:
            first = self._queue.get()
            if first is None:
                if self._stop.is_set() and self._queue.empty():
                    return
                continue
            batch = list(first)
            deadline = time.monotonic() + BATCH_SECONDS
            while len(batch) < MAX_BATCH:
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    break
                try:
                    more = self._queue.get(timeout=timeout)
                except queue.Empty:
                    break
                if more is None:
                    with contextlib.suppress(queue.Full):
                        self._queue.put_nowait(None)  # seen again once the batch is out
                    break
                batch.extend(more)
            batch.sort(key=_BY_TIME)
            self.on_lines(batch)
