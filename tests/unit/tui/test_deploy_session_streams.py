"""The Deploy area's cluster view comes from streams of its namespace, not polling:
what it shows, an API server that goes away and comes back, a switch of environment and
quitting. Over a fake API server (tests/unit/deploy/fake_watch_server.py); the real API
server's request counts are tests/integration/test_tui_deploy.py's."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest

from periph_env.deploy import namespace_watch, watch_streams
from periph_env.tui.views.deploy_session import DeploySession
from tests.unit.deploy.fake_watch_server import FakeServer, deployment, pod


def eventually(condition: Callable[[], object], what: str) -> None:
    """Wait for ``condition`` (a generous bound: a hang fails, a slow machine does not)."""
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.01)


class Engine:
    """The engine calls the session makes besides the cluster's: an empty history."""

    def read_history(self, root, env):
        return []


@pytest.fixture
def servers(monkeypatch) -> dict[str, FakeServer]:
    """One fake API server per environment (demo, prod), each with a backend pod."""
    monkeypatch.setattr(watch_streams, "RETRY_SECONDS", 0.01)
    found = {"demo": FakeServer(), "prod": FakeServer()}
    for server in found.values():
        server.put("Deployment", deployment("backend"))
        server.put("Pod", pod("backend-1"))
    return found


@pytest.fixture
def session(servers, monkeypatch, tmp_path) -> Iterator[DeploySession]:
    made = DeploySession(SimpleNamespace(), tmp_path, Engine())

    def kube_for(env: str) -> SimpleNamespace:
        return SimpleNamespace(namespace=env, client=lambda: servers[env])

    monkeypatch.setattr(made, "_kube_for", kube_for)
    # Each stream asks the fake server its NamespaceWatch was opened on (the "client").
    monkeypatch.setattr(namespace_watch, "lister", lambda server, kind: server.lister_of(0, kind))
    made.visible = True
    made.select("demo")
    yield made
    assert made.close(10), "a session thread outlived close"


def pod_ready(session: DeploySession, name: str) -> str:
    rows = [p for p in session.state.pods if p.name == name]
    return rows[0].ready if rows else ""


def test_the_area_shows_the_namespaces_pods_from_one_list_per_kind(session, servers):
    eventually(lambda: pod_ready(session, "backend-1") == "0/1", "the listed pod")
    assert servers["demo"].lists() == 3


def test_a_pod_turning_ready_shows_with_no_list_call(session, servers):
    eventually(lambda: pod_ready(session, "backend-1") == "0/1", "the listed pod")
    servers["demo"].put("Pod", pod("backend-1", ready=True))
    eventually(lambda: pod_ready(session, "backend-1") == "1/1", "the pod Ready")
    assert servers["demo"].lists() == 3


def test_an_api_server_gone_is_the_banner_and_its_return_takes_it_back(session, servers):
    eventually(lambda: session.state.pods, "the listed pod")
    servers["demo"].go_away()
    eventually(lambda: session.state.cluster_error == "connection refused", "the banner")
    assert session.state.headline() == ("demo: cluster not reachable", "bold red")
    assert pod_ready(session, "backend-1") == "0/1"  # the last view stays under it
    servers["demo"].come_back()
    servers["demo"].put("Pod", pod("backend-1", ready=True))
    eventually(lambda: session.state.cluster_error == "", "the banner gone")
    eventually(lambda: pod_ready(session, "backend-1") == "1/1", "a change after the return")
    assert servers["demo"].lists() == 3  # the watches resumed: nothing listed again


def test_switching_environment_stops_the_old_streams_and_shows_the_new_namespace(session, servers):
    eventually(lambda: session.state.pods, "demo's pod")
    demo_streams = session.streams
    servers["prod"].put("Pod", pod("backend-prod"))
    session.select("prod")
    eventually(lambda: pod_ready(session, "backend-prod") == "0/1", "prod's pod")
    assert demo_streams.join(10), "demo's streams still run"
    assert session.streams.namespace == "prod"


def test_closing_the_session_ends_its_streams_threads(servers, monkeypatch, tmp_path):
    made = DeploySession(SimpleNamespace(), tmp_path, Engine())
    monkeypatch.setattr(
        made, "_kube_for", lambda env: SimpleNamespace(namespace=env, client=lambda: servers[env])
    )
    monkeypatch.setattr(namespace_watch, "lister", lambda server, kind: server.lister_of(0, kind))
    made.select("demo")
    eventually(lambda: made.state.pods, "the listed pod")
    assert made.close(10)
    left = [t.name for t in threading.enumerate() if t.name.startswith("periph-")]
    assert left == []
