"""The watch's streams over plain REST (no cluster): the paths and queries it asks, and a
watch whose resourceVersion is gone (an HTTP 410) lists again instead of retrying it."""

from __future__ import annotations

import json
import queue
from types import SimpleNamespace

from periph_env.deploy import watch_streams as ws


class Gone(Exception):
    status = 410


def test_a_watch_asks_the_resources_path_with_the_watch_query(monkeypatch):
    asked = []
    monkeypatch.setattr(
        ws, "open_get", lambda _c, path, query, timeout: asked.append((path, query))
    )
    ws.lister(object(), "StatefulSet")(
        "demo", watch=True, resource_version="42", allow_watch_bookmarks=True, timeout_seconds=50
    )
    ws.lister(object(), "Event")("demo")
    assert asked == [
        (
            "/apis/apps/v1/namespaces/demo/statefulsets",
            {"watch": "true", "resourceVersion": "42", "allowWatchBookmarks": "true",
             "timeoutSeconds": "50"},
        ),
        ("/api/v1/namespaces/demo/events", {}),
    ]  # fmt: skip


def test_a_watch_answered_410_lists_again(monkeypatch):
    monkeypatch.setattr(ws, "RETRY_SECONDS", 0.0)
    calls: list[str] = []
    out: queue.Queue = queue.Queue()
    stream: ws.ResourceWatch

    def lister(_namespace, watch=False, **_kwargs):
        calls.append("watch" if watch else "list")
        if len(calls) > 5:  # without the re-list it would retry the gone version forever
            stream.stopping.set()
        if not watch:
            if calls.count("list") == 2:
                stream.stopping.set()
            body = {"metadata": {"resourceVersion": "7"}, "items": []}
            return SimpleNamespace(data=json.dumps(body).encode())
        raise Gone()

    stream = ws.ResourceWatch("Pod", lister, "demo", out)
    stream.run()
    assert calls[:3] == ["list", "watch", "list"]


class RecordedWaits:
    """A stop event whose waits are recorded instead of slept; it stops after ``limit``."""

    def __init__(self, limit: int) -> None:
        self.waits: list[float] = []
        self.limit = limit

    def is_set(self) -> bool:
        return len(self.waits) >= self.limit

    def set(self) -> None:
        self.limit = 0

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        return self.is_set()


def test_a_server_that_stays_away_is_asked_less_and_less_often_up_to_a_cap():
    def refused(_namespace, **_kwargs):
        raise ConnectionRefusedError("connection refused")

    stream = ws.ResourceWatch("Pod", refused, "demo", queue.Queue())
    stream.stopping = RecordedWaits(limit=7)  # type: ignore[assignment]
    stream.run()

    cap = ws.RETRY_SECONDS * ws.RETRY_MAX_FACTOR
    assert stream.stopping.waits == [0.5, 1.0, 2.0, 4.0, cap, cap, cap]


def test_an_answer_resets_the_delay_to_the_first_one():
    lists = {"n": 0}

    def lister(_namespace, watch=False, **_kwargs):
        if watch:
            raise ConnectionResetError("the stream dropped")  # after an answered list
        lists["n"] += 1
        if lists["n"] <= 3:
            raise ConnectionRefusedError("refused")  # away for three requests
        return SimpleNamespace(data=b'{"metadata": {"resourceVersion": "1"}, "items": []}')

    stream = ws.ResourceWatch("Pod", lister, "demo", queue.Queue())
    stream.stopping = RecordedWaits(limit=4)  # type: ignore[assignment]
    stream.run()

    assert stream.stopping.waits == [0.5, 1.0, 2.0, 0.5]
