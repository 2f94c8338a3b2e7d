"""The compose stack as the Stack area's backend: a thin adapter over ``periph_env.stack``.

Over recording fakes; the real engine behind the TUI: tests/integration/test_tui_stack.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from periph_env.errors import UsageError
from periph_env.stack.backend import ComposeBackend


class Recorder:
    project = "peripheral"

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __getattr__(self, verb):
        return lambda *args, **kwargs: self.calls.append((verb, args, sorted(kwargs)))


def test_verbs_go_to_the_stack_and_down_takes_no_services():
    stack = Recorder()
    backend = ComposeBackend(stack, SimpleNamespace())
    backend.act("restart", ["worker"], print)
    backend.act("down", None, print)
    assert stack.calls == [("restart", (["worker"],), ["progress"]), ("down", (), ["progress"])]


def test_an_unknown_verb_is_refused_before_reaching_the_stack():
    stack = Recorder()
    with pytest.raises(UsageError, match="exec is not available on the compose stack"):
        ComposeBackend(stack, SimpleNamespace()).act("exec", None, print)
    assert stack.calls == []


def test_the_watcher_records_reloads_in_the_status_model_it_is_given():
    made = []
    api = SimpleNamespace(Watcher=lambda *a, **kw: made.append((a, kw)) or "watcher")
    stack = Recorder()
    assert ComposeBackend(stack, api).watcher(print, ["worker"], status="model") == "watcher"
    assert made == [((stack, print), {"services": ["worker"], "status": "model"})]


def test_a_stack_module_without_read_logs_reads_no_lines():
    assert ComposeBackend(Recorder(), SimpleNamespace()).read_logs(["db"], 20) == []
