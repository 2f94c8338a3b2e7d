"""A fake API server for list-then-watch streams (no cluster): a namespace's objects by
kind, every list and watch request counted, and a switch that takes it away and back.

``FakeServer.lister_of`` has the shape ``NamespaceWatch`` takes (``lister_of(client,
kind)``); its answers have what ``ResourceWatch`` reads: ``.data`` of a list, ``.stream``
of a watch (one JSON event per line), ``.close`` to end a watch from another thread.
"""

from __future__ import annotations

import json
import queue
import threading
from types import SimpleNamespace
from typing import Any

_CLOSED = object()


class WatchResponse:
    """One open watch: its lines come from ``feed`` until it is closed or dropped."""

    def __init__(self) -> None:
        self.lines: queue.Queue = queue.Queue()

    def feed(self, event: dict) -> None:
        self.lines.put(event)

    def close(self) -> None:
        self.lines.put(_CLOSED)

    def stream(self, amt=None, decode_content=False):
        while True:
            event = self.lines.get()
            if event is _CLOSED:
                return
            if isinstance(event, BaseException):
                raise event
            yield (json.dumps(event) + "\n").encode()


class FakeServer:
    """The objects of one namespace, served to list and watch calls."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.version = 10
        self.objects: dict[str, dict[str, dict]] = {}
        self.watches: dict[str, list[WatchResponse]] = {}
        self.calls: list[tuple[str, str, str]] = []  # (verb, kind, resourceVersion)
        self.history: list[tuple[int, str, dict]] = []  # (version, kind, event): resumes
        self.up = True

    def lists(self, kind: str | None = None) -> int:
        """How many LIST requests were answered or refused (of ``kind``)."""
        with self.lock:
            return sum(1 for v, k, _ in self.calls if v == "list" and kind in (None, k))

    def put(self, kind: str, obj: dict, change: str = "") -> None:
        """Create or change ``obj``; open watches of ``kind`` hear it."""
        with self.lock:
            self.version += 1
            obj = json.loads(json.dumps(obj))
            obj["metadata"]["resourceVersion"] = str(self.version)
            known = self.objects.setdefault(kind, {})
            change = change or ("MODIFIED" if obj["metadata"]["name"] in known else "ADDED")
            known[obj["metadata"]["name"]] = obj
            watches = list(self.watches.get(kind, []))
            self.history.append((self.version, kind, {"type": change, "object": obj}))
        for watch in watches:
            watch.feed({"type": change, "object": obj})

    def delete(self, kind: str, name: str) -> None:
        with self.lock:
            self.version += 1
            obj = self.objects[kind].pop(name)
            watches = list(self.watches.get(kind, []))
            self.history.append((self.version, kind, {"type": "DELETED", "object": obj}))
        for watch in watches:
            watch.feed({"type": "DELETED", "object": obj})

    def go_away(self) -> None:
        """Refuse every new request and drop every open watch (a stopped API server)."""
        with self.lock:
            self.up = False
            watches = [w for ws in self.watches.values() for w in ws]
            self.watches = {}
        for watch in watches:
            watch.feed(ConnectionResetError("the API server went away"))

    def come_back(self) -> None:
        with self.lock:
            self.up = True

    def lister_of(self, _client: Any, kind: str):
        def call(namespace: str, *, watch: bool = False, resource_version: str = "", **_: Any):
            with self.lock:
                self.calls.append(("watch" if watch else "list", kind, resource_version))
                if not self.up:
                    raise ConnectionRefusedError("connection refused")
                if not watch:
                    items = list(self.objects.get(kind, {}).values())
                    body = {"metadata": {"resourceVersion": str(self.version)}, "items": items}
                    return SimpleNamespace(data=json.dumps(body).encode())
                response = WatchResponse()
                self.watches.setdefault(kind, []).append(response)
                for version, of, event in self.history:  # a resumed watch hears what it missed
                    if of == kind and version > int(resource_version or 0):
                        response.feed(event)
                return response

        return call


def pod(name: str, ready: bool = False, deployment: str = "backend") -> dict:
    """A running pod of ``deployment``, Ready or not."""
    return {
        "metadata": {"name": name, "labels": {"app": deployment},
                     "ownerReferences": [{"kind": "ReplicaSet", "name": f"{deployment}-abc"}]},
        "spec": {"containers": [{"name": "app"}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": "app", "ready": ready, "restartCount": 0,
                                   "state": {"running": {}}}],
        },
    }  # fmt: skip


def deployment(name: str, replicas: int = 1, ready: int = 0) -> dict:
    return {
        "metadata": {"name": name},
        "spec": {"replicas": replicas},
        "status": {"updatedReplicas": replicas, "readyReplicas": ready,
                   "availableReplicas": ready},
    }  # fmt: skip
