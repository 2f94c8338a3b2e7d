"""How ctrl+c reaches periph: the quiet start-up handler, and commands that run until it."""

from __future__ import annotations

import os
import signal
import sys
import threading

import pytest

import periph_env
from periph_env import stop_on_interrupt


@pytest.mark.parametrize(
    ("orig_argv", "argv0", "expected"),
    [
        (["python", "-m", "periph_env", "logs", "-f"], "-m", True),
        (["/usr/bin/python3", "/home/dev/.venv/bin/periph"], "/home/dev/.venv/bin/periph", True),
        (["python", "-m", "pytest", "tests"], "/venv/lib/pytest/__main__.py", False),
        (["python", "-c", "import periph_env"], "-c", False),
    ],
    ids=["python -m periph_env", "the periph script", "python -m pytest", "python -c"],
)
def test_the_quiet_handler_is_for_periph_processes_only(
    monkeypatch: pytest.MonkeyPatch, orig_argv: list[str], argv0: str, expected: bool
) -> None:
    monkeypatch.setattr(sys, "orig_argv", orig_argv)
    monkeypatch.setattr(sys, "argv", [argv0])
    assert periph_env._is_periph_process() is expected


def test_ctrl_c_while_waiting_sets_the_stop_event_and_raises_nothing() -> None:
    stop = threading.Event()
    with stop_on_interrupt(stop):
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
        assert stop.wait(10), "ctrl+c did not set the stop event"


def test_the_previous_ctrl_c_handler_is_back_after_the_command() -> None:
    before = signal.getsignal(signal.SIGINT)
    with stop_on_interrupt(threading.Event()):
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before
