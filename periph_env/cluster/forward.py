"""Port-forwards that survive pod restarts: localhost -> a Service's ready pod.

``kubectl port-forward svc/x`` picks one pod when it starts and dies with it (k9s #1893,
Tilt #6653). Here the local port is ours and stays open; each accepted connection is
tunnelled to whichever pod of the Service is Ready at that moment, through the pods'
portforward API (the kubernetes client's websocket stream). While no pod is Ready (a
rollout, a crash, a deleted pod) a new connection waits, retrying with backoff (0.1 s
doubling to 1 s) up to ``connect_timeout``, instead of being refused: the browser or
curl sees a slow answer, not an error, while the new pod starts.

Each tunnel gets its own ``ApiClient``: the client's ``stream()`` swaps the request
function of the client it is given while it connects, so sharing one with other threads
would send their plain requests down a websocket.

One ``Forwarder`` owns every thread it starts (an accept loop per port, one pump per
connection) and ``stop()`` closes the sockets and joins them. Its state per port
(``listening``, ``forwarding to <pod>``, ``waiting for a ready pod``, ``failed: ...``)
goes to ``on_state`` and is written to a small JSON file that ``ps --cluster`` reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from periph_env.cluster.translate import Forward
from periph_env.common.paths import cache_dir

OnState = Callable[["ForwardState"], None]
BACKOFF_START = 0.1
BACKOFF_MAX = 1.0


@dataclass
class ForwardState:
    """What one forward does now, for ``ps --cluster`` and the foreground ``up``."""

    service: str
    remote: int
    local: int
    host: str
    state: str = "starting"
    pod: str | None = None
    connections: int = 0  # accepted so far
    reconnects: int = 0  # tunnels that had to wait or retry for a ready pod

    def to_json(self) -> dict[str, Any]:
        """The JSON form (state file, ``ps --format json``)."""
        return dict(self.__dict__)


def local_ports(forwards: list[Forward]) -> list[Forward]:
    """``$PERIPH_CLUSTER_PORT_OFFSET`` moves every local port (a local stack holds the
    usual ones); ``any`` means any free port (tests)."""
    from dataclasses import replace

    offset = os.environ.get("PERIPH_CLUSTER_PORT_OFFSET")
    if not offset:
        return forwards
    if offset == "any":
        return [replace(f, local=0) for f in forwards]
    return [replace(f, local=f.local + int(offset)) for f in forwards]


def state_file(namespace: str) -> Path:
    """Where the forwarding process publishes its state for ``ps --cluster``."""
    return cache_dir() / "cluster" / namespace / "forwards.json"


def read_states(namespace: str) -> list[ForwardState]:
    """The forwards of a living ``up --cluster`` process ([] when none runs)."""
    path = state_file(namespace)
    try:
        data = json.loads(path.read_text())
        os.kill(int(data["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [ForwardState(**item) for item in data.get("forwards") or []]


@dataclass
class _Port:
    spec: Forward
    state: ForwardState
    listener: socket.socket | None = None
    threads: list[threading.Thread] = field(default_factory=list)


class Forwarder:
    """Every forward of one dev stack; ``start()`` binds, ``stop()`` ends all its threads."""

    def __init__(
        self,
        kube: Any,
        namespace: str,
        forwards: list[Forward],
        on_state: OnState | None = None,
        connect_timeout: float = 60.0,
        publish: bool = True,
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.connect_timeout = connect_timeout
        self.on_state = on_state or (lambda _s: None)
        self.publish = publish
        self._ports = [
            _Port(f, ForwardState(f.service, f.remote, f.local, f.host)) for f in forwards
        ]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._selectors: dict[str, dict[str, str]] = {}

    @property
    def states(self) -> list[ForwardState]:
        """A copy of every forward's state."""
        with self._lock:
            return [ForwardState(**p.state.to_json()) for p in self._ports]

    def start(self) -> Forwarder:
        """Bind every local port (a taken port is that forward's ``failed:`` state) and
        start accepting."""
        for port in self._ports:
            try:
                listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind((port.spec.host, port.spec.local))
                listener.listen(64)
            except OSError as exc:
                self._set(port, f"failed: cannot listen on {port.spec.host}:{port.spec.local}: "
                          f"{exc.strerror}")  # fmt: skip
                continue
            port.listener = listener
            with self._lock:
                port.state.local = listener.getsockname()[1]  # the port 0 asked for
            self._set(port, "listening")
            thread = threading.Thread(
                target=self._accept, args=(port,), name=f"forward-{port.spec.service}", daemon=True
            )
            port.threads.append(thread)
            thread.start()
        return self

    def stop(self) -> None:
        """Close every socket and join every thread; the state file is removed."""
        self._stop.set()
        for port in self._ports:
            if port.listener is not None:
                with contextlib.suppress(OSError):
                    port.listener.shutdown(socket.SHUT_RDWR)
                port.listener.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for port in self._ports:
            for thread in list(port.threads):
                thread.join(timeout=10)
        if self.publish:
            with contextlib.suppress(OSError):
                state_file(self.namespace).unlink()

    # -- internals ----------------------------------------------------------------------

    def _set(self, port: _Port, state: str, pod: str | None = None, **counts: int) -> None:
        with self._lock:
            changed = state != port.state.state or (pod is not None and pod != port.state.pod)
            port.state.state = state
            if pod is not None:
                port.state.pod = pod
            for name, step in counts.items():
                setattr(port.state, name, getattr(port.state, name) + step)
            snapshot = ForwardState(**port.state.to_json())
        if changed:  # not once per connection: a page load opens dozens
            self._publish()
            self.on_state(snapshot)

    def _publish(self) -> None:
        if not self.publish:
            return
        path = state_file(self.namespace)
        body = {"pid": os.getpid(), "forwards": [s.to_json() for s in self.states]}
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(body))
            tmp.replace(path)

    def _accept(self, port: _Port) -> None:
        assert port.listener is not None
        while not self._stop.is_set():
            try:
                conn, _addr = port.listener.accept()
            except OSError:
                return
            with self._lock:
                port.state.connections += 1
                self._conns.add(conn)
            thread = threading.Thread(
                target=self._serve, args=(port, conn), name="forward-conn", daemon=True
            )
            port.threads = [t for t in port.threads if t.is_alive()] + [thread]
            thread.start()

    def _serve(self, port: _Port, conn: socket.socket) -> None:
        try:
            tunnel = self._tunnel(port)
            if tunnel is not None:
                # tunnel[1], the client's PortForward, must live as long as its socket.
                _pump(conn, tunnel[0], self._stop)
        finally:
            with self._lock:
                self._conns.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

    def _tunnel(self, port: _Port) -> tuple[socket.socket, Any] | None:
        """A socket to the remote port of a ready pod, waiting with backoff for one."""
        deadline = time.monotonic() + self.connect_timeout
        delay = BACKOFF_START
        waited = False
        while not self._stop.is_set():
            pod = self._ready_pod(port.spec.service)
            if pod is not None:
                tunnel = self._open(pod, port.spec.remote)
                if tunnel is not None:
                    self._set(port, f"forwarding to {pod}", pod, reconnects=int(waited))
                    return tunnel
            if time.monotonic() > deadline:
                self._set(port, f"waiting for a ready pod of {port.spec.service} (gave up a "
                          f"connection after {self.connect_timeout:.0f}s)")  # fmt: skip
                return None
            if not waited or port.state.state.startswith("forwarding"):
                self._set(port, f"waiting for a ready pod of {port.spec.service}")
            waited = True
            self._stop.wait(delay)
            delay = min(delay * 2, BACKOFF_MAX)
        return None

    def _ready_pod(self, service: str) -> str | None:
        """A Ready, not terminating pod behind the Service (the newest), else None."""
        try:
            selector = self._selectors.get(service)
            if selector is None:
                svc = self.kube.get("Service", service) or {}
                selector = (svc.get("spec") or {}).get("selector") or {}
                if not selector:
                    return None
                self._selectors[service] = selector
            pods = self.kube.list("Pod", ",".join(f"{k}={v}" for k, v in selector.items()))
        except Exception:  # the API server is away for a moment: retried by the caller
            return None
        ready = [
            p
            for p in pods
            if not p["metadata"].get("deletionTimestamp")
            and any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (p.get("status") or {}).get("conditions") or []
            )
        ]
        if not ready:
            return None
        ready.sort(key=lambda p: p["metadata"].get("creationTimestamp") or "")
        return ready[-1]["metadata"]["name"]

    def _open(self, pod: str, remote: int) -> tuple[socket.socket, Any] | None:
        from kubernetes.client import ApiClient, CoreV1Api
        from kubernetes.stream import portforward

        try:
            api = CoreV1Api(ApiClient(self.kube.client().configuration))
            forward = portforward(
                api.connect_get_namespaced_pod_portforward,
                pod,
                self.namespace,
                ports=str(remote),
            )
            sock = forward.socket(remote)
        except Exception:  # the pod went away between the list and the connect: retry
            return None
        sock.setblocking(True)
        return sock, forward


def _pump(a: socket.socket, b: socket.socket, stop: threading.Event) -> None:
    """Copy bytes both ways until either side closes (or ``stop``)."""
    peers = {a: b, b: a}
    open_ = {a, b}
    try:
        while open_ and not stop.is_set():
            readable, _, _ = select.select(list(open_), [], [], 0.5)
            for sock in readable:
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    if sock is b:  # the pod side ended: the connection is over
                        return
                    # The client is done sending. Half-closing the tunnel would make the
                    # kubernetes client end the stream before the answer arrives: keep
                    # it open and only stop reading the client.
                    open_.discard(sock)
                    continue
                try:
                    peers[sock].sendall(data)
                except OSError:
                    return
    finally:
        with contextlib.suppress(OSError):
            b.close()
