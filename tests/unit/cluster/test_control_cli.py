"""``periph start|stop|restart|rebuild --cluster [SERVICE...]``: the Stack area's actions
from the command line, through ``ClusterBackend.act`` (the cluster faked as in
test_watch_cli; on the real node: tests/integration/test_cluster_dev_stack.py)."""

from __future__ import annotations

import pytest

from periph_env.cli import main
from periph_env.cluster.backend import ClusterBackend


@pytest.fixture
def acted(monkeypatch):
    calls: list[tuple[str, list[str] | None]] = []

    def act(self, verb, services, progress):
        calls.append((verb, services))
        progress(f"{verb}: done")

    monkeypatch.setattr(ClusterBackend, "act", act)
    return calls


DONE = [("stop", "stopped"), ("start", "started"), ("restart", "restarted"), ("rebuild", "rebuilt")]


@pytest.mark.parametrize("verb,done", DONE)
def test_each_action_on_a_named_service_goes_through_the_backend_and_says_it_is_done(
    project, cluster, acted, capsys, verb, done
):
    assert main([verb, "--cluster", "worker"]) == 0
    assert acted == [(verb, ["worker"])]
    assert f"{done} worker in " in capsys.readouterr().err


def test_without_services_the_action_is_for_every_long_running_service(
    project, cluster, acted, capsys
):
    assert main(["restart", "--cluster"]) == 0
    assert acted == [("restart", None)]
    assert "restarted db, worker in " in capsys.readouterr().err


def test_an_action_without_a_stack_exits_1_naming_the_namespace(
    project, cluster, acted, monkeypatch, capsys
):
    monkeypatch.setattr(cluster, "STATES", [])
    assert main(["stop", "--cluster", "worker"]) == 1
    assert acted == []
    assert "no dev stack in namespace peripheral-dev-ann" in capsys.readouterr().err
