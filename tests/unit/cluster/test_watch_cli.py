"""``periph watch --cluster [NAME] [SERVICE...]``: its exit codes and what it says.

A project on disk (periph.toml, compose file) with the cluster faked (``ClusterStack``
and the file watcher); the real one on the node: tests/integration/test_cluster_backend.py.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest

from periph_env.cli import main
from periph_env.cluster import watch
from periph_env.cluster.engine import ServiceState
from periph_env.stack.models import ReloadEvent


class FakeWatcher:
    """Reports one reload, then presses ctrl+c once ``watch`` waits for it."""

    def __init__(self, pod_sync, on_event, notice=None, lock=None) -> None:
        self.services = sorted({r.rule.service for r in pod_sync.rules})
        self.on_event, self.stopped = on_event, False

    def start(self):
        event = ReloadEvent("worker", "sync", ["worker/app.py"], 10.0, 10.05, None, 10.4)
        event.done = True
        self.on_event(event)

        def ctrl_c() -> None:
            # Once `watch` has put its ctrl+c handler in place (it waits after that).
            while not getattr(signal.getsignal(signal.SIGINT), "__qualname__", "").startswith(
                "stop_on_interrupt"
            ):
                threading.Event().wait(0.01)
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=ctrl_c, daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopped = True


@pytest.fixture(autouse=True)
def watcher(monkeypatch):
    monkeypatch.setattr(watch, "ClusterWatcher", FakeWatcher)


def test_watch_cluster_prints_the_reload_line_and_exits_0_on_ctrl_c(project, cluster, capsys):
    assert main(["watch", "--cluster"]) == 0
    out, err = capsys.readouterr()
    assert "worker    sync          0.40s  seen → synced +0.05s → serving +0.40s" in out
    assert "watching worker in peripheral-dev-ann" in err
    assert "stopped watching" in err


def test_watch_cluster_without_a_stack_exits_1_naming_the_namespace_and_up(
    project, cluster, monkeypatch, capsys
):
    monkeypatch.setattr(cluster, "STATES", [])
    assert main(["watch", "--cluster"]) == 1
    err = capsys.readouterr().err
    assert "no dev stack in namespace peripheral-dev-ann (dev)" in err
    assert "`periph up --cluster`" in err


def test_a_named_cluster_without_a_stack_names_itself_in_the_hint(
    project, cluster, monkeypatch, capsys
):
    monkeypatch.setattr(cluster, "STATES", [])
    assert main(["watch", "--cluster", "gpu"]) == 1
    assert "`periph up --cluster gpu`" in capsys.readouterr().err


def test_a_service_that_is_not_ready_is_named_before_watching(
    project, cluster, monkeypatch, capsys
):
    states = [ServiceState("worker", "Deployment", False, "Waiting: CrashLoopBackOff", "w", 4)]
    monkeypatch.setattr(cluster, "STATES", states)
    assert main(["watch", "worker", "--cluster"]) == 0
    assert "worker is not Ready (Waiting: CrashLoopBackOff)" in capsys.readouterr().err


def test_an_unknown_cluster_name_is_a_usage_error(project, cluster, capsys):
    assert main(["watch", "--cluster", "cpu"]) == 2
    assert "no cluster named 'cpu'" in capsys.readouterr().err


def test_an_unknown_service_is_a_usage_error_naming_the_known_ones(project, cluster, capsys):
    assert main(["watch", "wrker", "--cluster"]) == 2
    err = capsys.readouterr().err
    assert "no service 'wrker'" in err and "known: db, worker" in err


def test_a_service_without_watch_rules_is_a_usage_error(project, cluster, capsys):
    assert main(["watch", "db", "--cluster"]) == 2
    assert "no develop.watch rules for db" in capsys.readouterr().err


def test_a_bad_flag_is_a_usage_error(project, cluster):
    with pytest.raises(SystemExit) as raised:
        main(["watch", "--cluster", "--fast"])
    assert raised.value.code == 2


def test_periph_cluster_without_a_terminal_is_a_usage_error(project, capsys):
    assert main(["--cluster"]) == 2
    assert "`periph --cluster` opens the TUI, which needs a terminal" in capsys.readouterr().err
