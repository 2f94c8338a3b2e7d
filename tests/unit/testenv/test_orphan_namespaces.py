"""Which test namespaces a new run sweeps: those whose run is gone, never a live run's."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from tests.fixtures import namespaces as ns

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _ns(name: str, *, owner: str | None = None, age: timedelta = timedelta(minutes=5),
        phase: str = "Active") -> dict:  # fmt: skip
    labels = {ns.OWNER_LABEL: owner} if owner is not None else {}
    born = (NOW - age).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "metadata": {"name": name, "labels": labels, "creationTimestamp": born},
        "status": {"phase": phase},
    }


def _dead_owner() -> str:
    """The label value of a process that has exited."""
    child = subprocess.run(
        [sys.executable, "-c", "from tests.fixtures import namespaces; print(namespaces.owner())"],
        capture_output=True, text=True, check=True, cwd=os.getcwd(),
    )  # fmt: skip
    return child.stdout.strip()


def test_a_namespace_of_a_run_that_is_gone_is_swept_however_young():
    assert ns.orphans([_ns("periphdemo-1", owner=_dead_owner())], NOW) == ["periphdemo-1"]


def test_a_namespace_of_this_running_process_is_kept():
    assert ns.orphans([_ns("periphdemo-2", owner=ns.owner(), age=timedelta(days=2))], NOW) == []


def test_a_reused_pid_does_not_keep_a_dead_runs_namespace():
    reused = f"{os.getpid()}.1"  # this pid, but another start time

    assert ns.orphans([_ns("periphnode-3", owner=reused)], NOW) == ["periphnode-3"]


def test_an_unlabelled_test_namespace_is_swept_only_once_older_than_any_run():
    young = _ns("periphtest-young", age=timedelta(minutes=80))
    old = _ns("periphtest-old", age=timedelta(hours=4))

    assert ns.orphans([young, old], NOW) == ["periphtest-old"]


def test_namespaces_that_are_not_a_tests_are_never_swept():
    others = [_ns(n, age=timedelta(days=30)) for n in ("default", "kube-system", "peripheral")]

    assert ns.orphans(others, NOW) == []


def test_a_label_it_cannot_read_keeps_the_namespace_and_terminating_ones_are_left_alone():
    odd = _ns("periphtest-odd", owner="someone-else", age=timedelta(days=1))
    going = _ns("periphtest-going", owner=_dead_owner(), phase="Terminating")

    assert ns.orphans([odd, going], NOW) == []
