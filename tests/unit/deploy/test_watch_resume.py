"""The resource watch resumes from the last resourceVersion after a dropped connection.

A fake API (no cluster) replays: list at rv 10, a watch that delivers rv 11 then drops, a
watch resumed from rv 11 that says 410 Gone, a re-list at rv 20, a watch from rv 20.
The real thing is covered by tests/integration/test_deploy.py (a proxy cuts connections).
"""

from __future__ import annotations

import json
import queue
import threading

from periph_env.deploy.watch_streams import ResourceWatch


class Response:
    def __init__(self, data=b"", lines=(), then=None):
        self.data, self.lines, self.then = data, lines, then

    def stream(self, amt=None, decode_content=False):
        for line in self.lines:
            yield (json.dumps(line) + "\n").encode()
        if self.then:
            raise self.then

    def close(self):
        pass


def deployment(rv, name="backend"):
    return {"metadata": {"name": name, "resourceVersion": str(rv)}}


class FakeApi:
    def __init__(self, done: threading.Event):
        self.calls: list[tuple[str, str]] = []
        self.done = done
        self.script = [
            ("list", Response(json.dumps({"metadata": {"resourceVersion": "10"},
                                          "items": [deployment(10)]}).encode())),
            ("watch", Response(lines=[{"type": "MODIFIED", "object": deployment(11)}],
                               then=ConnectionResetError("dropped"))),
            ("watch", Response(lines=[{"type": "ERROR", "object": {"code": 410}}])),
            ("list", Response(json.dumps({"metadata": {"resourceVersion": "20"},
                                          "items": [deployment(20)]}).encode())),
            ("watch", Response(lines=[{"type": "BOOKMARK", "object": deployment(25)},
                                      {"type": "MODIFIED", "object": deployment(26)}])),
        ]  # fmt: skip

    def __call__(self, namespace, watch=False, resource_version=None, **kwargs):
        kind = "watch" if watch else "list"
        self.calls.append((kind, resource_version or ""))
        if not self.script:
            self.done.set()
            raise ConnectionRefusedError("end of script")
        expected, response = self.script.pop(0)
        assert expected == kind, (expected, kind)
        return response


def test_watch_resumes_from_last_version_and_relists_on_gone(monkeypatch):
    monkeypatch.setattr("periph_env.deploy.watch_streams.RETRY_SECONDS", 0.01)
    done = threading.Event()
    api = FakeApi(done)
    out: queue.Queue = queue.Queue()
    watch = ResourceWatch("Deployment", api, "ns", out)
    watch.start()
    assert done.wait(5)
    watch.stop()
    assert api.calls[:5] == [
        ("list", ""),
        ("watch", "10"),
        ("watch", "11"),  # resumed after the drop, no re-list
        ("list", ""),  # 410 Gone: the version is compacted away
        ("watch", "20"),
    ]
    seen = []
    while not out.empty():
        _, change, obj = out.get()
        seen.append((change, obj.get("metadata", {}).get("resourceVersion")))
    assert seen == [
        ("LISTED", "10"), ("SYNCED", None), ("MODIFIED", "11"),
        ("LISTED", "20"), ("SYNCED", None), ("MODIFIED", "26"),
    ]  # fmt: skip
    assert watch.reconnects >= 1
