"""CPU and memory per service, from the Engine API's stats stream.

``StatsModel`` owns one ``StatsStream`` per running container (started and stopped as
statuses arrive through ``update``) and keeps each service's latest ``Sample`` and a
short history for a sparkline. The engine sends one JSON object per second per stream;
a stream thread blocks reading its socket in between, so following a stack costs one
small parse per container per second and no polling. Nothing is pushed to a front end:
the TUI reads ``latest()`` and ``history()`` on its own once-a-second tick, so stats
never cause extra redraws. ``stop()`` closes every socket (waking its thread).

``one_shot(api, ids)`` is what ``periph ps --stats`` uses: one reading per container,
in parallel (1-2 s: the engine samples once a second, which is why plain ``ps`` does not
pay for it and stays within its 0.3 s goal).

Transport: ``EngineAPI.open_stream`` (the small http.client engine client), not the
docker SDK, whose import ``ps`` cannot afford.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from periph_env.errors import PeriphError

if TYPE_CHECKING:
    from periph_env.stack.engine_api import EngineAPI
    from periph_env.stack.models import ServiceStatus

HISTORY = 60  # samples kept per service (one a second: the last minute)
SPARKS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of one container: CPU in percent of one core (200 = two cores busy;
    None until two readings exist), memory in bytes without the page cache."""

    cpu: float | None
    mem: int
    mem_limit: int | None
    at: float

    def to_json(self) -> dict:
        """``cpu_percent`` / ``mem_bytes`` / ``mem_limit_bytes`` for ``ps --format json``."""
        return {
            "cpu_percent": None if self.cpu is None else round(self.cpu, 1),
            "mem_bytes": self.mem,
            "mem_limit_bytes": self.mem_limit,
        }


def _cpu_totals(stats: Any) -> tuple[int, int, int]:
    """(container CPU ns, system CPU ns, online CPUs) of a ``cpu_stats`` object."""
    if not isinstance(stats, dict):
        return 0, 0, 0
    usage = stats.get("cpu_usage") or {}
    total = int(usage.get("total_usage") or 0)
    system = int(stats.get("system_cpu_usage") or 0)
    cpus = int(stats.get("online_cpus") or len(usage.get("percpu_usage") or ()) or 1)
    return total, system, cpus


def sample_of(payload: Any, previous: Any = None, at: float | None = None) -> Sample:
    """A ``Sample`` from one stats object. CPU compares it with ``previous`` (an earlier
    stats object of the same container) or, without one, with its own ``precpu_stats``;
    the engine's CLI formula: container share of system time × CPUs × 100."""
    payload = payload if isinstance(payload, dict) else {}
    total, system, cpus = _cpu_totals(payload.get("cpu_stats"))
    before = (previous or {}).get("cpu_stats") if previous else payload.get("precpu_stats")
    pre_total, pre_system, _ = _cpu_totals(before)
    cpu = None
    if pre_system and system > pre_system and total >= pre_total:
        cpu = (total - pre_total) / (system - pre_system) * cpus * 100.0
    memory = payload.get("memory_stats") or {}
    usage = int(memory.get("usage") or 0)
    extra = memory.get("stats") or {}
    # What `docker stats` shows: usage without the reclaimable page cache (cgroup v1
    # names it total_inactive_file, v2 inactive_file).
    cache = int(extra.get("total_inactive_file", extra.get("inactive_file", 0)) or 0)
    limit = int(memory.get("limit") or 0) or None
    return Sample(cpu, max(0, usage - cache if cache < usage else usage), limit, at or time.time())


def human_bytes(count: int | None) -> str:
    """``512K``, ``38M``, ``1.2G`` (binary units, as ``docker stats`` shows)."""
    if count is None:
        return "-"
    size = float(count)
    for unit in ("B", "K", "M", "G"):
        if size < 1024 or unit == "G":
            return f"{size:.1f}{unit}" if unit == "G" else f"{size:.0f}{unit}"
        size /= 1024
    return f"{size:.1f}G"


def cpu_text(cpu: float | None) -> str:
    """``0.3%``, ``112%``; ``-`` when unknown."""
    if cpu is None:
        return "-"
    return f"{cpu:.1f}%" if cpu < 100 else f"{cpu:.0f}%"


def sparkline(values: Iterable[float | None], width: int = 12) -> str:
    """The last ``width`` values as block characters, scaled to their own maximum (an
    idle service shows a flat low line, not noise blown up to full height)."""
    shown = [v or 0.0 for v in list(values)[-width:]]
    if not shown:
        return ""
    top = max(max(shown), 1.0)  # below 1 % the line stays at the bottom
    return "".join(SPARKS[min(len(SPARKS) - 1, int(v / top * (len(SPARKS) - 1)))] for v in shown)


class StatsStream:
    """Follows one container's stats stream in a thread until ``stop()``."""

    def __init__(
        self, api: EngineAPI, container_id: str, on_sample: Callable[[Sample], None]
    ) -> None:
        self.api, self.container_id, self.on_sample = api, container_id, on_sample
        self.error: str | None = None
        self._stop = threading.Event()
        self._conn: Any = None
        self._thread = threading.Thread(
            target=self._run, name=f"periph-stats-{container_id[:12]}", daemon=True
        )

    def start(self) -> StatsStream:
        """Start reading."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop: shut the socket down, which wakes the reading thread at once."""
        self._stop.set()
        conn = self._conn
        if conn is not None and conn.sock is not None:
            import socket

            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end."""
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            conn, response = self.api.open_stream(
                f"/containers/{self.container_id}/stats", {"stream": "1"}
            )
        except PeriphError as exc:
            self.error = exc.message
            return
        self._conn = conn
        previous = None
        try:
            # The engine writes one object a second; a 5 s read timeout per object
            # (EngineAPI's) would end a healthy stream on a busy machine: no timeout.
            if conn.sock is not None:
                conn.sock.settimeout(None)
            while not self._stop.is_set():
                line = response.readline()
                if not line:
                    return  # the container stopped (the engine ends the stream)
                try:
                    payload = json.loads(line)
                except ValueError:
                    continue
                self.on_sample(sample_of(payload, previous))
                previous = payload
        except (OSError, ValueError) as exc:
            if not self._stop.is_set():
                self.error = str(exc) or type(exc).__name__
        finally:
            with contextlib.suppress(Exception):
                conn.close()


class SampleHistory:
    """Each service's newest samples (``history`` of them), what the Stack area reads:
    the base of the local ``StatsModel`` and the cluster's ``PodStatsModel``."""

    def __init__(self, history: int = HISTORY) -> None:
        self._history = history
        self._lock = threading.Lock()
        self._samples: dict[str, deque[Sample]] = {}

    def _keep(self, service: str, sample: Sample) -> None:
        """Add ``sample`` to ``service``'s history (the caller holds ``_lock``)."""
        self._samples.setdefault(service, deque(maxlen=self._history)).append(sample)

    def latest(self) -> dict[str, Sample]:
        """Each followed service's newest sample."""
        with self._lock:
            return {s: d[-1] for s, d in self._samples.items() if d}

    def history(self, service: str) -> list[Sample]:
        """``service``'s recent samples, oldest first."""
        with self._lock:
            return list(self._samples.get(service, ()))


class StatsModel(SampleHistory):
    """The latest sample and recent history of every running service."""

    def __init__(self, api: EngineAPI, history: int = HISTORY) -> None:
        super().__init__(history)
        self.api = api
        self._streams: dict[str, tuple[str, StatsStream]] = {}  # service -> (id, stream)
        self._stopped = False

    def update(self, statuses: Iterable[ServiceStatus]) -> None:
        """Follow exactly the running containers of ``statuses`` (new container ids get
        a new stream; stopped ones lose theirs and their samples)."""
        running = {
            s.service: s.container_id
            for s in statuses
            if s.state == "running" and s.container_id is not None
        }
        stale: list[StatsStream] = []
        with self._lock:
            if self._stopped:
                return
            for service, (cid, stream) in list(self._streams.items()):
                if running.get(service) != cid:
                    stale.append(stream)
                    del self._streams[service]
                    self._samples.pop(service, None)
            for service, cid in running.items():
                if service not in self._streams:
                    stream = StatsStream(self.api, cid, self._collector(service, cid))
                    self._streams[service] = (cid, stream.start())
        for stream in stale:
            stream.stop()

    def _collector(self, service: str, cid: str) -> Callable[[Sample], None]:
        def collect(sample: Sample) -> None:
            with self._lock:
                if self._streams.get(service, ("",))[0] != cid:
                    return  # a late sample of a replaced container
                self._keep(service, sample)

        return collect

    def followed(self) -> set[str]:
        """The services a stream follows now."""
        with self._lock:
            return set(self._streams)

    def stop(self) -> None:
        """Close every stream (their threads end at once) and follow nothing more."""
        with self._lock:
            self._stopped = True
            streams = [stream for _cid, stream in self._streams.values()]
            self._streams.clear()
        for stream in streams:
            stream.stop()
        for stream in streams:
            stream.join(2.0)


def one_shot(api: EngineAPI, container_ids: Iterable[str]) -> dict[str, Sample]:
    """A sample per container id, for ``periph ps --stats``: one non-streaming read per
    container, all in parallel. The engine answers it after its next two collection
    ticks (1 s apart), with the previous tick as ``precpu_stats``, so CPU is known and
    the whole call takes 1-2 s whatever the number of containers. A container that
    vanished or an engine that does not answer leaves its id out (ps still prints its
    other columns)."""
    ids = list(container_ids)
    if not ids:
        return {}

    def read(cid: str) -> Any:
        try:
            return api.get(f"/containers/{cid}/stats", {"stream": "0"})
        except PeriphError:
            return None

    with ThreadPoolExecutor(max_workers=min(8, len(ids))) as pool:
        got = list(pool.map(read, ids))
    now = time.time()
    return {cid: sample_of(payload, None, now) for cid, payload in zip(ids, got, strict=True)
            if isinstance(payload, dict)}  # fmt: skip
