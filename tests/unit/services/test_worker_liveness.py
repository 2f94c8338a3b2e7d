"""The worker's /livez: it fails when the job loop hangs, not only when HTTP dies."""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from peripheral_worker import config, main, metrics

FULL = {
    "DB_HOST": "db",
    "DB_PORT": "5432",
    "DB_USER": "app",
    "DB_PASSWORD": "pw-value-123",
    "POSTGRES_DB": "peripheral",
    "REDIS_HOST": "cache",
    "REDIS_PORT": "6379",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture
def served() -> Iterator[tuple[metrics.Heartbeat, Clock, int]]:
    clock = Clock()
    heartbeat = metrics.Heartbeat(stall_seconds=60, clock=clock)
    server = metrics.serve(0, heartbeat, host="127.0.0.1")
    try:
        yield heartbeat, clock, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_livez_is_ok_while_the_loop_beats(served) -> None:
    _, clock, port = served
    clock.now += 59
    status, body = _get(port, "/livez")
    assert status == 200
    assert json.loads(body)["status"] == "ok"


def test_livez_fails_once_the_loop_has_not_come_round_for_the_stall_limit(served) -> None:
    heartbeat, clock, port = served
    clock.now += 61
    status, body = _get(port, "/livez")
    assert status == 503
    expected = {"status": "stalled", "seconds_since_loop": 61.0, "stall_seconds": 60}
    assert json.loads(body) == expected
    heartbeat.beat()
    assert _get(port, "/livez")[0] == 200


def test_metrics_stay_served_on_the_same_port(served) -> None:
    _, _, port = served
    status, body = _get(port, "/metrics")
    assert status == 200
    assert b"worker_jobs_processed_total" in body


class HangingQueue:
    """A queue whose read blocks until released: a wedged Redis call."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def reclaim(self) -> list:
        return []

    def read(self, _block_ms: int) -> list:
        self.entered.set()
        self.release.wait(10)
        return []


def test_a_job_loop_hung_in_a_call_turns_livez_503(served, monkeypatch: pytest.MonkeyPatch) -> None:
    heartbeat, clock, port = served
    queue = HangingQueue()
    worker = main.Worker(config.load(FULL), logging.getLogger("test"), heartbeat)
    monkeypatch.setattr(worker, "_connect", lambda: (queue, None))
    monkeypatch.setattr(worker, "_reset", lambda: None)
    stop = threading.Event()
    loop = threading.Thread(target=worker.loop, args=(stop,), daemon=True)
    loop.start()
    try:
        assert queue.entered.wait(5)
        clock.now += 61  # the loop sits inside read() for longer than the limit
        assert _get(port, "/livez")[0] == 503
    finally:
        stop.set()
        queue.release.set()
        loop.join(10)
    assert not loop.is_alive()
