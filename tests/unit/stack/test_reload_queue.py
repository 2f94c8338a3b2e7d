"""A service's pending changes: merged into one reload, bursts settle first."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from periph_env.stack.reload.watcher import BURST_FILES, _ServiceQueue


def test_changes_queued_during_a_reload_merge_into_one_with_the_earliest_seen_time():
    queue = _ServiceQueue()
    queue.add({Path("/a")}, 10.0)
    queue.add({Path("/b")}, 9.5)
    paths, seen = queue.take(threading.Event())
    assert paths == {Path("/a"), Path("/b")} and seen == 9.5


def test_a_burst_is_taken_only_once_it_stops_growing():
    queue = _ServiceQueue()
    stop = threading.Event()
    queue.add({Path(f"/f{i}") for i in range(BURST_FILES)}, 1.0)

    def trickle() -> None:
        for i in range(3):
            time.sleep(0.1)
            queue.add({Path(f"/late{i}")}, 2.0)

    thread = threading.Thread(target=trickle)
    thread.start()
    paths, _seen = queue.take(stop)
    thread.join()
    assert len(paths) == BURST_FILES + 3


def test_take_returns_none_once_stopped():
    stop = threading.Event()
    stop.set()
    assert _ServiceQueue().take(stop) is None
