"""``waiting_for``: a wait that outlasts its grace says what it waits for, through the
reporter the front end installed (and stays silent without one)."""

from __future__ import annotations

import threading

import pytest

from periph_env.common import waiting


@pytest.fixture
def lines(monkeypatch):
    seen: list[str] = []
    spoke = threading.Event()

    def report(line: str) -> None:
        seen.append(line)
        spoke.set()

    monkeypatch.setattr(waiting, "ANNOUNCE_AFTER", 0.0)
    previous = waiting.set_reporter(report)
    yield seen, spoke
    waiting.set_reporter(previous)


def test_a_long_wait_names_what_it_waits_for(lines):
    seen, spoke = lines
    with waiting.waiting_for("the Docker engine at unix:///x.sock"):
        assert spoke.wait(10)
    assert seen[0].startswith("waiting for the Docker engine at unix:///x.sock (")
    assert seen[0].endswith(" s)…")


def test_without_a_reporter_nothing_is_said_or_started():
    previous = waiting.set_reporter(None)
    try:
        before = threading.active_count()
        with waiting.waiting_for("anything"):
            assert threading.active_count() == before
    finally:
        waiting.set_reporter(previous)


def test_an_error_in_the_body_still_ends_the_wait(lines):
    with pytest.raises(RuntimeError), waiting.waiting_for("the engine"):
        raise RuntimeError("failed")
