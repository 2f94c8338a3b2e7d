"""``LogFollower`` when the engine goes away: it says so, retries with backoff (and says
that too), and says when it is back — never silence. A scripted stack stands in for the
engine here; the real engine behind a proxy that is cut is in test_engine_outages.py."""

from __future__ import annotations

import threading

import pytest

from periph_env.stack.engine_api import unavailable
from periph_env.stack.logs import LogFollower

HOST = "unix:///run/scripted.sock"


class ScriptedStack:
    """A stack whose engine answers, then fails ``outage`` calls, then answers again."""

    class api:  # mirrors Stack.api
        host = HOST

    def __init__(self, outage: int) -> None:
        self.outage = outage
        self.calls = 0
        self.down = threading.Event()

    def select(self, services):
        return list(services or [])

    def services(self) -> list[str]:
        return ["web"]

    def secrets(self) -> list[str]:
        return []

    def check_engine(self) -> None:
        if self.down.is_set() and self.outage > 0:
            raise unavailable(HOST, "connection refused")

    def ps(self) -> list:
        self.calls += 1
        if self.down.is_set() and self.outage > 0:
            self.outage -= 1
            raise unavailable(HOST, "connection refused")
        return []  # no container yet: the reader keeps polling


@pytest.fixture
def follow(monkeypatch):
    monkeypatch.setattr(LogFollower, "first_retry", 0.01)
    made: list[LogFollower] = []
    notices: list[str] = []
    said = threading.Condition()

    def notice(line: str) -> None:
        with said:
            notices.append(line)
            said.notify_all()

    def start(stack: ScriptedStack) -> LogFollower:
        follower = LogFollower(stack, lambda _b: None, on_notice=notice).start()
        made.append(follower)
        return follower

    def wait_for(text: str) -> list[str]:
        with said:
            assert said.wait_for(lambda: any(text in n for n in notices), timeout=30), notices
        return list(notices)

    yield start, wait_for
    for follower in made:
        follower.stop()


def test_a_lost_engine_is_said_with_the_endpoint_and_the_first_retry(follow):
    start, wait_for = follow
    stack = ScriptedStack(outage=1000)
    start(stack)
    stack.down.set()
    notices = wait_for("lost the Docker engine")
    assert notices[0].startswith(f"lost the Docker engine at {HOST} (")
    assert "connection refused" in notices[0] and notices[0].endswith("retrying in 0 s…")


def test_each_retry_is_said_with_a_growing_wait(follow):
    start, wait_for = follow
    stack = ScriptedStack(outage=1000)
    start(stack)
    stack.down.set()
    wait_for("lost the Docker engine")
    retries = wait_for("still no Docker engine")
    assert any(f"still no Docker engine at {HOST} after" in n for n in retries)


def test_the_engine_coming_back_is_said_once(follow):
    start, wait_for = follow
    stack = ScriptedStack(outage=3)
    follower = start(stack)
    stack.down.set()
    notices = wait_for("reconnected to the Docker engine")
    assert sum("lost the Docker engine" in n for n in notices) == 1
    assert f"reconnected to the Docker engine at {HOST} after" in notices[-1]
    assert not follower.engine_lost


def test_an_engine_down_at_the_start_is_an_error_not_a_silent_follow():
    stack = ScriptedStack(outage=1)
    stack.down.set()
    with pytest.raises(Exception, match="not reachable"):
        LogFollower(stack, lambda _b: None).start()
