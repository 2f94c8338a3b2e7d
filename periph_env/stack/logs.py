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
from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from periph_env.errors import PeriphError
from periph_env.stack.docker_sdk import sdk_errors
from periph_env.stack.engine_streams import (
    EngineStream,
    SdkEvents,
    event_actions,
    open_events,
    open_stream,
    pumped,
)
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
QUEUE_READS = 64  # reads waiting for the dispatcher (bounded: ~16 MiB at most)
# How long a reader waiting for a container sleeps between looks when the events stream
# is not there (connecting, or the engine is gone); with events it waits for them.
POLL_WITHOUT_EVENTS = 0.5
EVENTS_SAFETY = 30.0  # with events: a look anyway this often (an event lost in transit)
# Lines are merged by the engine's stamp in integer nanoseconds (a float of epoch seconds
# cannot tell apart stamps ~240 ns apart); the sort is stable, so equal stamps keep the
# order the engine sent them in.
_BY_TIME = attrgetter("ns")


def _read_container(
    stack: Stack, service: str, container_id: str, since: float | None, tail: int | None = None
) -> list[LogLine]:
    secrets = stack.secrets()
    lines: list[LogLine] = []
    stream, tty = open_stream(stack, container_id, follow=False, since=since, tail=tail)
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
                self._events = stream = open_events(self.stack.api.host, filters)
                # Subscribed first, then a look: no change can fall in between.
                self._changes.live, backoff = True, 0.5
                self._changes.bump()
                for action in event_actions(stream.chunks()):
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
        cursors: dict[str, int] = {}  # container id -> stamp (ns) of the last line delivered
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
            with contextlib.suppress(Exception):
                self._attach(service, container_id, cursors)
            # Stream ended: the container stopped or was replaced. Wait for a change.
            self._wait_for_next(service, container_id)

    def _attach(self, service: str, container_id: str, cursors: dict[str, int]) -> None:
        # Again on a container already read: from its last line's exact stamp.
        last = cursors.get(container_id)
        stream, tty = open_stream(
            self.stack, container_id, follow=True, since=self.since, since_ns=last
        )
        self._responses[service] = stream
        reader = StreamReader(service, container_id, tty)
        # The engine's `since` is inclusive: lines up to the last one delivered are skipped.
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
        self, lines: list[LogLine], container_id: str, cursors: dict[str, int], last: int | None
    ) -> None:
        if not lines:
            return
        if last is not None and lines[0].ns <= last:
            lines = [line for line in lines if line.ns > last]
            if not lines:
                return
        cursors[container_id] = max(cursors.get(container_id, 0), max(map(_BY_TIME, lines)))
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
