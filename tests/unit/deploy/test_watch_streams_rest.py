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
