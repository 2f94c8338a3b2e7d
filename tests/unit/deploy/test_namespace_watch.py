"""The namespace's copy the Deploy area shows: listed once per kind, then kept current by
watch events alone; a failing stream is said and taken back once it is answered again.

Over a fake API server (tests/unit/deploy/fake_watch_server.py); the real API server's
request counts are tests/integration/test_tui_deploy.py's."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from periph_env.deploy import watch_streams
from periph_env.deploy.namespace_watch import NamespaceWatch, error_text
from periph_env.errors import EngineError
from tests.unit.deploy.fake_watch_server import FakeServer, deployment, pod


def eventually(condition: Callable[[], object], what: str) -> None:
    """Wait for ``condition`` (a generous bound: a hang fails, a slow machine does not)."""
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.01)


@pytest.fixture
def server(monkeypatch) -> FakeServer:
    monkeypatch.setattr(watch_streams, "RETRY_SECONDS", 0.01)
    return FakeServer()


@pytest.fixture
def changes() -> threading.Event:
    return threading.Event()


@pytest.fixture
def streams(server: FakeServer, changes: threading.Event) -> Iterator[NamespaceWatch]:
    server.put("Deployment", deployment("backend"))
    server.put("Pod", pod("backend-1"))
    watch = NamespaceWatch(object(), "demo", changes.set, lister_of=server.lister_of).start()
    eventually(lambda: watch.synced, "the first lists")
    yield watch
    watch.stop()
    assert watch.join(10), "a stream thread outlived stop"


def names(streams: NamespaceWatch, kind: str) -> list[str]:
    return sorted(o["metadata"]["name"] for o in streams.snapshot()[kind])


def ready(streams: NamespaceWatch, name: str) -> bool:
    found = [p for p in streams.snapshot()["Pod"] if p["metadata"]["name"] == name]
    return bool(found) and found[0]["status"]["containerStatuses"][0]["ready"]


def test_each_kind_is_listed_once_and_what_was_listed_is_in_the_copy(server, streams):
    assert names(streams, "Deployment") == ["backend"]
    assert names(streams, "Pod") == ["backend-1"]
    assert streams.snapshot()["Event"] == []
    assert sorted(k for v, k, _ in server.calls if v == "list") == ["Deployment", "Event", "Pod"]


def test_a_pod_turning_ready_arrives_by_its_watch_event_with_no_new_list(server, streams, changes):
    changes.clear()
    server.put("Pod", pod("backend-1", ready=True))
    eventually(lambda: ready(streams, "backend-1"), "the pod Ready in the copy")
    assert changes.is_set()  # the owner was told
    assert server.lists() == 3


def test_added_and_deleted_objects_come_and_go_from_the_copy(server, streams):
    server.put("Pod", pod("backend-2"))
    eventually(lambda: names(streams, "Pod") == ["backend-1", "backend-2"], "pod 2 added")
    server.delete("Pod", "backend-1")
    eventually(lambda: names(streams, "Pod") == ["backend-2"], "pod 1 deleted")
    assert server.lists() == 3


def test_an_api_server_that_goes_away_is_said_and_its_return_clears_it(server, streams):
    server.go_away()
    eventually(lambda: streams.error == "connection refused", "the outage said")
    assert names(streams, "Pod") == ["backend-1"]  # the last copy stays while away
    server.come_back()
    eventually(lambda: streams.error == "", "the error taken back")
    server.put("Pod", pod("backend-1", ready=True))
    eventually(lambda: ready(streams, "backend-1"), "a change after the return")
    assert server.lists() == 3  # resumed from its resourceVersion, not listed again


def test_a_dropped_stream_that_resumes_at_once_is_no_error(server, streams):
    said: list[str] = []
    for watch in streams.watches:
        watch.on_error = lambda exc: said.append(str(exc))
    with server.lock:
        open_pods = server.watches.pop("Pod")
    for response in open_pods:  # an idle connection cut by a proxy; the server is up
        response.feed(ConnectionResetError("connection reset by peer"))
    eventually(lambda: server.watches.get("Pod"), "the pod stream resumed")
    server.put("Pod", pod("backend-1", ready=True))
    eventually(lambda: ready(streams, "backend-1"), "a change after the resumption")
    assert said == [] and streams.error == ""


def test_a_relist_replaces_the_copy_so_what_was_deleted_meanwhile_goes(server, streams):
    backend_2 = pod("backend-2")
    backend_2["metadata"]["resourceVersion"] = "99"
    with server.lock:  # changed while the stream did not look: no event ever arrives
        server.objects["Pod"] = {"backend-2": backend_2}
        open_pods = server.watches.pop("Pod")
    for response in open_pods:  # the server says the version is gone: list again
        response.feed({"type": "ERROR", "object": {"code": 410}})
    eventually(lambda: names(streams, "Pod") == ["backend-2"], "the re-list's pods only")
    assert server.lists("Pod") == 2


def test_an_api_error_is_said_with_its_message_on_one_line():
    assert error_text(EngineError("https://k:6443 answered 403 Forbidden: no")) == (
        "https://k:6443 answered 403 Forbidden: no"
    )
    assert error_text(OSError("first line\nsecond")) == "first line"
