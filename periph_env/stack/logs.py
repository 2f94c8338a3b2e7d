"""Service logs: ``read_logs`` (what is there now) and ``LogFollower`` (live, merged).

One reader thread per service follows that service, not a container: when its
container stops, restarts or is recreated by a rebuild, the reader waits for the next
one and attaches from its first line (a new container) or from just after the last line
it delivered (the same container restarted), so no line is lost or repeated. Lines go
through a bounded queue (back-pressure on the readers, never unbounded memory) to one
dispatcher that calls ``on_lines`` with time-ordered batches every ~50 ms.

The engine's multiplexed frames are split by their 8-byte headers so each line keeps
its stream (stdout/stderr).

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
import queue
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from periph_env.common.redact import redact
from periph_env.errors import PeriphError
from periph_env.stack.docker_sdk import sdk_errors
from periph_env.stack.logfilter import LineSplitter, compile_grep, keep, parse_since
from periph_env.stack.models import LogLine

if TYPE_CHECKING:
    from periph_env.stack.control import Stack

OnLines = Callable[[list[LogLine]], None]
OnNotice = Callable[[str], None]
BATCH_SECONDS = 0.05
HEARTBEAT_SECONDS = 5.0
MAX_BACKOFF = 16.0
QUEUE_LINES = 10_000
_STREAMS = {1: "stdout", 2: "stderr"}


def _open_stream(
    api: Any, container_id: str, *, follow: bool, since: float | None, tail: int | None = None
) -> tuple[Any, Any]:
    """Open ``/containers/{id}/logs`` and return (response, frames iterator)."""
    params = {
        "stdout": 1,
        "stderr": 1,
        "timestamps": 1,
        "follow": 1 if follow else 0,
        "tail": "all" if tail is None else str(tail),
    }
    if since is not None:
        params["since"] = f"{since:.9f}"
    response = api._get(api._url("/containers/{0}/logs", container_id), params=params, stream=True)
    api._raise_for_status(response)
    tty = bool(api.inspect_container(container_id)["Config"].get("Tty"))
    if follow:
        api._disable_socket_timeout(api._get_raw_response_socket(response))
    return response, _frames(response, tty)


def _frames(response: Any, tty: bool) -> Iterator[tuple[int, bytes]]:
    """(stream id, data) frames of a logs response (urllib3 undoes the chunking)."""
    raw = response.raw
    if tty:
        while chunk := raw.read1(65536) if hasattr(raw, "read1") else raw.read(4096):
            yield 1, chunk
        return
    while True:
        header = raw.read(8)
        if not header or len(header) < 8:
            return
        length = struct.unpack(">L", header[4:8])[0]
        if length == 0:
            continue
        data = raw.read(length)
        if not data:
            return
        yield header[0], data


def _read_container(
    stack: Stack, service: str, container_id: str, since: float | None, tail: int | None = None
) -> list[LogLine]:
    api = stack.sdk().api
    splitters = {n: LineSplitter(service, container_id, s) for n, s in _STREAMS.items()}
    lines: list[LogLine] = []
    with sdk_errors(f"read the logs of {service}", stack.api.host):
        response, frames = _open_stream(api, container_id, follow=False, since=since, tail=tail)
        try:
            for stream_id, data in frames:
                lines.extend(splitters.get(stream_id, splitters[1]).feed(data))
        finally:
            response.close()
    for splitter in splitters.values():
        lines.extend(splitter.flush())
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
    ``tail`` the last N lines per service."""
    since_at = since if isinstance(since, float) else parse_since(since, time.time())
    pattern = compile_grep(grep)
    wanted = set(stack._select(services) or stack.services())
    lines: list[LogLine] = []
    for status in stack.ps():
        if status.service in wanted and status.container_id:
            lines.extend(
                _read_container(stack, status.service, status.container_id, since_at, tail)
            )
    lines.sort(key=lambda line: line.timestamp)
    secrets = stack.secrets()
    out = []
    for line in lines:
        if keep(line, pattern, since_at):
            out.append(_masked(line, secrets))
    return out


def _masked(line: LogLine, secrets: list[str]) -> LogLine:
    text = redact(line.text, secrets, keep_lines=False, colors="drop")  # the one masker
    if text == line.text:
        return line
    return LogLine(line.service, line.timestamp, text, line.stream, line.container_id)


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
        self.services = stack._select(services) or stack.services()
        self.since = since if isinstance(since, float) else parse_since(since, time.time())
        self.grep = compile_grep(grep)
        self._queue: queue.Queue[LogLine] = queue.Queue(maxsize=QUEUE_LINES)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._responses: dict[str, Any] = {}
        self._secrets = stack.secrets()
        self.on_notice = on_notice or (lambda _line: None)
        self._engine_lock = threading.Lock()
        self._lost_at: float | None = None  # monotonic time the engine was lost, or None
        self._backoff = self.first_retry
        self._retry_at = 0.0

    def start(self) -> LogFollower:
        """Start one reader per service, the heartbeat and the dispatcher; an engine that
        is down or does not answer as one raises here, before anything is started."""
        self.stack.check_engine()
        self.stack.ps()
        self._threads.append(
            threading.Thread(target=self._heartbeat, name="periph-logs-heartbeat", daemon=True)
        )
        for service in self.services:
            thread = threading.Thread(
                target=self._follow, args=(service,), name=f"periph-logs-{service}", daemon=True
            )
            self._threads.append(thread)
        self._threads.append(
            threading.Thread(target=self._dispatch, name="periph-logs-dispatch", daemon=True)
        )
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop following: close every stream, deliver what is queued, join the threads."""
        self._stop.set()
        self._close_streams()
        for thread in self._threads:
            thread.join(timeout=5)

    def _put(self, line: LogLine) -> None:
        if not keep(line, self.grep, self.since):
            return
        line = _masked(line, self._secrets)
        while not self._stop.is_set():
            try:
                self._queue.put(line, timeout=0.2)
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
        from periph_env.stack.docker_sdk import shutdown

        for response in list(self._responses.values()):
            shutdown(response)  # wakes the reader blocked on it

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

    # --- the readers --------------------------------------------------------------

    def _follow(self, service: str) -> None:
        """Attach to the service's current container, again and again, until stopped."""
        cursors: dict[str, float] = {}  # container id -> timestamp of the last line delivered
        while not self._stop.is_set():
            statuses = self._statuses()
            if statuses is None:
                continue
            status = statuses.get(service)
            container_id = status.container_id if status is not None else None
            if container_id is None:
                self._stop.wait(0.3)
                continue
            since = cursors.get(container_id, self.since)
            with contextlib.suppress(Exception):
                self._attach(service, container_id, since, cursors)
            # Stream ended: the container stopped or was replaced. Wait for a change.
            self._wait_for_next(service, container_id)

    def _attach(
        self, service: str, container_id: str, since: float | None, cursors: dict[str, float]
    ) -> None:
        api = self.stack.sdk().api
        # The engine's `since` is inclusive: skip the line we already delivered.
        response, frames = _open_stream(api, container_id, follow=True, since=since)
        self._responses[service] = response
        splitters = {n: LineSplitter(service, container_id, s) for n, s in _STREAMS.items()}
        last = cursors.get(container_id)
        try:
            for stream_id, data in frames:
                for line in splitters.get(stream_id, splitters[1]).feed(data):
                    if last is not None and line.timestamp <= last:
                        continue
                    cursors[container_id] = line.timestamp
                    self._put(line)
                if self._stop.is_set():
                    return
            for splitter in splitters.values():
                for line in splitter.flush():
                    cursors[container_id] = line.timestamp
                    self._put(line)
        finally:
            self._responses.pop(service, None)
            with contextlib.suppress(Exception):
                response.close()

    def _wait_for_next(self, service: str, old_id: str) -> None:
        while not self._stop.is_set():
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
            self._stop.wait(0.25)

    def _dispatch(self) -> None:
        while not (self._stop.is_set() and self._queue.empty()):
            batch: list[LogLine] = []
            deadline = time.monotonic() + BATCH_SECONDS
            while len(batch) < 5000:
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    break
                try:
                    batch.append(self._queue.get(timeout=timeout))
                except queue.Empty:
                    break
            if batch:
                batch.sort(key=lambda line: line.timestamp)
                self.on_lines(batch)
            elif self._stop.is_set():
                return
