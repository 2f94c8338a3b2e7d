"""Logs of an environment's services: every replica, following pods as they are replaced.

Without ``follow``: the tail of every container of every pod of each service, read
through the API (no process). With ``follow``: the pods are listed every
``POLL_SECONDS``; each container of each running pod gets one streaming GET of its log
(``follow=true``) through the ``Kube``'s one REST client, read by a thread: new replicas
of a rollout are followed as they start, and a pod's streams end when it goes. No
process is started. Lines carry ``[pod/<name>/<container>]`` (kubectl's ``--prefix``).
Secret values are masked in every line.

When the API server cannot be reached, ``follow`` says so once, retries with a growing
pause (``BACKOFF``) and says when it retries, and resumes when the server answers again.
Streams ask for timestamps: a restarted stream asks from the second of the last line
shown (``sinceTime``) and skips the lines already shown, so the lines of an outage are
neither lost nor doubled. A stream that ends by itself (a container ended, a dropped
connection) restarts at once if it was giving lines, else when the pod changes or after
a pause that grows to a minute: a log that cannot be read yet shows its error once in a
while, not every poll. A stream silent for ``QUIET_READ`` seconds is reopened (a
connection nobody speaks on may be dead; the reopened one skips what was shown).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from periph_env.deploy.kube import Kube
from periph_env.deploy.kube_reach import ClusterUnreachable
from periph_env.deploy.migrate import mask
from periph_env.errors import PeriphError

SERVICE_LABEL = "app.kubernetes.io/name"
POLL_SECONDS = 2.0  # how soon a new replica's log is followed
BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)  # pauses between retries of a lost API server
SILENT_RESTART, SILENT_RESTART_MAX = 2.5, 60.0  # a pod's stream that keeps ending empty
END_GRACE = 3.0  # how long an ended stream's reader gets to finish
QUIET_READ = 60.0  # a followed log silent this long is reopened (see the docstring)


def selector(services: list[str]) -> str:
    """Label selector for the pods of ``services`` (all managed services when empty)."""
    if not services:
        return "app.kubernetes.io/part-of=peripheral"
    return f"{SERVICE_LABEL} in ({','.join(services)})"


def tail(kube: Kube, services: list[str], out: Callable[[str], None], lines: int = 200) -> int:
    """Print the last ``lines`` of every container of every matching pod, each line as
    ``kubectl logs --all-containers --prefix`` shows it; the number of pods read.

    Through the API (one request per container, no process); a container whose log cannot
    be read (not started yet) gets one line saying why. A lost API server raises."""
    pods = kube.list("Pod", selector(services))
    for pod in pods:
        name = pod["metadata"]["name"]
        for container in _containers(pod):
            prefix = f"[pod/{name}/{container}]"
            try:
                text = kube.rest.text(
                    kube.rest.path("v1", "Pod", name) + "/log",
                    {"container": container, "tailLines": str(lines)},
                )
            except ClusterUnreachable:
                raise
            except PeriphError as exc:
                out(mask(f"{prefix} (no log: {exc.message})", kube.secrets))
                continue
            for line in text.splitlines():
                out(mask(f"{prefix} {line}", kube.secrets))
    return len(pods)


def _containers(pod: dict) -> list[str]:
    """Container names in kubectl's ``--all-containers`` order: init, regular, ephemeral."""
    spec = pod.get("spec") or {}
    kinds = ("initContainers", "containers", "ephemeralContainers")
    return [c["name"] for kind in kinds for c in spec.get(kind) or [] if c.get("name")]


_STAMP = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z ")


def split_stamp(line: bytes) -> tuple[tuple[str, int] | None, bytes]:
    """``(("2026-12-03T04:05:06", nanoseconds), text)`` of a line read with
    ``timestamps=true``; ``(None, line)`` when it carries no timestamp."""
    found = _STAMP.match(line)
    if found is None:
        return None, line
    nanos = int((found.group(2) or b"0").ljust(9, b"0"))
    return (found.group(1).decode(), nanos), line[found.end() :]


def _running(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and not pod["metadata"].get(
        "deletionTimestamp"
    )


class Opened(Protocol):
    """An open log stream: its lines (bytes), and ``close`` from any thread."""

    def __iter__(self) -> Any: ...

    def close(self) -> None: ...


@dataclass
class _Stream:
    """One container's followed log: its reader thread, the open response, and where it
    got to (the last timestamp shown and how many lines carried it)."""

    pod: str
    container: str
    reader: threading.Thread | None = None
    opened: Opened | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    done: bool = False  # the reader ended by itself (not by ``end``)
    quiet: bool = False  # ... because nothing came for QUIET_READ seconds: reopen at once
    lines: int = 0  # lines the current reader has given (an error line counts)
    last: tuple[str, int] | None = None
    at_last: int = 0  # lines shown with timestamp ``last`` (several may share it)
    replay: int = 0  # of those, how many the reopened stream has yet to repeat
    # A stream that ended by itself (a container ended, a dropped connection, a log not
    # available yet) restarts when the pod changes, or after a pause that grows while its
    # restarts give nothing (an error line once a minute at most, not every poll).
    ended_at_version: str | None = None
    silent_ends: int = 0
    retry_at: float = 0.0

    @property
    def prefix(self) -> str:
        return f"[pod/{self.pod}/{self.container}]"

    def query(self) -> dict[str, str]:
        """The log request: followed, with timestamps, from the last line's second."""
        query = {"container": self.container, "follow": "true", "timestamps": "true"}
        if self.last is not None:
            query["sinceTime"] = self.last[0] + "Z"
        return query

    def fresh(self, stamp: tuple[str, int] | None) -> bool:
        """Whether a line stamped ``stamp`` was not shown yet (remembered if not): a
        reopened stream repeats the lines of ``last``'s second and may repeat those of
        ``last`` itself (``replay``: how many of those are still to come)."""
        if stamp is None:
            return True
        if self.last is None or stamp > self.last:
            self.last, self.at_last, self.replay = stamp, 1, 0
            return True
        if stamp < self.last:
            return False
        if self.replay > 0:
            self.replay -= 1
            return False
        self.at_last += 1
        return True


class Follower:
    """Follows every matching pod's log until ``stop`` is set; see the module docstring."""

    clock = staticmethod(time.monotonic)  # when a silent stream may restart

    def __init__(
        self,
        kube: Kube,
        services: list[str],
        out: Callable[[str], None],
        notice: Callable[[str], None],
        stop: threading.Event,
    ) -> None:
        self.kube, self.out, self.notice, self.stop = kube, out, notice, stop
        self.wanted = selector(services)
        self.streams: dict[tuple[str, str], _Stream] = {}
        self.lock = threading.Lock()
        self.lost_since: float | None = None
        self.retries = 0

    def pods(self) -> list[dict]:
        """The matching pods, through the REST client (bounded; errors are PeriphErrors;
        an answer that is no pod list is ``ClusterUnreachable``)."""
        return self.kube.list("Pod", self.wanted)

    def open(self, stream: _Stream) -> Opened:
        """The streaming GET of one container's log (``follow=true``), no process."""
        rest = self.kube.rest
        path = rest.path("v1", "Pod", stream.pod) + "/log"
        return rest.stream(path, stream.query(), QUIET_READ)

    def run(self) -> None:
        """The follow loop."""
        try:
            while not self.stop.is_set():
                try:
                    pods = self.pods()
                except PeriphError as exc:
                    self.lost(exc)
                    continue
                self.back()
                self.sync(pods)
                self.stop.wait(POLL_SECONDS)
        finally:
            for stream in self.streams.values():
                self.end(stream)

    def lost(self, exc: PeriphError) -> None:
        """Say the API server is lost (once, then at each retry), cut the streams, pause."""
        pause = BACKOFF[min(self.retries, len(BACKOFF) - 1)]
        self.retries += 1
        if self.lost_since is None:
            self.lost_since = time.monotonic()
            self.notice(f"lost the connection: {exc.message}")
            for stream in self.streams.values():
                self.end(stream)
                stream.retry_at = 0.0  # reopen as soon as the server answers
        self.notice(f"retrying in {pause:.0f} s (attempt {self.retries}); ctrl+c to stop")
        self.stop.wait(pause)

    def back(self) -> None:
        """Say the API server answers again, after an outage."""
        if self.lost_since is not None:
            down = time.monotonic() - self.lost_since
            self.notice(
                f"{self.kube.endpoint.describe()} answers again after {down:.0f} s; "
                "following the logs again"
            )
            self.lost_since, self.retries = None, 0

    def sync(self, pods: list[dict]) -> None:
        """Open streams of running pods' containers, end those of pods gone, reopen ended
        ones (see ``_Stream``)."""
        running = {p["metadata"]["name"]: p for p in pods if _running(p)}
        wanted = {(name, c): pod for name, pod in running.items() for c in _containers(pod)}
        for key in list(self.streams):
            if key not in wanted:
                self.end(self.streams.pop(key))
        now = self.clock()
        for key, pod in sorted(wanted.items(), key=lambda item: item[0]):
            version = str(pod["metadata"].get("resourceVersion", ""))
            stream = self.streams.setdefault(key, _Stream(*key))
            if stream.reader is not None and stream.done:
                gave_nothing = stream.lines <= 1 and not stream.quiet  # at most an error
                stream.silent_ends = stream.silent_ends + 1 if gave_nothing else 0
                pause = min(SILENT_RESTART_MAX, SILENT_RESTART * 2**stream.silent_ends)
                stream.retry_at = now + (pause if gave_nothing else 0.0)
                stream.ended_at_version = version
                self.end(stream)
            changed = stream.ended_at_version != version
            if stream.reader is None and (changed or now >= stream.retry_at):
                stream.ended_at_version = None
                self.start(stream)

    def start(self, stream: _Stream) -> None:
        """A reader thread for ``stream``: it opens the log and hands its lines over."""
        stream.cancel, stream.done, stream.quiet, stream.lines = threading.Event(), False, False, 0
        stream.replay = stream.at_last
        stream.reader = threading.Thread(
            target=self.read, args=(stream, stream.cancel),
            name=f"periph-logs-{stream.pod}/{stream.container}", daemon=True,
        )  # fmt: skip
        stream.reader.start()

    def end(self, stream: _Stream) -> None:
        """Stop a stream (if open) and wait for its reader: the follower leaves no thread
        or connection of its own behind."""
        reader = stream.reader
        if reader is None:
            return
        stream.cancel.set()
        opened = stream.opened
        if opened is not None:
            opened.close()  # unblocks the reader's wait for the next line
        if reader is not threading.current_thread():
            reader.join(END_GRACE)
        stream.reader, stream.opened = None, None

    def read(self, stream: _Stream, cancel: threading.Event) -> None:
        """The reader thread: open the log, hand each new line to ``out`` (masked)."""
        import urllib3.exceptions

        try:
            opened = self.open(stream)
        except ClusterUnreachable:
            stream.done = True  # the pod list notices the outage and says so
            return
        except PeriphError as exc:  # a log that cannot be read (yet): say why, as tail
            stream.lines += 1
            self.say(f"{stream.prefix} (no log: {exc.message})")
            stream.done = True
            return
        except Exception:  # anything else: an end like a dropped connection, no traceback
            stream.done = True
            return
        stream.opened = opened
        if cancel.is_set():  # ended while opening
            opened.close()
            return
        try:
            for raw in opened:
                stamp, text = split_stamp(raw)
                if cancel.is_set():
                    return
                if not stream.fresh(stamp):
                    continue
                stream.lines += 1
                self.say(f"{stream.prefix} {text.decode(errors='replace').rstrip(chr(10))}")
        except urllib3.exceptions.ReadTimeoutError:
            stream.quiet = True
        except (urllib3.exceptions.HTTPError, OSError, ValueError):
            pass  # a dropped connection: an end like any other (see ``sync``)
        finally:
            opened.close()
            if not cancel.is_set():
                stream.done = True

    def say(self, line: str) -> None:
        """One line to ``out``, masked, lines of several readers never interleaved."""
        with self.lock:
            self.out(mask(line, self.kube.secrets))


def follow(
    kube: Kube,
    services: list[str],
    out: Callable[[str], None],
    stop: threading.Event | None = None,
    notice: Callable[[str], None] | None = None,
) -> None:
    """Stream every matching pod's log until ``stop`` is set (or Ctrl-C); a lost API server
    is reported on ``notice`` (default: a ``[periph]`` line on ``out``) and retried, never
    fatal."""
    notice = notice or (lambda text: out(f"[periph] {text}"))
    Follower(kube, services, out, notice, stop or threading.Event()).run()
